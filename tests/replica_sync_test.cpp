// Sync between real replicas on SQLite files, without the network: laptops push their outbox to
// HQ and pull HQ's feed exactly as the sync protocol does. Covers conflicts, revival, office
// scoping, and the convergence property over random offline histories.
#include <gtest/gtest.h>

#include <random>

#include "core/change_check.hpp"
#include "core/error.hpp"
#include "core/plugin_host.hpp"
#include "core/record_json.hpp"
#include "core/replica.hpp"
#include "test_support.hpp"

namespace fieldsync {
namespace {

nlohmann::json activity(const std::string& title) {
  return {{"title", title},       {"priority_area", 8},          {"goal", "2.8.3"},
          {"kind", "workshop"},   {"status", "planned"},         {"start_date", "2018-03-08"},
          {"place", "Niamey"},    {"institutions", {"SESRIC"}},  {"participants", 40}};
}

// The sync exchange, page by page: push the outbox (HQ checks and stores, the laptop clears what
// was acknowledged), then pull HQ's feed from the laptop's cursor.
void sync(Replica& laptop, Replica& hq, std::size_t page_size = 3) {
  for (int round = 0; round < 1000; ++round) {
    OutboxPage page = laptop.outbox_page(page_size);
    if (page.changes.empty()) break;
    hq.apply_changes(page.changes, /*check=*/true);
    laptop.acknowledge(page.marks);
  }
  for (int round = 0; round < 1000; ++round) {
    FeedPage page = hq.feed_page(laptop.office(), laptop.pull_cursor(), page_size);
    laptop.apply_changes(page.changes, /*check=*/false, page.next_cursor);
    if (!page.more) break;
  }
}

// Everything a replica holds of `office`'s records, in a canonical form.
nlohmann::json holdings_json(Replica& replica, const std::string& office) {
  ListFilter all;
  all.include_deleted = true;
  all.where = {{"office", office}};
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& record : replica.list(all)) {
    nlohmann::json states = nlohmann::json::object();
    for (const auto& [field, state] : record.state) states[field] = field_state_to_json(state);
    by_id[record.id] = {{"fields", record.fields}, {"deleted", record.deleted}, {"states", states}, {"type", record.type}};
  }
  return nlohmann::json(by_id);
}

std::string holdings(Replica& replica, const std::string& office) { return holdings_json(replica, office).dump(); }

// Empty when both replicas hold the same; else the first record that differs, both ways.
std::string first_difference(Replica& a, Replica& b, const std::string& office) {
  const nlohmann::json left = holdings_json(a, office);
  const nlohmann::json right = holdings_json(b, office);
  for (const auto& [id, record] : left.items()) {
    if (!right.contains(id)) return id + " only in " + a.replica_id() + ": " + record.dump();
    if (right[id] != record) return id + " differs:\n  " + record.dump() + "\n  " + right[id].dump();
  }
  for (const auto& [id, record] : right.items()) {
    if (!left.contains(id)) return id + " only in " + b.replica_id() + ": " + record.dump();
  }
  return "";
}

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override { host_.load_directory(FIELDSYNC_TEST_PLUGIN_DIR); }
  Replica& make(const std::string& name, const std::string& office) {
    const auto home = dir_.path() / name;
    Replica::create(home, office);
    replicas_.push_back(std::make_unique<Replica>(home, host_));
    replicas_.back()->set_author(name);
    return *replicas_.back();
  }

  TempDir dir_;
  PluginHost host_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

TEST_F(SyncTest, ConcurrentStatusEditsBecomeAConflictThatAResolutionCloses) {
  Replica& hq = make("hq", "HQ");
  Replica& laptop1 = make("ner1", "NER");
  Replica& laptop2 = make("ner2", "NER");
  const std::string id = laptop1.add("activity", activity("ورشة عمل حول المياه")).id;
  sync(laptop1, hq);
  sync(laptop2, hq);
  ASSERT_TRUE(laptop2.find(id));

  laptop1.edit(id, {{"status", "implemented"}});  // both offline, same field
  laptop2.edit(id, {{"status", "cancelled"}, {"participants", 12}});
  sync(laptop1, hq);
  sync(laptop2, hq);
  sync(laptop1, hq);

  for (Replica* r : {&hq, &laptop1, &laptop2}) {
    const auto conflicts = r->conflicts();
    ASSERT_EQ(conflicts.size(), 1u) << r->replica_id();
    EXPECT_EQ(conflicts[0].field, "status");
    EXPECT_EQ(conflicts[0].others.size(), 1u);
    EXPECT_EQ(r->get(id).fields["participants"], 12) << "other fields merge without conflict";
  }
  EXPECT_EQ(holdings(laptop1, "NER"), holdings(laptop2, "NER"));
  EXPECT_EQ(holdings(hq, "NER"), holdings(laptop1, "NER"));

  laptop1.resolve_conflict(id, "status", "implemented");
  sync(laptop1, hq);
  sync(laptop2, hq);
  for (Replica* r : {&hq, &laptop1, &laptop2}) {
    EXPECT_TRUE(r->conflicts().empty());
    EXPECT_EQ(r->get(id).fields["status"], "implemented");
  }
  // A plain correction after the sync is no conflict.
  laptop2.edit(id, {{"status", "ongoing"}});
  sync(laptop2, hq);
  sync(laptop1, hq);
  EXPECT_TRUE(laptop1.conflicts().empty());
  EXPECT_EQ(laptop1.get(id).fields["status"], "ongoing");
}

// One import file read on two laptops of an office: its lines name their ids, so both create the
// same records, each with its own creation version. Neither laptop is held back: every replica
// keeps the earlier creation, both laptops' writes merge, and a later edit goes through.
TEST_F(SyncTest, TheSameRecordImportedOnTwoLaptopsMergesInsteadOfBlockingTheSync) {
  Replica& hq = make("hq", "HQ");
  Replica& laptop1 = make("ner1", "NER");
  Replica& laptop2 = make("ner2", "NER");
  const std::string id = "a829b9e7-e0ad-5ee3-b57e-239f59d886d8";
  auto import_line = [&](Replica& laptop, const std::string& place) {
    nlohmann::json fields = activity("اجتماع استثنائي للجنة التنفيذية");
    fields["place"] = place;
    std::vector<NewRecord> batch(1);
    batch[0].id = id;
    batch[0].type = "activity";
    batch[0].fields = fields;
    const auto results = laptop.add_batch(std::move(batch));
    ASSERT_EQ(results.at(0).outcome, AddOutcome::added);
  };
  import_line(laptop1, "Niamey");
  import_line(laptop2, "Zinder");  // the second laptop's copy says another place
  const Record first = laptop1.get(id);
  const Record second = laptop2.get(id);
  const bool first_is_earlier = FieldVersion{first.created, first.creator} < FieldVersion{second.created, second.creator};
  const Record& earlier = first_is_earlier ? first : second;

  sync(laptop2, hq);
  EXPECT_NO_THROW(sync(laptop1, hq));  // the creation HQ already holds from laptop2 is no refusal
  sync(laptop2, hq);
  for (Replica* r : {&hq, &laptop1, &laptop2}) {
    const Record record = r->get(id);
    EXPECT_EQ(record.created, earlier.created) << r->replica_id();
    EXPECT_EQ(record.creator, earlier.creator) << r->replica_id();
    EXPECT_EQ(record.state.at("place").heads.size(), 2u) << "both creations' writes are kept";
  }
  EXPECT_EQ(first_difference(laptop1, laptop2, "NER"), "");
  EXPECT_EQ(first_difference(hq, laptop1, "NER"), "");

  // An edit after the merge replaces both creations' writes, and every replica shows it.
  laptop2.edit(id, {{"place", "Niamey"}, {"participants", 55}});
  sync(laptop2, hq);
  sync(laptop1, hq);
  for (Replica* r : {&hq, &laptop1, &laptop2}) {
    EXPECT_EQ(r->get(id).fields["place"], "Niamey");
    EXPECT_EQ(r->get(id).fields["participants"], 55);
    EXPECT_EQ(r->get(id).state.at("place").heads.size(), 1u);
  }
  EXPECT_EQ(first_difference(laptop1, laptop2, "NER"), "");
  EXPECT_EQ(first_difference(hq, laptop2, "NER"), "");
}

// The same id made on laptops of two offices is still refused: a record belongs to one office.
TEST_F(SyncTest, TheSameIdFromAnotherOfficeIsStillRefused) {
  Replica& hq = make("hq", "HQ");
  Replica& ner = make("ner1", "NER");
  Replica& afg = make("afg1", "AFG");
  const std::string id = "a829b9e7-e0ad-5ee3-b57e-239f59d886d8";
  for (Replica* laptop : {&ner, &afg}) {
    std::vector<NewRecord> batch(1);
    batch[0].id = id;
    batch[0].type = "activity";
    batch[0].fields = activity("Atelier régional");
    laptop->add_batch(std::move(batch));
  }
  sync(ner, hq);
  EXPECT_THROW(sync(afg, hq), Error);
  EXPECT_EQ(hq.get(id).office, "NER");
}

TEST_F(SyncTest, SetsUnionAndAnEditNewerThanADeleteRevivesTheRecord) {
  Replica& hq = make("hq", "HQ");
  Replica& laptop1 = make("ner1", "NER");
  Replica& laptop2 = make("ner2", "NER");
  const std::string id = laptop1.add("activity", activity("Atelier")).id;
  sync(laptop1, hq);
  sync(laptop2, hq);
  laptop1.edit(id, {{"institutions", {"SESRIC", "IDB"}}});
  laptop2.edit(id, {{"institutions", {"SESRIC", "ISESCO"}}});
  sync(laptop1, hq);
  sync(laptop2, hq);
  sync(laptop1, hq);
  EXPECT_EQ(laptop1.get(id).fields["institutions"], nlohmann::json({"IDB", "ISESCO", "SESRIC"}));
  EXPECT_EQ(holdings(laptop1, "NER"), holdings(laptop2, "NER"));

  laptop1.remove(id);
  laptop2.clock().observe(laptop1.clock().last());  // the edit is made later…
  laptop2.edit(id, {{"participants", 55}});        // …without having seen the delete
  sync(laptop1, hq);
  sync(laptop2, hq);
  sync(laptop1, hq);
  for (Replica* r : {&hq, &laptop1, &laptop2}) {
    const Record record = r->get(id);
    EXPECT_FALSE(record.deleted) << "revived by the newer edit";
    const auto conflicts = r->conflicts();
    ASSERT_EQ(conflicts.size(), 1u);
    EXPECT_EQ(conflicts[0].field, kDeletedField);
  }
  laptop1.resolve_conflict(id, kDeletedField, true);  // delete it after all
  sync(laptop1, hq);
  sync(laptop2, hq);
  EXPECT_TRUE(laptop2.get(id).deleted);
  EXPECT_TRUE(laptop2.conflicts().empty());
}

TEST_F(SyncTest, AnOfficePullsItsOwnRecordsAndHqsButNoOtherOffices) {
  Replica& hq = make("hq", "HQ");
  Replica& niger = make("ner", "NER");
  Replica& afghanistan = make("afg", "AFG");
  const std::string shared = hq.add("activity", activity("Reference: OIC programme")).id;
  const std::string nigers = niger.add("activity", activity("Atelier à Niamey")).id;
  sync(niger, hq);
  sync(afghanistan, hq);
  EXPECT_TRUE(afghanistan.find(shared));
  EXPECT_FALSE(afghanistan.find(nigers));
  EXPECT_TRUE(niger.find(shared));
  EXPECT_TRUE(hq.find(nigers));
  EXPECT_THROW(niger.edit(shared, {{"participants", 1}}), Error) << "HQ's records are read-only in the field";
}

TEST_F(SyncTest, HqRefusesAChangeThatBreaksTheSchemaAndStoresNothing) {
  Replica& hq = make("hq", "HQ");
  Replica& laptop = make("ner", "NER");
  laptop.add("activity", activity("Atelier"));
  OutboxPage page = laptop.outbox_page(10);
  page.changes[0].fields["priority_area"] =
      initial_state(FieldWrite{FieldVersion{page.changes[0].created.hlc, laptop.replica_id()}, 42, "x"});
  const std::string before = snapshot_store(dir_.path() / "hq" / Replica::kStoreFile);
  EXPECT_THROW(hq.apply_changes(page.changes, true), Error);
  EXPECT_EQ(snapshot_store(dir_.path() / "hq" / Replica::kStoreFile), before);
}

TEST_F(SyncTest, ApplyingTheSamePageTwiceChangesNothing) {
  Replica& hq = make("hq", "HQ");
  Replica& laptop = make("ner", "NER");
  const std::string id = laptop.add("activity", activity("Atelier")).id;
  laptop.edit(id, {{"participants", 41}});
  const OutboxPage page = laptop.outbox_page(10);
  hq.apply_changes(page.changes, true);
  const std::string once = holdings(hq, "NER");
  const ApplySummary again = hq.apply_changes(page.changes, true);
  EXPECT_EQ(again.records_changed + again.records_added, 0u);
  EXPECT_EQ(holdings(hq, "NER"), once);
  EXPECT_EQ(hq.history(id).size(), 1u) << "nothing to record twice";
}

// ---- the convergence property, on real replicas ----

TEST_F(SyncTest, RandomOfflineHistoriesConvergeByteForByte) {
  constexpr int kCases = 40;
  for (int seed = 0; seed < kCases; ++seed) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 rng(static_cast<std::uint64_t>(seed));
    TempDir dir;
    std::vector<std::unique_ptr<Replica>> replicas;
    auto make_in = [&](const std::string& name, const std::string& office) -> Replica& {
      Replica::create(dir.path() / name, office);
      replicas.push_back(std::make_unique<Replica>(dir.path() / name, host_));
      return *replicas.back();
    };
    Replica& hq = make_in("hq", "HQ");
    std::vector<Replica*> laptops = {&make_in("a", "NER"), &make_in("b", "NER"), &make_in("c", "NER")};
    std::vector<std::string> ids;
    std::vector<OutboxPage> sent;  // old pages, delivered again at random
    const std::vector<std::string> statuses = {"planned", "ongoing", "implemented", "cancelled"};
    const std::vector<std::string> institutions = {"SESRIC", "ISESCO", "IDB", "UNICEF"};

    for (int step = 0; step < 60; ++step) {
      Replica& laptop = *laptops[rng() % laptops.size()];
      const int action = static_cast<int>(rng() % 10);
      try {
        if (action == 0 || ids.empty()) {
          ids.push_back(laptop.add("activity", activity("نشاط " + std::to_string(step))).id);
        } else if (action <= 5) {
          const std::string& id = ids[rng() % ids.size()];
          if (!laptop.find(id)) continue;
          nlohmann::json patch;
          switch (rng() % 4) {
            case 0: patch["status"] = statuses[rng() % statuses.size()]; break;
            case 1: patch["participants"] = static_cast<int>(rng() % 90); break;
            case 2: patch["institutions"] = {institutions[rng() % 4], institutions[rng() % 4]}; break;
            default: patch["place"] = rng() % 2 ? nlohmann::json("Agadez") : nlohmann::json(nullptr); break;
          }
          laptop.edit(id, patch);
        } else if (action == 6) {
          const std::string& id = ids[rng() % ids.size()];
          if (laptop.find(id)) laptop.remove(id);
        } else if (action == 7 && !sent.empty()) {
          hq.apply_changes(sent[rng() % sent.size()].changes, true);  // a duplicate delivery
        } else {
          OutboxPage page = laptop.outbox_page(1 + rng() % 3);
          if (!page.changes.empty()) {
            hq.apply_changes(page.changes, true);
            if (rng() % 4 != 0) laptop.acknowledge(page.marks);  // else: the ack was lost
            sent.push_back(std::move(page));
          }
          FeedPage pulled = hq.feed_page("NER", laptop.pull_cursor(), 1 + rng() % 3);
          laptop.apply_changes(pulled.changes, false, pulled.next_cursor);
        }
        // No replica ever holds half a record (a record without the fields it was created with).
        for (Replica* l : laptops) {
          ListFilter all;
          all.include_deleted = true;
          for (const auto& r : l->list(all)) {
            if (!r.state.count("title")) {
              ADD_FAILURE() << "step " << step << ": replica " << l->replica_id() << " holds half of record " << r.id;
              return;
            }
          }
        }
      } catch (const Error& e) {
        // Editing a record this laptop has seen deleted is refused: that is fine here.
        ASSERT_EQ(e.code(), Errc::invalid_input) << e.describe();
      }
    }
    for (int round = 0; round < 3; ++round) {
      for (Replica* laptop : laptops) sync(*laptop, hq, 2);
    }
    for (Replica* laptop : laptops) ASSERT_EQ(first_difference(*laptop, hq, "NER"), "");
    for (Replica* laptop : laptops) EXPECT_EQ(laptop->status().pending_records, 0);
  }
}

// ---- what a change carries is checked before anything is touched (issue 10) ----

constexpr std::int64_t kDay = 86'400'000;
constexpr const char* kOtherReplica = "0123456789abcdef";

Hlc at_millis(std::int64_t ms) { return make_hlc(static_cast<std::uint64_t>(ms), 0); }

// A laptop's one new record, as its outbox sends it.
RecordChange one_change(Replica& laptop, const std::string& title = "Atelier") {
  laptop.add("activity", activity(title));
  OutboxPage page = laptop.outbox_page(10);
  return page.changes.back();
}

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

// Two officers, each offline, each make a valid edit of one activity: one moves its start to the
// 10th, the other its end to the 9th. Merged, the end is before the start. Neither laptop is
// refused (the second one's every later page would wait behind it); every replica lists the
// broken rule as a conflict, and settling it with a valid value closes it everywhere.
TEST_F(SyncTest, ValidEditsThatTogetherBreakARuleBecomeAConflictNotARefusal) {
  Replica& hq = make("hq", "HQ");
  Replica& laptop1 = make("ner1", "NER");
  Replica& laptop2 = make("ner2", "NER");
  nlohmann::json fields = activity("ورشة عمل حول المياه");
  fields["end_date"] = "2018-03-10";
  const std::string id = laptop1.add("activity", fields).id;
  sync(laptop1, hq);
  sync(laptop2, hq);

  laptop1.edit(id, {{"start_date", "2018-03-10"}});  // 10th to 10th: valid
  laptop2.edit(id, {{"end_date", "2018-03-09"}});    // 8th to 9th: valid
  sync(laptop1, hq);
  ASSERT_NO_THROW(sync(laptop2, hq));
  sync(laptop1, hq);
  for (Replica* r : {&hq, &laptop1, &laptop2}) {
    const auto conflicts = r->conflicts();
    ASSERT_EQ(conflicts.size(), 1u) << r->replica_id();
    EXPECT_EQ(conflicts[0].field, "end_date");
    EXPECT_NE(conflicts[0].broken_rule.find("start_date"), std::string::npos) << conflicts[0].broken_rule;
    EXPECT_EQ(conflicts[0].shown.value, "2018-03-09");
    EXPECT_EQ(r->get(id).fields["start_date"], "2018-03-10");
  }
  EXPECT_EQ(first_difference(laptop1, laptop2, "NER"), "");
  EXPECT_EQ(first_difference(hq, laptop1, "NER"), "");

  // A value that still breaks the rule does not settle it; a valid one does, on every replica.
  EXPECT_THROW(laptop2.resolve_conflict(id, "end_date", "2018-03-01"), Error);
  laptop2.resolve_conflict(id, "end_date", "2018-03-12");
  sync(laptop2, hq);
  sync(laptop1, hq);
  for (Replica* r : {&hq, &laptop1, &laptop2}) {
    EXPECT_TRUE(r->conflicts().empty()) << r->replica_id();
    EXPECT_EQ(r->get(id).fields["end_date"], "2018-03-12");
  }
}

// What one replica alone wrote is its own to keep valid: an edit of its own record that breaks a
// rule between fields is refused at HQ, and nothing is stored.
TEST_F(SyncTest, HqRefusesARecordOneReplicaAloneMadeBreakARule) {
  Replica& hq = make("hq", "HQ");
  Replica& laptop = make("ner", "NER");
  const RecordChange good = one_change(laptop);  // starts on 2018-03-08
  hq.apply_changes({good}, true);
  const auto hq_file = dir_.path() / "hq" / Replica::kStoreFile;
  const std::string before = snapshot_store(hq_file);
  RecordChange edit;
  edit.id = good.id;
  edit.type = good.type;
  edit.office = good.office;
  edit.schema_version = good.schema_version;
  edit.created = good.created;
  edit.created_by = good.created_by;
  edit.fields["end_date"] = initial_state(FieldWrite{FieldVersion{good.created.hlc + 1, laptop.replica_id()}, "2018-03-01", "x"});
  try {
    hq.apply_changes({edit}, true);
    ADD_FAILURE() << "stored";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::validation);
    ASSERT_FALSE(e.issues().empty());
    EXPECT_EQ(e.issues()[0].field, "end_date");
  }
  EXPECT_EQ(snapshot_store(hq_file), before);
}

// HQ checks a page's new records before its store lock, on two threads: it vouches for valid
// records as created, and for nothing else, which apply() then checks itself.
TEST_F(SyncTest, CheckAsNewVouchesForValidNewRecordsOnly) {
  Replica& hq = make("hq", "HQ");
  Replica& laptop = make("ner", "NER");
  for (int i = 0; i < 300; ++i) laptop.add("activity", activity("Atelier n° " + std::to_string(i)));
  std::vector<RecordChange> page = laptop.outbox_page(1000).changes;
  ASSERT_EQ(page.size(), 300u);
  RecordChange invalid = page[10];
  invalid.fields["priority_area"].heads[0].value = 42;
  RecordChange edited = page[20];
  edited.fields["title"].heads.push_back(
      FieldWrite{FieldVersion{edited.created.hlc + 1, kOtherReplica}, "Atelier modifié", "x"});
  RecordChange unknown_type = page[30];
  unknown_type.type = "displacement";
  page[10] = invalid;
  page[20] = edited;
  page[30] = unknown_type;
  const std::vector<bool> vouched = hq.check_as_new(page, 2);
  ASSERT_EQ(vouched.size(), page.size());
  for (std::size_t i = 0; i < page.size(); ++i) EXPECT_EQ(vouched[i], i != 10 && i != 20 && i != 30) << i;

  // The invalid record is refused even when the page comes with the vouchers.
  Replica::ApplyOptions options;
  options.check = true;
  options.checked_as_new = vouched;
  EXPECT_THROW(hq.apply(page, options), Error);
  page.erase(page.begin() + 30);
  page.erase(page.begin() + 10);
  options.checked_as_new = hq.check_as_new(page, 2);
  EXPECT_EQ(hq.apply(page, options).records_added, page.size());
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
