// Clock: the replica's hybrid logical clock.
//
// now() returns a value strictly greater than every value it returned or observed before, and
// close to wall time when the wall clock is sane. The Replica persists last() in the same
// transaction as every write stamped with it, and starts the clock from the persisted value, so
// versions never go backwards across restarts even if the laptop's clock is set back.
//
// The wall clock is injectable for tests. The offset (to a reference such as HQ's clock) is added
// to the wall clock reading; the sync layer sets it from the time HQ sends.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "core/hlc.hpp"

namespace fieldsync {

class Clock {
 public:
  using WallClock = std::function<std::int64_t()>;  // milliseconds since the Unix epoch

  explicit Clock(Hlc last = 0, WallClock wall = system_millis);

  // A fresh timestamp for a local write.
  Hlc now();
  // Moves the clock past a timestamp seen on a change from another replica.
  void observe(Hlc seen);
  // The greatest value handed out or observed: what must be persisted.
  Hlc last() const { return last_; }

  void set_offset_millis(std::int64_t offset) { offset_ = offset; }
  std::int64_t offset_millis() const { return offset_; }

  // The wall clock's own reading, without the offset.
  std::int64_t wall_millis() const { return wall_(); }
  // Replaces the wall clock (tests play a laptop whose clock is wrong with it).
  void set_wall(WallClock wall) { wall_ = std::move(wall); }
  // Restarts the clock at `last`, even backwards. Only for a replica re-stamping versions nobody
  // else has seen (Replica::restamp_unsent).
  void restart_at(Hlc last) { last_ = last; }

  static std::int64_t system_millis();

 private:
  std::uint64_t physical_millis() const;

  Hlc last_;
  WallClock wall_;
  std::int64_t offset_ = 0;
};

// "2026-12-04T18:30:00Z": a time in whole seconds since the Unix epoch, in UTC, as files and
// listings write it.
std::string format_utc_seconds(std::int64_t unix_seconds);

}  // namespace fieldsync
