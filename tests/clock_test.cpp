// Clock: monotonic across wall-clock jumps and restarts.
#include <gtest/gtest.h>

#include "core/clock.hpp"

namespace fieldsync {
namespace {

struct FakeWall {
  std::int64_t millis = 1'700'000'000'000;
  Clock::WallClock fn() {
    return [this] { return millis; };
  }
};

TEST(Clock, FollowsWallTimeWhenItMovesForward) {
  FakeWall wall;
  Clock clock(0, wall.fn());
  const Hlc a = clock.now();
  EXPECT_EQ(hlc_millis(a), 1'700'000'000'000u);
  EXPECT_EQ(hlc_counter(a), 0);
  wall.millis += 5;
  const Hlc b = clock.now();
  EXPECT_EQ(hlc_millis(b), 1'700'000'000'005u);
  EXPECT_EQ(hlc_counter(b), 0);
}

TEST(Clock, CountsWithinOneMillisecond) {
  FakeWall wall;
  Clock clock(0, wall.fn());
  Hlc previous = clock.now();
  for (int i = 0; i < 1000; ++i) {
    const Hlc next = clock.now();
    ASSERT_GT(next, previous);
    previous = next;
  }
  EXPECT_EQ(hlc_millis(previous), 1'700'000'000'000u);
  EXPECT_EQ(hlc_counter(previous), 1000);
}

TEST(Clock, NeverGoesBackwardsWhenTheWallClockIsSetBack) {
  FakeWall wall;
  Clock clock(0, wall.fn());
  const Hlc before = clock.now();
  wall.millis -= 86'400'000;  // someone set the laptop a day back
  const Hlc after = clock.now();
  EXPECT_GT(after, before);
  EXPECT_EQ(hlc_millis(after), hlc_millis(before));
}

TEST(Clock, CounterOverflowBorrowsTheNextMillisecond) {
  FakeWall wall;
  Clock clock(make_hlc(1'700'000'000'000, 0xffff), wall.fn());
  const Hlc next = clock.now();
  EXPECT_EQ(next, make_hlc(1'700'000'000'001, 0));
}

TEST(Clock, RestartsFromThePersistedValue) {
  FakeWall wall;
  const Hlc persisted = make_hlc(1'800'000'000'000, 7);  // written when the wall clock was ahead
  Clock restarted(persisted, wall.fn());
  EXPECT_GT(restarted.now(), persisted);
}

TEST(Clock, ObserveMovesPastRemoteTimestamps) {
  FakeWall wall;
  Clock clock(0, wall.fn());
  const Hlc remote = make_hlc(1'700'000'100'000, 3);
  clock.observe(remote);
  EXPECT_EQ(clock.last(), remote);
  EXPECT_GT(clock.now(), remote);
  clock.observe(make_hlc(1, 0));  // an old value changes nothing
  EXPECT_GT(clock.last(), remote);
}

TEST(Clock, OffsetShiftsPhysicalTime) {
  FakeWall wall;
  Clock clock(0, wall.fn());
  clock.set_offset_millis(-60'000);
  EXPECT_EQ(hlc_millis(clock.now()), 1'700'000'000'000u - 60'000u);
}

TEST(Hlc, FormatsAsUtcTime) {
  EXPECT_EQ(format_hlc_time(make_hlc(1'700'000'000'123, 9)), "2023-11-14T22:13:20.123Z");
}

}  // namespace
}  // namespace fieldsync
