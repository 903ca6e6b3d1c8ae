// Replica with the real activity plugin on a real SQLite file.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/plugin_host.hpp"
#include "core/replica.hpp"
#include "test_support.hpp"

namespace fieldsync {
namespace {

const std::string kArabicTitle = "ورشة عمل حول الأمن الغذائي";

nlohmann::json workshop() {
  return {{"title", kArabicTitle},
          {"description", "نظم سيسرك بالتعاون مع الإيسيسكو ورشة عمل إقليمية"},
          {"priority_area", 8},
          {"goal", "2.8.3"},
          {"kind", "workshop"},
          {"status", "implemented"},
          {"start_date", "2018-03-08"},
          {"end_date", "2018-03-10"},
          {"place", "Niamey"},
          {"institutions", {"SESRIC", "ISESCO"}},
          {"participants", 40},
          {"language", "ar"}};
}

class ReplicaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_.load_directory(FIELDSYNC_TEST_PLUGIN_DIR);
    ASSERT_NE(host_.find("activity"), nullptr) << "the activity plugin did not load";
    Replica::create(home(), "NER");
    replica_ = std::make_unique<Replica>(home(), host_);
  }
  std::filesystem::path home() const { return dir_.path() / "home"; }
  std::filesystem::path db() const { return home() / Replica::kStoreFile; }
  void reopen() {
    replica_.reset();
    replica_ = std::make_unique<Replica>(home(), host_);
  }

  TempDir dir_;
  PluginHost host_;
  std::unique_ptr<Replica> replica_;
};

TEST_F(ReplicaTest, AddStoresANormalizedRecordWithPerFieldVersionsHistoryAndOutbox) {
  nlohmann::json fields = workshop();
  fields["place"] = "  Niame\u0301y  ";  // untrimmed, decomposed é
  const Record record = replica_->add("activity", fields);
  EXPECT_EQ(record.office, "NER");
  EXPECT_EQ(record.type, "activity");
  EXPECT_EQ(record.id.size(), 36u);
  EXPECT_EQ(record.id[14], '7') << "new records get UUIDv7 ids";
  EXPECT_EQ(record.fields["place"], "Niamé" "y");
  EXPECT_EQ(record.fields["title"], kArabicTitle);
  EXPECT_EQ(record.fields["institutions"], nlohmann::json({"ISESCO", "SESRIC"})) << "sets are stored sorted";
  for (const auto& [field, value] : record.fields.items()) {
    ASSERT_TRUE(record.versions.count(field)) << field;
    EXPECT_EQ(record.versions.at(field).replica, replica_->replica_id());
    EXPECT_EQ(record.versions.at(field).hlc, record.created);
  }
  const auto history = replica_->history(record.id);
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].action, "create");
  EXPECT_EQ(history[0].office, "NER");
  EXPECT_EQ(history[0].changes["title"]["new"], kArabicTitle);
  const ReplicaStatus status = replica_->status();
  EXPECT_EQ(status.records, 1);
  EXPECT_EQ(status.pending_records, 1);
  EXPECT_EQ(status.pending_changes, static_cast<std::int64_t>(record.fields.size()));
}

TEST_F(ReplicaTest, ARejectedAddNamesFieldAndRuleAndChangesNothing) {
  replica_->add("activity", workshop());
  const std::string before = snapshot_store(db());
  nlohmann::json bad = workshop();
  bad["priority_area"] = 19;
  bad["end_date"] = "2018-03-01";
  try {
    replica_->add("activity", bad);
    FAIL() << "an invalid record was added";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::validation);
    EXPECT_NE(std::string(e.what()).find(std::to_string(e.issues().size()) + " rules"), std::string::npos) << e.what();
    bool saw_priority = false, saw_dates = false;
    for (const auto& issue : e.issues()) {
      saw_priority |= issue.field == "priority_area";
      saw_dates |= issue.field == "end_date";
    }
    EXPECT_TRUE(saw_priority) << e.describe();
    EXPECT_TRUE(saw_dates) << e.describe();
  }
  EXPECT_EQ(snapshot_store(db()), before);
}

TEST_F(ReplicaTest, InvalidUtf8AndUnknownTypesAreRejectedWithoutChange) {
  const std::string before = snapshot_store(db());
  nlohmann::json bad = workshop();
  bad["place"] = std::string("Nia\xC3\x28mey");
  try {
    replica_->add("activity", bad);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_input);
    ASSERT_FALSE(e.issues().empty());
    EXPECT_EQ(e.issues()[0].field, "place");
    EXPECT_EQ(e.issues()[0].rule, "utf8");
  }
  try {
    replica_->add("distribution_v9", workshop());
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::not_found);
    EXPECT_NE(std::string(e.what()).find("activity"), std::string::npos) << "names the installed types";
  }
  EXPECT_EQ(snapshot_store(db()), before);
}

TEST_F(ReplicaTest, EditVersionsOnlyTheFieldsThatChange) {
  const Record created = replica_->add("activity", workshop());
  const Record edited = replica_->edit(created.id, {{"participants", 45}, {"place", "Niamey"}});
  EXPECT_EQ(edited.fields["participants"], 45);
  EXPECT_GT(edited.versions.at("participants").hlc, created.versions.at("participants").hlc);
  EXPECT_EQ(edited.versions.at("place"), created.versions.at("place")) << "same value: no new version";
  EXPECT_EQ(edited.versions.at("title"), created.versions.at("title"));
  const auto history = replica_->history(created.id);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].action, "edit");
  EXPECT_EQ(history[1].changes.size(), 1u);
  EXPECT_EQ(history[1].changes["participants"]["old"], 40);
  EXPECT_EQ(history[1].changes["participants"]["new"], 45);

  // A no-op edit writes nothing at all.
  const std::string before = snapshot_store(db());
  replica_->edit(created.id, {{"participants", 45}});
  EXPECT_EQ(snapshot_store(db()), before);
}

TEST_F(ReplicaTest, EditCanRemoveAFieldAndIsCheckedLikeAnAdd) {
  const Record created = replica_->add("activity", workshop());
  const Record edited = replica_->edit(created.id, {{"participants", nullptr}});
  EXPECT_FALSE(edited.fields.contains("participants"));
  EXPECT_TRUE(edited.versions.count("participants")) << "a removal is versioned so it can sync";

  const std::string before = snapshot_store(db());
  EXPECT_THROW(replica_->edit(created.id, {{"start_date", "2018-03-20"}}), Error);  // after end_date
  EXPECT_THROW(replica_->edit(created.id, {{"kind", "party"}}), Error);
  EXPECT_EQ(snapshot_store(db()), before);
}

TEST_F(ReplicaTest, HistoryShowsTheCreatedValuesAfterLaterEdits) {
  const nlohmann::json original = replica_->add("activity", workshop()).fields;
  const std::string id = replica_->list({}).front().id;
  replica_->edit(id, {{"participants", 45}, {"place", nullptr}});
  replica_->edit(id, {{"participants", 50}, {"countries", {"NER"}}});
  replica_->remove(id);
  const auto history = replica_->history(id);
  ASSERT_EQ(history.size(), 4u);
  nlohmann::json created = nlohmann::json::object();
  for (const auto& [field, change] : history[0].changes.items()) {
    EXPECT_TRUE(change["old"].is_null());
    created[field] = change["new"];
  }
  EXPECT_EQ(created, original);
  EXPECT_EQ(history[2].changes["participants"]["old"], 45);
  EXPECT_EQ(history[2].changes["countries"]["old"], nullptr);
}

TEST_F(ReplicaTest, OutboxSendsNewRecordsWholeThenOnlyChangedFields) {
  const Record created = replica_->add("activity", workshop());
  replica_->edit(created.id, {{"participants", 41}});
  // Never sent: the record is still new as a whole, every field goes out.
  OutboxPage page = replica_->outbox_page(10);
  ASSERT_EQ(page.changes.size(), 1u);
  EXPECT_EQ(page.changes[0].fields.size(), workshop().size());
  EXPECT_EQ(page.changes[0].created, (FieldVersion{created.created, replica_->replica_id()}));
  replica_->acknowledge(page.marks);
  EXPECT_EQ(replica_->status().pending_records, 0);

  // After the acknowledgement, an edit sends the edited field only.
  replica_->edit(created.id, {{"participants", 42}, {"place", "Zinder"}});
  page = replica_->outbox_page(10);
  ASSERT_EQ(page.changes.size(), 1u);
  EXPECT_EQ(page.changes[0].fields.size(), 2u);
  EXPECT_TRUE(page.changes[0].fields.count("participants"));
  EXPECT_EQ(resolved_value(page.changes[0].fields["participants"], MergePolicy::max), 42);

  // An edit made while the page was on its way is not cleared by its acknowledgement.
  replica_->edit(created.id, {{"participants", 43}});
  replica_->acknowledge(page.marks);
  EXPECT_EQ(replica_->status().pending_records, 1);
}

// A record HQ refused is set aside: no page carries it while it stays as refused, the status
// counts it apart from what waits to be sent; an edit sends it again, an acknowledgement forgets
// it, and send_set_aside_again puts every one back.
TEST_F(ReplicaTest, SetAsideRecordsLeaveTheOutboxPagesUntilEditedOrSentAgain) {
  const Record a = replica_->add("activity", workshop());
  const Record b = replica_->add("activity", workshop());
  const Record c = replica_->add("activity", workshop());
  OutboxPage page = replica_->outbox_page(10);
  ASSERT_EQ(page.marks.size(), 3u);
  replica_->set_aside({SetAsideRecord{a.id, page.marks[0].last_hlc, "forbidden", "record belongs to AFG", 1000},
                       SetAsideRecord{b.id, page.marks[1].last_hlc, "unknown_type", "HQ has no data type named 'x'", 2000}});
  page = replica_->outbox_page(10);
  ASSERT_EQ(page.marks.size(), 1u);
  EXPECT_EQ(page.marks[0].record_id, c.id);
  ReplicaStatus status = replica_->status();
  EXPECT_EQ(status.pending_records, 1);
  EXPECT_EQ(status.set_aside_records, 2);
  const std::vector<SetAsideRecord> aside = replica_->set_aside_records();
  ASSERT_EQ(aside.size(), 2u);
  EXPECT_EQ(aside[0].record_id, a.id);
  EXPECT_EQ(aside[0].reason, "record belongs to AFG");
  EXPECT_EQ(aside[1].code, "unknown_type");

  // Set aside survives a restart: it is in the store, not in memory.
  replica_.reset();
  replica_ = std::make_unique<Replica>(home(), host_);
  EXPECT_EQ(replica_->outbox_page(10).marks.size(), 1u);

  // An edit moves the record past its refusal: it goes again.
  replica_->edit(a.id, {{"participants", 12}});
  page = replica_->outbox_page(10);
  ASSERT_EQ(page.marks.size(), 2u);
  EXPECT_EQ(replica_->status().set_aside_records, 1);
  // HQ took it this time: acknowledged, and no longer set aside even if its old row lingered.
  replica_->acknowledge(page.marks);
  EXPECT_EQ(replica_->status().pending_records, 0);
  EXPECT_EQ(replica_->set_aside_records().size(), 1u);

  EXPECT_EQ(replica_->send_set_aside_again(), 1u);
  page = replica_->outbox_page(10);
  ASSERT_EQ(page.marks.size(), 1u);
  EXPECT_EQ(page.marks[0].record_id, b.id);
  EXPECT_EQ(replica_->status().set_aside_records, 0);
}

TEST_F(ReplicaTest, OutboxPagesAreBounded) {
  for (int i = 0; i < 5; ++i) replica_->add("activity", workshop());
  OutboxPage page = replica_->outbox_page(2);
  EXPECT_EQ(page.changes.size(), 2u);
  EXPECT_TRUE(page.more);
  replica_->acknowledge(page.marks);
  page = replica_->outbox_page(10);
  EXPECT_EQ(page.changes.size(), 3u);
  EXPECT_FALSE(page.more);
}

TEST_F(ReplicaTest, DeleteIsATombstoneThatListsHideAndEditsRefuse) {
  const Record created = replica_->add("activity", workshop());
  const Record deleted = replica_->remove(created.id.substr(0, 13));  // an id prefix works
  EXPECT_TRUE(deleted.deleted);
  EXPECT_TRUE(deleted.versions.count(kDeletedField));
  EXPECT_EQ(deleted.fields, created.fields) << "fields stay for the history";
  EXPECT_TRUE(replica_->list({}).empty());
  ListFilter with_deleted;
  with_deleted.include_deleted = true;
  EXPECT_EQ(replica_->list(with_deleted).size(), 1u);
  EXPECT_THROW(replica_->edit(created.id, {{"participants", 1}}), Error);
  EXPECT_THROW(replica_->remove(created.id), Error);
  const auto history = replica_->history(created.id);
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[1].action, "delete");
  EXPECT_EQ(replica_->status().deleted_records, 1);
}

TEST_F(ReplicaTest, ListFiltersByTypeFieldSetMemberSearchAndDate) {
  nlohmann::json a = workshop();
  nlohmann::json b = workshop();
  b["title"] = "Formation des formateurs à Agadez";
  b["priority_area"] = 6;
  b["goal"] = "2.6.1";
  b["kind"] = "training";
  b["institutions"] = {"IDB"};
  const Record ra = replica_->add("activity", a);
  const Record rb = replica_->add("activity", b);

  auto ids = [](const std::vector<Record>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(r.id);
    return out;
  };
  ListFilter f;
  EXPECT_EQ(ids(replica_->list(f)), (std::vector<std::string>{rb.id, ra.id})) << "newest first";
  f.where = {{"priority_area", "6"}};
  EXPECT_EQ(ids(replica_->list(f)), std::vector<std::string>{rb.id});
  f.where = {{"institutions", "SESRIC"}};
  EXPECT_EQ(ids(replica_->list(f)), std::vector<std::string>{ra.id});
  f.where = {{"goal", "2.8.3"}, {"kind", "workshop"}};
  EXPECT_EQ(ids(replica_->list(f)), std::vector<std::string>{ra.id});
  f.where = {{"office", "NER"}};
  EXPECT_EQ(replica_->list(f).size(), 2u);
  f.where.clear();
  f.search = "الأمن الغذائي";
  EXPECT_EQ(ids(replica_->list(f)), std::vector<std::string>{ra.id});
  f.search = "FORMATION DES";
  EXPECT_EQ(ids(replica_->list(f)), std::vector<std::string>{rb.id});
  f.search = "Formation des formateurs a\u0300 Agadez";  // decomposed à matches the stored NFC
  EXPECT_EQ(ids(replica_->list(f)), std::vector<std::string>{rb.id});
  f.search.reset();
  f.changed_since_millis = static_cast<std::int64_t>(hlc_millis(rb.updated)) + 86'400'000;
  EXPECT_TRUE(replica_->list(f).empty());
  f.changed_since_millis = 0;
  f.limit = 1;
  EXPECT_EQ(replica_->list(f).size(), 1u);
  f = ListFilter{};
  f.where = {{"no such field!", "x"}};
  EXPECT_THROW(replica_->list(f), Error);
}

TEST_F(ReplicaTest, BatchSkipsKnownIdsAndKeepsGoingPastRejects) {
  std::vector<NewRecord> batch;
  batch.push_back({"A829B9E7-E0AD-5EE3-B57E-239F59D886D8", "activity", workshop(), "line 1"});
  nlohmann::json bad = workshop();
  bad["kind"] = "party";
  batch.push_back({std::nullopt, "activity", bad, "line 2"});
  batch.push_back({"not-a-uuid", "activity", workshop(), "line 3"});
  batch.push_back({"a829b9e7-e0ad-5ee3-b57e-239f59d886d8", "activity", workshop(), "line 4"});
  auto results = replica_->add_batch(batch);
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results[0].outcome, AddOutcome::added);
  EXPECT_EQ(results[0].id, "a829b9e7-e0ad-5ee3-b57e-239f59d886d8") << "ids are kept, lower-cased";
  EXPECT_EQ(results[1].outcome, AddOutcome::rejected);
  EXPECT_EQ(results[1].error->where(), "line 2");
  EXPECT_EQ(results[2].outcome, AddOutcome::rejected);
  EXPECT_EQ(results[3].outcome, AddOutcome::already_present);
  EXPECT_EQ(replica_->status().records, 1);
  EXPECT_THROW(replica_->add("activity", workshop(), "a829b9e7-e0ad-5ee3-b57e-239f59d886d8"), Error);
}

TEST_F(ReplicaTest, SurvivesReopenAndTheClockNeverGoesBack) {
  const Record created = replica_->add("activity", workshop());
  reopen();
  const Record again = replica_->get(created.id);
  EXPECT_EQ(again.fields, created.fields);
  EXPECT_EQ(again.versions, created.versions);
  // The laptop's clock is set back a month (a dead CMOS battery, a wrong manual fix): the next
  // write still comes after everything written before, because the clock starts from the
  // persisted value, not from the wall clock.
  replica_->clock().set_wall([] { return Clock::system_millis() - 30LL * 86'400'000; });
  const Record edited = replica_->edit(created.id, {{"participants", 50}});
  EXPECT_GT(edited.updated, created.updated);
  EXPECT_GT(edited.versions.at("participants"), created.versions.at("title"));
  reopen();
  replica_->clock().set_wall([] { return Clock::system_millis() - 30LL * 86'400'000; });
  const Record again_edited = replica_->edit(created.id, {{"participants", 60}});
  EXPECT_GT(again_edited.updated, edited.updated) << "and after a restart with the clock still wrong";
  EXPECT_EQ(replica_->office(), "NER");
}

TEST_F(ReplicaTest, UnknownIdsAndBadPrefixesAreClearErrors) {
  try {
    replica_->get("0190a1b2-0000-7000-8000-000000000000");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::not_found);
  }
  EXPECT_THROW(replica_->get("abc"), Error);
  EXPECT_THROW(replica_->history("0190a1b2-0000-7000-8000-000000000000"), Error);
}

TEST(ReplicaSetup, RefusesABadOfficeCodeAndAMissingReplica) {
  TempDir dir;
  EXPECT_THROW(Replica::create(dir.path() / "x", "Niger"), Error);
  PluginHost host;
  try {
    Replica replica(dir.path() / "nothing", host);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::not_initialized);
  }
  Replica::create(dir.path() / "y", "PSE");
  EXPECT_THROW(Replica::create(dir.path() / "y", "PSE"), Error);
}

// snapshot_store (test_support.hpp) is what every "changes nothing" check compares: it must see a
// change in any table, including conflicts, feed and one added after it was written, and in an
// HQ home's office list.
TEST_F(ReplicaTest, SnapshotOfTheStoreSeesEveryTable) {
  replica_->add("activity", workshop());
  const std::string before = snapshot_store(db());
  for (const char* table : {"meta", "records", "outbox", "history", "conflicts", "feed", "set_aside"}) {
    EXPECT_NE(before.find(std::string("== ") + table + "\n"), std::string::npos) << table;
  }
  const auto changed_by = [&](const std::string& sql) {
    sqlite3* raw = nullptr;
    EXPECT_EQ(sqlite3_open(db().c_str(), &raw), SQLITE_OK);
    EXPECT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sql << ": " << sqlite3_errmsg(raw);
    sqlite3_close(raw);
    const std::string after = snapshot_store(db());
    return after != snapshot_store(db()) ? std::string("<unstable>") : after;
  };
  replica_.reset();
  std::string last = before;
  for (const std::string sql : {"INSERT INTO conflicts(record_id, field) VALUES('r', 'status')",
                                "INSERT INTO feed(record_id, field) VALUES('r', 'status')",
                                "CREATE TABLE later_added(x)", "INSERT INTO later_added VALUES(x'00ff')",
                                "INSERT INTO later_added VALUES(NULL)", "INSERT INTO later_added VALUES('<null>')"}) {
    const std::string now = changed_by(sql);
    EXPECT_NE(now, last) << "the snapshot missed: " << sql;
    last = now;
  }
  EXPECT_NE(last.find("x'00ff'"), std::string::npos) << "blobs are shown in hex";
  write_file(home() / "offices.json", "{}");
  EXPECT_NE(snapshot_store(db()), last) << "an HQ home's office list is part of its state";
}

}  // namespace
}  // namespace fieldsync
