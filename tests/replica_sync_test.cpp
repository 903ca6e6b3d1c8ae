// Sync between real replicas on SQLite files, without the network: laptops push their outbox to
// HQ and pull HQ's feed exactly as the sync protocol does. Covers conflicts, revival, office
// scoping, and the convergence property over random offline histories.
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "core/error.hpp"
#include "core/merge.hpp"
#include "replica_holdings.hpp"
#include "replica_sync_fixture.hpp"

namespace fieldsync {
namespace {

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

// A new record as created is stored from its fields alone (record_as_created) when its values
// were checked before the store lock (HQ's check_as_new) or need no check (a pull): row for row
// what the general path stores, feed included. Records that are more than their creation — an
// edit, a delete, a set another implementation sent unsorted — take the general path on both.
TEST_F(SyncTest, ARecordAsCreatedIsStoredAsTheGeneralPathStoresIt) {
  Replica& laptop = make("ner", "NER");
  laptop.add("activity", activity("ورشة عمل حول التعليم"));
  laptop.add("activity", activity("Atelier régional à Zinder"));
  const std::string edited = laptop.add("activity", activity("Visite de terrain")).id;
  laptop.edit(edited, {{"participants", 41}, {"place", nullptr}});
  laptop.remove(laptop.add("activity", activity("Formation annulée")).id);
  std::vector<RecordChange> changes = laptop.outbox_page(100).changes;
  RecordChange unsorted = one_change(laptop, "Réunion");
  unsorted.id = "7a2b3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d";
  unsorted.fields["institutions"] = initial_state(FieldWrite{unsorted.created, {"SESRIC", "ISESCO"}, unsorted.created_by});
  changes.push_back(unsorted);
  ASSERT_EQ(changes.size(), 5u);

  Replica& general = make("hq-general", "HQ");
  Replica& quick = make("hq-quick", "HQ");
  Replica::ApplyOptions checked_here;
  checked_here.check = true;
  general.apply(changes, checked_here);
  Replica::ApplyOptions checked_before = checked_here;
  checked_before.checked_as_new.assign(changes.size(), true);
  checked_before.known_absent.assign(changes.size(), true);
  quick.apply(changes, checked_before);
  EXPECT_EQ(holdings(quick, "NER"), holdings(general, "NER"));
  EXPECT_EQ(record_rows(quick.home() / Replica::kStoreFile, {"NER"}), record_rows(general.home() / Replica::kStoreFile, {"NER"}));
  EXPECT_EQ(quick.get(unsorted.id).fields["institutions"], (nlohmann::json{"ISESCO", "SESRIC"}));
  // By id: the order of one page's rows in the feed is not part of what a pull promises.
  auto feed = [](Replica& hq) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& change : hq.feed_page("NER", 0, 100).changes) {
      nlohmann::json fields = nlohmann::json::object();
      for (const auto& [field, state] : change.fields) fields[field] = field_state_to_json(state);
      out[change.id] = fields;
    }
    return out;
  };
  EXPECT_EQ(feed(quick), feed(general));
  EXPECT_EQ(feed(quick).size(), changes.size());

  // A laptop pulling: nothing checked there, so the same path; the same rows as a push made.
  Replica& puller = make("ner-2", "NER");
  puller.apply_changes(changes, /*check=*/false, 7);
  EXPECT_EQ(holdings(puller, "NER"), holdings(general, "NER"));
  EXPECT_EQ(record_rows(puller.home() / Replica::kStoreFile, {"NER"}), record_rows(general.home() / Replica::kStoreFile, {"NER"}));
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
        } else if (action == 9 && rng() % 2 == 0) {
          // One import file read on several laptops: a record of a few known ids, created again
          // wherever it is not yet, with values that may differ (concurrent creations).
          static const std::vector<std::string> kImportedIds = {"a829b9e7-e0ad-5ee3-b57e-239f59d886d8",
                                                                "2091c30d-bf0a-5229-844b-78a1d29128dd"};
          std::vector<NewRecord> batch(1);
          batch[0].id = kImportedIds[rng() % kImportedIds.size()];
          batch[0].type = "activity";
          batch[0].fields = activity("ورشة مستوردة");
          batch[0].fields["participants"] = static_cast<int>(rng() % 90);
          const std::string id = *batch[0].id;
          if (laptop.add_batch(std::move(batch)).at(0).outcome == AddOutcome::added &&
              std::find(ids.begin(), ids.end(), id) == ids.end()) {
            ids.push_back(id);
          }
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

}  // namespace
}  // namespace fieldsync
