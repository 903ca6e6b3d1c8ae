// The merge: policies on hand-made cases, then the convergence property on thousands of seeded
// random histories delivered to several replicas in random orders, with duplicates.
#include <gtest/gtest.h>

#include <random>

#include "core/merge.hpp"

namespace fieldsync {
namespace {

FieldWrite write(Hlc hlc, const std::string& replica, nlohmann::json value) {
  return FieldWrite{FieldVersion{hlc, replica}, std::move(value), "tester"};
}

TEST(Merge, ALaterWriteReplacesTheOneItSaw) {
  FieldState a = initial_state(write(10, "A", "planned"));
  FieldState b = write_over(a, write(20, "B", "implemented"));
  FieldState merged = a;
  EXPECT_TRUE(merge_field(merged, b));
  EXPECT_EQ(merged, b);
  EXPECT_EQ(resolved_value(merged, MergePolicy::review), "implemented");
  EXPECT_FALSE(has_conflict(merged, MergePolicy::review)) << "a correction after a sync is no conflict";
  EXPECT_FALSE(merge_field(merged, a)) << "the old write arriving again changes nothing";
  EXPECT_FALSE(merge_field(merged, b)) << "nor does a duplicate";
}

TEST(Merge, ConcurrentWritesFollowThePolicy) {
  const FieldState base = initial_state(write(10, "HQ", nlohmann::json{"SESRIC"}));
  const FieldState a = write_over(base, write(20, "NER", nlohmann::json{"IDB", "SESRIC"}));
  const FieldState b = write_over(base, write(30, "AFG", nlohmann::json{"ISESCO"}));
  FieldState ab = a;
  merge_field(ab, b);
  FieldState ba = b;
  merge_field(ba, a);
  EXPECT_EQ(ab, ba);
  EXPECT_EQ(ab.heads.size(), 2u);
  EXPECT_EQ(resolved_value(ab, MergePolicy::union_set), nlohmann::json({"IDB", "ISESCO", "SESRIC"}));
  EXPECT_EQ(resolved_value(ab, MergePolicy::lww), nlohmann::json({"ISESCO"})) << "the later write";
  EXPECT_TRUE(has_conflict(ab, MergePolicy::review));
  EXPECT_FALSE(has_conflict(ab, MergePolicy::lww));

  // Whoever writes next, having seen both, resolves the conflict everywhere.
  const FieldState resolved = write_over(ab, write(40, "NER", nlohmann::json{"IDB"}));
  FieldState late = b;
  merge_field(late, resolved);
  EXPECT_EQ(late.heads.size(), 1u);
  EXPECT_EQ(resolved_value(late, MergePolicy::union_set), nlohmann::json({"IDB"})) << "a removal after the merge holds";
  merge_field(late, a);  // the replaced concurrent write arriving late stays replaced
  EXPECT_EQ(late, resolved);
}

TEST(Merge, MaxAndMinTakeTheExtremeOfConcurrentValuesButACorrectionWins) {
  const FieldState base = initial_state(write(10, "HQ", 40));
  FieldState s = write_over(base, write(20, "NER", 55));
  merge_field(s, write_over(base, write(21, "AFG", 45)));
  EXPECT_EQ(resolved_value(s, MergePolicy::max), 55);
  EXPECT_EQ(resolved_value(s, MergePolicy::min), 45);
  s = write_over(s, write(30, "NER", 50));  // corrected downwards after seeing both
  EXPECT_EQ(resolved_value(s, MergePolicy::max), 50);
}

TEST(Merge, RemovedFieldsAreWritesToo) {
  FieldState s = initial_state(write(10, "A", "Niamey"));
  s = write_over(s, write(20, "A", nullptr));
  EXPECT_TRUE(resolved_value(s, MergePolicy::lww).is_null());
  EXPECT_TRUE(resolved_value(s, MergePolicy::union_set).is_null());
}

TEST(Merge, JsonRoundTripIsCanonicalAndChecked) {
  FieldState s = initial_state(write(10, "A", "x"));
  merge_field(s, write_over(initial_state(write(5, "B", "y")), write(12, "B", "z")));
  const nlohmann::json json = field_state_to_json(s);
  EXPECT_EQ(field_state_from_json(json, "f"), s);
  nlohmann::json shuffled = json;
  std::reverse(shuffled["h"].begin(), shuffled["h"].end());
  EXPECT_EQ(field_state_from_json(shuffled, "f"), s);
  EXPECT_THROW(field_state_from_json({{"h", nlohmann::json::array()}}, "f"), Error);
  EXPECT_THROW(field_state_from_json({{"h", {{1, "A", "x"}}}}, "f"), Error);
  EXPECT_THROW(field_state_from_json({{"h", {{-1, "A", "x", "a"}}}}, "f"), Error);
  EXPECT_THROW(field_state_from_json("nonsense", "f"), Error);
}

// ---- the convergence property ----

// A random history of writes by several replicas on one field: each replica writes over what it
// has seen, and replicas exchange states at random, so the writes form a real causal history
// with both sequential and concurrent writes.
struct History {
  std::vector<FieldState> messages;  // every state a replica ever sent
};

nlohmann::json random_value(std::mt19937_64& rng) {
  static const std::vector<std::string> words = {"SESRIC", "ISESCO", "IDB", "UNICEF", "OCHA", "فلسطين", "Niamey"};
  switch (rng() % 4) {
    case 0: return nullptr;
    case 1: return static_cast<int>(rng() % 100);
    case 2: return words[rng() % words.size()];
    default: {
      nlohmann::json set = nlohmann::json::array();
      for (int i = 0, n = static_cast<int>(rng() % 3); i < n; ++i) set.push_back(words[rng() % words.size()]);
      return set;
    }
  }
}

History make_history(std::mt19937_64& rng, int replicas, int steps) {
  History history;
  std::vector<FieldState> known(static_cast<std::size_t>(replicas));
  const std::vector<std::string> names = {"A", "B", "C", "D", "E"};
  known[0] = initial_state(write(1, "A", random_value(rng)));
  history.messages.push_back(known[0]);
  Hlc clock = 1;
  for (int step = 0; step < steps; ++step) {
    const auto r = static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(replicas));
    if (rng() % 3 == 0 || known[r].heads.empty()) {
      // Receive a random earlier message (possibly again).
      merge_field(known[r], history.messages[rng() % history.messages.size()]);
      if (known[r].heads.empty()) known[r] = history.messages.front();
    } else {
      clock += 1 + rng() % 3;
      known[r] = write_over(known[r], write(clock, names[r], random_value(rng)));
      history.messages.push_back(known[r]);
    }
  }
  return history;
}

TEST(MergeProperty, ReplicasThatReceivedTheSameWritesInAnyOrderHoldIdenticalStates) {
  constexpr int kCases = 3000;
  for (int seed = 0; seed < kCases; ++seed) {
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    const int replicas = 2 + static_cast<int>(rng() % 4);
    const History history = make_history(rng, replicas, 5 + static_cast<int>(rng() % 40));

    std::vector<nlohmann::json> results;
    for (int receiver = 0; receiver < 4; ++receiver) {
      // Every message, shuffled, a third of them twice.
      std::vector<const FieldState*> delivery;
      for (const auto& message : history.messages) {
        delivery.push_back(&message);
        if (rng() % 3 == 0) delivery.push_back(&message);
      }
      std::shuffle(delivery.begin(), delivery.end(), rng);
      FieldState state = *delivery.front();
      for (const FieldState* message : delivery) merge_field(state, *message);
      nlohmann::json seen = field_state_to_json(state);
      for (auto policy : {MergePolicy::lww, MergePolicy::union_set, MergePolicy::max, MergePolicy::min}) {
        seen["resolved"].push_back(resolved_value(state, policy));
      }
      results.push_back(std::move(seen));
    }
    for (std::size_t i = 1; i < results.size(); ++i) {
      ASSERT_EQ(results[i].dump(), results[0].dump()) << "seed " << seed << " diverged";
    }
  }
}

}  // namespace
}  // namespace fieldsync
