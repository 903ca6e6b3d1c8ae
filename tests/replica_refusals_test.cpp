// What a change carries is checked before anything is touched: versions out of bounds anywhere,
// a pulled page dated ahead of HQ, a value no field may hold, one version given two values. Each
// refused whole, with the store and the clock left as they were.
#include <gtest/gtest.h>

#include "core/change_check.hpp"
#include "core/error.hpp"
#include "replica_sync_fixture.hpp"

namespace fieldsync {
namespace {

constexpr std::int64_t kDay = 86'400'000;

Hlc at_millis(std::int64_t ms) { return make_hlc(static_cast<std::uint64_t>(ms), 0); }

// Every way a version can be out of bounds, at every place a change carries one.
std::vector<std::pair<std::string, RecordChange>> bad_versions(const RecordChange& good) {
  const std::int64_t now = Clock::system_millis();
  std::vector<std::pair<std::string, RecordChange>> out;
  auto add = [&](const std::string& name, auto&& tamper) {
    RecordChange change = good;
    tamper(change);
    out.emplace_back(name, std::move(change));
  };
  add("creation 30 years ahead", [&](RecordChange& c) { c.created.hlc = at_millis(now + 30 * 365 * kDay); });
  add("creation 2^63-1", [&](RecordChange& c) { c.created.hlc = kMaxStoredHlc; });
  add("creation 0", [&](RecordChange& c) { c.created.hlc = 0; });
  add("creation in 2001", [&](RecordChange& c) { c.created.hlc = at_millis(1'000'000'000'000); });
  add("creation by no replica", [&](RecordChange& c) { c.created.replica = "../../etc"; });
  add("a replaced version far ahead", [&](RecordChange& c) {
    c.fields["title"].replaced.push_back(FieldVersion{at_millis(now + 3650 * kDay), kOtherReplica});
  });
  add("a tombstone far ahead", [&](RecordChange& c) {
    c.fields[kDeletedField] = initial_state(FieldWrite{FieldVersion{at_millis(now + 3650 * kDay), kOtherReplica}, true, "x"});
  });
  add("a head at 2^64-1", [&](RecordChange& c) { c.fields["place"].heads[0].version.hlc = ~Hlc{0}; });
  add("a head at 2^63 (negative in SQLite)", [&](RecordChange& c) { c.fields["place"].heads[0].version.hlc = kMaxStoredHlc + 1; });
  add("a head an hour ahead", [&](RecordChange& c) { c.fields["place"].heads[0].version.hlc = at_millis(now + 3'600'000); });
  return out;
}

TEST_F(SyncTest, HqRefusesAVersionOutOfBoundsAnywhereAndItsClockStays) {
  Replica& hq = make("hq", "HQ");
  Replica& laptop = make("ner", "NER");
  const RecordChange good = one_change(laptop);
  const auto hq_file = dir_.path() / "hq" / Replica::kStoreFile;
  const Hlc clock_before = hq.clock().last();
  const std::string before = snapshot_store(hq_file);
  for (const auto& [name, change] : bad_versions(good)) {
    // With a good record beside it: the whole page is refused.
    EXPECT_THROW(hq.apply_changes({good, change}, /*check=*/true), Error) << name;
    EXPECT_EQ(snapshot_store(hq_file), before) << name;
    EXPECT_EQ(hq.clock().last(), clock_before) << name << ": HQ's clock moved";
  }
  // The next good page is stored, and what HQ writes next is dated now, not decades ahead.
  hq.apply_changes({good}, true);
  const Record own = hq.add("activity", activity("Siège"));
  EXPECT_NEAR(static_cast<double>(hlc_millis(own.created)), static_cast<double>(Clock::system_millis()), 60'000.0);
  EXPECT_LT(hq.clock().last(), newest_allowed_at(Clock::system_millis()));
}

TEST_F(SyncTest, ARefusedChangeLeavesTheClockWhereItWas) {
  // Versions within the margin, but a value that breaks the schema: refused after the versions
  // passed. The clock must not keep the versions of what was refused.
  Replica& hq = make("hq", "HQ");
  Replica& laptop = make("ner", "NER");
  RecordChange change = one_change(laptop);
  const Hlc soon = at_millis(Clock::system_millis() + 4 * 60'000);
  change.created.hlc = soon;
  change.fields["priority_area"] = initial_state(FieldWrite{FieldVersion{soon, laptop.replica_id()}, 42, "x"});
  const Hlc clock_before = hq.clock().last();
  EXPECT_THROW(hq.apply_changes({change}, true), Error);
  EXPECT_EQ(hq.clock().last(), clock_before);
  hq.apply_changes({one_change(laptop, "Autre")}, true);  // a good page persists the clock
  const Record own = hq.add("activity", activity("Siège"));
  EXPECT_LT(hlc_millis(own.created), static_cast<std::uint64_t>(Clock::system_millis() + 60'000))
      << "dated by the refused change";
}

TEST_F(SyncTest, ALaptopRefusesAPulledPageDatedAheadOfHqAndKeepsItsCursor) {
  Replica& hq = make("hq", "HQ");
  Replica& laptop = make("ner", "NER");
  Replica& other = make("ner2", "NER");
  const RecordChange good = one_change(other);
  const auto file = dir_.path() / "ner" / Replica::kStoreFile;
  const Hlc clock_before = laptop.clock().last();
  const std::string before = snapshot_store(file);
  const std::int64_t hq_time = Clock::system_millis();
  for (const auto& [name, change] : bad_versions(good)) {
    try {
      laptop.apply_changes({good, change}, /*check=*/false, 42, newest_allowed_at(hq_time));
      ADD_FAILURE() << name << ": applied";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::invalid_input) << name;
      EXPECT_NE(e.where().find(good.id), std::string::npos) << name << ": " << e.describe();
    }
    EXPECT_EQ(snapshot_store(file), before) << name;
    EXPECT_EQ(laptop.clock().last(), clock_before) << name;
    EXPECT_EQ(laptop.pull_cursor(), 0) << name;
  }
  // Ahead of HQ's time by more than the margin though not of this laptop's (wrong) clock.
  RecordChange from_hq_future = good;
  from_hq_future.fields["place"].heads[0].version.hlc = at_millis(hq_time + 10 * 60'000);
  EXPECT_THROW(laptop.apply_changes({from_hq_future}, false, 42, newest_allowed_at(hq_time)), Error);
  laptop.apply_changes({good}, false, 42, newest_allowed_at(hq_time));
  EXPECT_EQ(laptop.pull_cursor(), 42);
  (void)hq;
}

TEST_F(SyncTest, EveryValueAFieldStateHoldsIsChecked) {
  Replica& hq = make("hq", "HQ");
  Replica& laptop = make("ner", "NER");
  const RecordChange good = one_change(laptop);
  const auto hq_file = dir_.path() / "hq" / Replica::kStoreFile;
  const std::string before = snapshot_store(hq_file);
  // A losing concurrent write (older, another replica) with a status the schema does not know.
  RecordChange bogus = good;
  FieldState& status = bogus.fields["status"];
  status.heads.insert(status.heads.begin(),
                      FieldWrite{FieldVersion{good.created.hlc - 1, kOtherReplica}, "bogus-status", "mallory"});
  try {
    hq.apply_changes({bogus}, true);
    ADD_FAILURE() << "stored";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::validation);
    ASSERT_FALSE(e.issues().empty());
    EXPECT_EQ(e.issues()[0].field, "status");
    EXPECT_EQ(std::string(e.what()).find(" 0 rule"), std::string::npos) << e.what();
  }
  EXPECT_EQ(snapshot_store(hq_file), before);
  EXPECT_TRUE(hq.conflicts().empty());
  // A tombstone carries true or false, not a value: refused at HQ and on a laptop alike.
  RecordChange heavy = good;
  heavy.fields[kDeletedField] = initial_state(
      FieldWrite{FieldVersion{good.created.hlc + 1, laptop.replica_id()}, {{"blob", std::string(1024, 'x')}}, "x"});
  EXPECT_THROW(hq.apply_changes({heavy}, true), Error);
  EXPECT_EQ(snapshot_store(hq_file), before);
  Replica& other = make("ner2", "NER");
  EXPECT_THROW(other.apply_changes({heavy}, false), Error);
  EXPECT_FALSE(other.find(good.id));
  // The count in HQ's schema errors is the count of the rules listed: for a field's value, and
  // for a record whose fields are each valid but break a rule between them.
  RecordChange broken_value = good;
  broken_value.fields["priority_area"].heads[0].value = 42;
  RecordChange broken_record = good;
  broken_record.fields["end_date"] = initial_state(FieldWrite{good.created, "2018-03-01", "x"});  // before start_date
  for (const RecordChange& broken : {broken_value, broken_record}) {
    try {
      hq.apply_changes({broken}, true);
      ADD_FAILURE();
    } catch (const Error& e) {
      ASSERT_NE(e.issues().size(), 0u) << e.what();
      const std::string count = std::to_string(e.issues().size());
      EXPECT_NE(std::string(e.what()).find(" " + count + " rule"), std::string::npos) << e.what();
    }
  }
  EXPECT_EQ(snapshot_store(hq_file), before);
}

TEST_F(SyncTest, OneVersionNamesOneValue) {
  Replica& hq = make("hq", "HQ");
  Replica& laptop = make("ner", "NER");
  const std::string id = laptop.add("activity", activity("Atelier")).id;
  laptop.edit(id, {{"participants", 41}});
  const OutboxPage page = laptop.outbox_page(10);
  hq.apply_changes(page.changes, true);
  const auto hq_file = dir_.path() / "hq" / Replica::kStoreFile;
  const std::string stored = snapshot_store(hq_file);
  EXPECT_NO_THROW(hq.apply_changes(page.changes, true)) << "an identical re-send is fine";
  RecordChange other_value = page.changes[0];
  other_value.fields["participants"].heads[0].value = 9999;
  try {
    hq.apply_changes({other_value}, true);
    ADD_FAILURE() << "stored or dropped silently";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_input);
    EXPECT_NE(std::string(e.what()).find("participants"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(id), std::string::npos) << e.what();
  }
  EXPECT_EQ(snapshot_store(hq_file), stored);
  EXPECT_EQ(hq.get(id).fields["participants"], 41);
  // The same on the wire: one state naming one version twice, with two values.
  nlohmann::json state = field_state_to_json(page.changes[0].fields.at("participants"));
  nlohmann::json twice = state["h"][0];
  twice[2] = 9999;
  state["h"].push_back(twice);
  EXPECT_THROW(field_state_from_json(state, "participants"), Error);
}

}  // namespace
}  // namespace fieldsync
