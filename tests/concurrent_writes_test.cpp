// Writes made on several laptops that the merge must take rather than refuse, for a refusal holds
// back the laptop's every later page: one record created on two laptops, valid edits that together
// break a rule; and HQ's check of a page's new records before its store lock.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "replica_sync_fixture.hpp"

namespace fieldsync {
namespace {

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

  // An edit after the merge replaces both creations' writes, and every replica shows it. A third
  // place: editing to the one already shown writes nothing (the two creations fall in one
  // millisecond on a fast machine, and then either may be the one shown).
  laptop2.edit(id, {{"place", "Maradi"}, {"participants", 55}});
  sync(laptop2, hq);
  sync(laptop1, hq);
  for (Replica* r : {&hq, &laptop1, &laptop2}) {
    EXPECT_EQ(r->get(id).fields["place"], "Maradi");
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
  unknown_type.type = "water_point";
  page[10] = invalid;
  page[20] = edited;
  page[30] = unknown_type;
  const Replica::AsNewChecks checks = hq.check_as_new(page, 2);
  const std::vector<bool>& vouched = checks.vouched;
  ASSERT_EQ(vouched.size(), page.size());
  for (std::size_t i = 0; i < page.size(); ++i) EXPECT_EQ(vouched[i], i != 10 && i != 20 && i != 30) << i;
  // Only the one whose values break its type's rules is named broken, with the rule: the edited
  // one is not a record as created (apply decides), the unknown type is not this check's to judge.
  ASSERT_EQ(checks.broken.size(), 1u);
  ASSERT_EQ(checks.broken.count(10), 1u);
  ASSERT_FALSE(checks.broken.at(10).empty());
  EXPECT_EQ(checks.broken.at(10).front().field, "priority_area");

  // The invalid record is refused even when the page comes with the vouchers.
  Replica::ApplyOptions options;
  options.check = true;
  options.checked_as_new = vouched;
  EXPECT_THROW(hq.apply(page, options), Error);
  page.erase(page.begin() + 30);
  page.erase(page.begin() + 10);
  options.checked_as_new = hq.check_as_new(page, 2).vouched;
  EXPECT_EQ(hq.apply(page, options).records_added, page.size());
}

}  // namespace
}  // namespace fieldsync
