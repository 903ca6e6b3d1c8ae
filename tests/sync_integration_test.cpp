// The real `fieldsync-hq serve` on 127.0.0.1 with real TLS, driven by the real `fieldsync`
// binaries of several laptops: offline work on all sides, syncs in varying orders, concurrent
// edits, a certificate HQ's CA did not sign, wrong and revoked tokens, and a clean shutdown.
#include <gtest/gtest.h>

#include <set>

#include "hq_fixture.hpp"

namespace fieldsync {
namespace {

class Laptop {
 public:
  Laptop(std::filesystem::path home) : home_(std::move(home)) {}
  RunResult run(std::vector<std::string> args, const std::string& input = {}) {
    args.insert(args.begin(), {"--home", home_.string()});
    return run_fieldsync(args, {}, input);
  }
  nlohmann::json json(std::vector<std::string> args) {
    args.push_back("--json");
    RunResult r = run(args);
    EXPECT_EQ(r.exit_code, 0) << "fieldsync " << args[0] << ": " << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
  }
  nlohmann::json sync() { return json({"sync"}); }
  // Every record this laptop holds, deleted ones too: id -> {office, fields, deleted}.
  std::map<std::string, nlohmann::json> records() {
    std::map<std::string, nlohmann::json> out;
    for (const auto& r : json({"list", "--deleted"})) out[r["id"]] = {{"office", r["office"]}, {"fields", r["fields"]}, {"deleted", r["deleted"]}};
    return out;
  }
  const std::filesystem::path& home() const { return home_; }

 private:
  std::filesystem::path home_;
};

// The first `count` lines of the shared activities starting at line `from`, as a JSONL file.
std::filesystem::path slice_of_activities(const std::filesystem::path& dir, int from, int count) {
  std::ifstream in(shared_activities());
  const auto path = dir / ("slice-" + std::to_string(from) + ".jsonl");
  std::ofstream out(path);
  std::string line;
  for (int i = 0; std::getline(in, line) && i < from + count; ++i) {
    if (i >= from) out << line << "\n";
  }
  return path;
}

class SyncIntegration : public HqWithOffices {
 protected:
  Laptop enroll(const std::string& name, const std::string& office, const std::string& token) {
    Laptop laptop(dir_.path() / name);
    RunResult r = laptop.run({"init", "--office", office, "--hq", hq_->url(), "--ca", hq_->ca_file().string(), "--token", token});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return laptop;
  }
};

TEST_F(SyncIntegration, OfficesWorkOfflineThenConvergeThroughHqWithConflictsShown) {
  Laptop ner1 = enroll("ner1", "NER", ner_token_);
  Laptop ner2 = enroll("ner2", "NER", ner_token_);
  Laptop afg1 = enroll("afg1", "AFG", afg_token_);
  EXPECT_EQ(std::filesystem::status(ner1.home() / "token").permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write)
      << "the token is readable by its owner only";
  EXPECT_EQ(read_file(hq_->home() / "offices.json").find(ner_token_), std::string::npos) << "HQ keeps only a hash";

  // Offline: each office logs its own work.
  ASSERT_EQ(ner1.run({"import", "activity", slice_of_activities(dir_.path(), 0, 60).string()}).exit_code, 0);
  ASSERT_EQ(afg1.run({"import", "activity", slice_of_activities(dir_.path(), 60, 40).string()}).exit_code, 0);
  const std::string id = ner1.json({"add", "activity", "title=Visite de terrain à Tillabéri", "priority_area=8",
                                    "goal=2.8.1", "kind=field_visit", "status=ongoing", "institutions=IOFS"})["id"];

  nlohmann::json first = ner1.sync();
  EXPECT_EQ(first["sent"], 61);
  EXPECT_GT(first["bytes_sent"].get<long>(), 0);
  afg1.sync();
  EXPECT_EQ(ner2.sync()["received"], 61);
  EXPECT_EQ(ner2.records().size(), 61u) << "NER's second laptop gets NER's records, not AFG's";
  EXPECT_EQ(afg1.records().size(), 40u) << "AFG never sees NER's records";

  // Both NER laptops edit the same record offline, partly the same field.
  ner1.json({"edit", id, "status=implemented", "participants=25"});
  ner2.json({"edit", id, "status=cancelled", "institutions=IOFS,WFP"});
  ner2.sync();
  EXPECT_EQ(ner1.sync()["conflicts"], 1);
  ner2.sync();

  for (Laptop* laptop : {&ner1, &ner2}) {
    nlohmann::json conflicts = laptop->json({"conflicts"});
    ASSERT_EQ(conflicts.size(), 1u);
    EXPECT_EQ(conflicts[0]["field"], "status");
    nlohmann::json record = laptop->json({"show", id});
    EXPECT_EQ(record["fields"]["participants"], 25) << "fields edited on one side only simply merge";
    EXPECT_EQ(record["fields"]["institutions"], nlohmann::json({"IOFS", "WFP"}));
  }
  EXPECT_EQ(ner1.records(), ner2.records());

  // Settled on one laptop, the resolution syncs like any edit and closes the conflict everywhere.
  nlohmann::json settled = ner1.json({"conflicts", "resolve", id + ":status", "--take", "local"});
  EXPECT_EQ(settled["value"], "implemented");
  ner1.sync();
  ner2.sync();
  EXPECT_TRUE(ner2.json({"conflicts"}).empty());
  EXPECT_EQ(ner2.json({"show", id})["fields"]["status"], "implemented");

  // A deletion travels too; nothing is pending anywhere at the end.
  ner2.json({"delete", id});
  ner2.sync();
  ner1.sync();
  afg1.sync();
  EXPECT_TRUE(ner1.json({"show", id})["deleted"]);
  EXPECT_EQ(ner1.records(), ner2.records());
  for (Laptop* laptop : {&ner1, &ner2, &afg1}) EXPECT_EQ(laptop->json({"status"})["pending_records"], 0);

  // HQ holds every office's records, identical to what each office holds.
  Laptop hq_view(hq_->home());
  std::map<std::string, nlohmann::json> at_hq = hq_view.records();
  EXPECT_EQ(at_hq.size(), 101u);
  for (const auto& [rid, record] : ner1.records()) EXPECT_EQ(at_hq[rid], record) << rid;
  for (const auto& [rid, record] : afg1.records()) EXPECT_EQ(at_hq[rid], record) << rid;

  EXPECT_EQ(hq_->stop(), 0) << "SIGTERM stops HQ cleanly";
}

// Two ways a laptop's sync used to be refused for good, holding back its whole outbox: the same
// import file read on two laptops of an office (its lines name their ids), and two valid edits
// that together break a rule between fields. Both laptops sync, converge, and the broken rule is
// listed where a person settles it.
TEST_F(SyncIntegration, OneFileImportedOnTwoLaptopsAndEditsThatTogetherBreakARuleNeverBlockASync) {
  Laptop ner1 = enroll("ner1", "NER", ner_token_);
  Laptop ner2 = enroll("ner2", "NER", ner_token_);
  const auto file = slice_of_activities(dir_.path(), 0, 20);
  ASSERT_EQ(ner1.run({"import", "activity", file.string()}).exit_code, 0);
  ASSERT_EQ(ner2.run({"import", "activity", file.string()}).exit_code, 0);
  EXPECT_EQ(ner1.sync()["sent"], 20);
  EXPECT_EQ(ner2.sync()["sent"], 20) << "the second laptop's copies are taken, not refused";
  ner1.sync();
  EXPECT_EQ(ner1.records(), ner2.records());
  EXPECT_EQ(ner1.records().size(), 20u);

  const std::string id = ner1.json({"add", "activity", "title=Atelier sur l'eau à Zinder", "priority_area=8", "goal=2.8.1",
                                    "kind=workshop", "status=planned", "start_date=2018-03-08", "end_date=2018-03-10",
                                    "institutions=IOFS"})["id"];
  ner1.sync();
  ner2.sync();
  ner1.json({"edit", id, "start_date=2018-03-10"});
  ner2.json({"edit", id, "end_date=2018-03-09"});
  ner1.sync();
  EXPECT_EQ(ner2.sync()["conflicts"], 1);
  ner1.sync();
  for (Laptop* laptop : {&ner1, &ner2}) {
    const nlohmann::json conflicts = laptop->json({"conflicts"});
    ASSERT_EQ(conflicts.size(), 1u);
    EXPECT_EQ(conflicts[0]["field"], "end_date");
    EXPECT_NE(conflicts[0]["broken_rule"].get<std::string>().find("start_date"), std::string::npos);
  }
  EXPECT_NE(ner1.run({"conflicts", "resolve", id + ":end_date", "--take", "local"}).exit_code, 0)
      << "a broken rule is settled with a value";
  ner1.json({"conflicts", "resolve", id + ":end_date", "--take", "2018-03-11"});
  ner1.sync();
  ner2.sync();
  EXPECT_TRUE(ner2.json({"conflicts"}).empty());
  EXPECT_EQ(ner2.json({"show", id})["fields"]["end_date"], "2018-03-11");
  EXPECT_EQ(ner1.records(), ner2.records());
  for (Laptop* laptop : {&ner1, &ner2}) EXPECT_EQ(laptop->json({"status"})["pending_records"], 0);
}

// One file imported by two offices: its lines name their ids, so the second office's copies are
// records HQ holds as the first office's. HQ refuses those, each for its own sake, and they are
// set aside on the laptop, listed with HQ's reason; everything else of the outbox still goes, in
// this sync and every later one. Before, HQ refused the whole page, and the office's outbox was
// stuck behind those records for good.
TEST_F(SyncIntegration, RecordsHqRefusesAreSetAsideAndTheRestOfTheOutboxStillGoes) {
  Laptop ner1 = enroll("ner1", "NER", ner_token_);
  Laptop afg1 = enroll("afg1", "AFG", afg_token_);
  Laptop afg2 = enroll("afg2", "AFG", afg_token_);
  ASSERT_EQ(ner1.run({"import", "activity", slice_of_activities(dir_.path(), 0, 30).string()}).exit_code, 0);
  EXPECT_EQ(ner1.sync()["sent"], 30);
  // AFG imports lines 20-49: 10 of them are NER's records at HQ.
  ASSERT_EQ(afg1.run({"import", "activity", slice_of_activities(dir_.path(), 20, 30).string()}).exit_code, 0);
  const std::string own = afg1.json({"add", "activity", "title=ورشة عمل في كابول", "priority_area=8", "goal=2.8.1",
                                     "kind=workshop", "status=planned"})["id"];

  // Pages of 4 records: refusals land in several pages, with the next page already in flight.
  RunResult first = run_fieldsync({"--home", afg1.home().string(), "sync", "--json"}, {{"FIELDSYNC_SYNC_PAGE_RECORDS", "4"}});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const nlohmann::json synced = nlohmann::json::parse(first.out);
  EXPECT_EQ(synced["sent"], 21) << "AFG's own 20 imported records and the one added";
  ASSERT_EQ(synced["refused"].size(), 10u) << synced.dump();
  const std::set<std::string> ner_ids = [&] {
    std::set<std::string> ids;
    for (const auto& [id, record] : ner1.records()) ids.insert(id);
    return ids;
  }();
  for (const auto& refused : synced["refused"]) {
    EXPECT_EQ(ner_ids.count(refused["id"].get<std::string>()), 1u) << refused.dump();
    EXPECT_EQ(refused["code"], "forbidden");
    EXPECT_NE(refused["reason"].get<std::string>().find("belongs to NER"), std::string::npos) << refused.dump();
  }

  // The laptop says so: not everything is at HQ, and which records, why.
  nlohmann::json status = afg1.json({"status"});
  EXPECT_EQ(status["pending_records"], 0);
  EXPECT_EQ(status["set_aside"].size(), 10u);
  EXPECT_EQ(status["all_at_hq"], false);
  EXPECT_NE(status["summary"].get<std::string>().find("10 records were refused by HQ"), std::string::npos) << status["summary"];
  const RunResult text = afg1.run({"status"});
  EXPECT_NE(text.out.find("refused by HQ:"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("belongs to NER"), std::string::npos) << text.out;

  // HQ stored the rest: AFG's other laptop gets exactly those, the added one with its Arabic title.
  EXPECT_EQ(afg2.sync()["received"], 21);
  const auto afg2_records = afg2.records();
  EXPECT_EQ(afg2_records.size(), 21u);
  ASSERT_EQ(afg2_records.count(own), 1u);
  EXPECT_EQ(afg2_records.at(own)["fields"]["title"], "ورشة عمل في كابول");
  for (const auto& id : ner_ids) EXPECT_EQ(afg2_records.count(id), 0u) << "NER's record " << id << " reached AFG";
  EXPECT_EQ(ner1.sync()["received"], 0) << "NER's records are as NER wrote them";

  // Set aside, not sent again: the next syncs are one request with nothing pushed, and a new
  // record still goes.
  nlohmann::json again = afg1.sync();
  EXPECT_EQ(again["sent"], 0);
  EXPECT_EQ(again["requests"], 1);
  EXPECT_TRUE(again["refused"].empty());
  afg1.json({"add", "activity", "title=Visite à Hérat", "priority_area=8", "goal=2.8.1", "kind=field_visit", "status=ongoing"});
  EXPECT_EQ(afg1.sync()["sent"], 1);

  // An edit sends a set-aside record again (HQ refuses it again: it is still NER's), and
  // --retry-refused sends them all.
  const std::string edited = synced["refused"][0]["id"];
  afg1.json({"edit", edited, "status=ongoing"});
  nlohmann::json after_edit = afg1.sync();
  ASSERT_EQ(after_edit["refused"].size(), 1u);
  EXPECT_EQ(after_edit["refused"][0]["id"], edited);
  EXPECT_EQ(afg1.json({"status"})["set_aside"].size(), 10u);
  nlohmann::json retried = afg1.json({"sync", "--retry-refused"});
  EXPECT_EQ(retried["retried_refused"], 10);
  EXPECT_EQ(retried["refused"].size(), 10u);
  const RunResult text_sync = afg1.run({"sync", "--retry-refused"});
  EXPECT_EQ(text_sync.exit_code, 0) << text_sync.err;
  EXPECT_NE(text_sync.out.find("HQ refused 10 records"), std::string::npos) << text_sync.out;
  EXPECT_EQ(afg2.sync()["received"], 1) << "only the record added since";
  EXPECT_EQ(afg2.records().size(), 22u);
}

TEST_F(SyncIntegration, AServerCertificateNotSignedByThePinnedCaIsRefusedAndNothingIsSent) {
  // A second HQ with its own CA; the laptop pins the first HQ's CA but is pointed at the second.
  RunningHq impostor(dir_.path() / "impostor");
  const std::string token = impostor.add_office("NER");
  impostor.start();
  Laptop laptop(dir_.path() / "ner");
  ASSERT_EQ(laptop.run({"init", "--office", "NER", "--hq", impostor.url(), "--ca", hq_->ca_file().string(), "--token", token}).exit_code, 0);
  laptop.json({"add", "activity", "title=Atelier", "priority_area=3", "goal=2.3.1", "kind=workshop", "status=planned"});
  const std::string before = snapshot_store(impostor.store());
  RunResult r = laptop.run({"sync"});
  EXPECT_EQ(r.exit_code, 6);
  EXPECT_NE(r.err.find("not signed by the CA pinned"), std::string::npos) << r.err;
  EXPECT_EQ(snapshot_store(impostor.store()), before);
  EXPECT_EQ(laptop.json({"status"})["pending_records"], 1) << "the change stays queued";
}

TEST_F(SyncIntegration, WrongAndRevokedTokensAreRefusedAndChangeNothing) {
  Laptop wrong = enroll("wrong", "NER", std::string(64, 'a'));
  wrong.json({"add", "activity", "title=Atelier", "priority_area=3", "goal=2.3.1", "kind=workshop", "status=planned"});
  const std::string before = snapshot_store(hq_->store());
  RunResult r = wrong.run({"sync"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_NE(r.err.find("token"), std::string::npos) << r.err;
  EXPECT_EQ(snapshot_store(hq_->store()), before);

  Laptop ner = enroll("ner", "NER", ner_token_);
  ner.json({"add", "activity", "title=Atelier", "priority_area=3", "goal=2.3.1", "kind=workshop", "status=planned"});
  ASSERT_EQ(run_hq(hq_->home(), {"office", "revoke", "NER"}).exit_code, 0);
  const std::string before_revoked = snapshot_store(hq_->store());
  r = ner.run({"sync"});
  EXPECT_EQ(r.exit_code, 3) << "the running server sees the revocation";
  EXPECT_EQ(snapshot_store(hq_->store()), before_revoked);
  nlohmann::json offices = nlohmann::json::parse(run_hq(hq_->home(), {"office", "list", "--json"}).out);
  EXPECT_EQ(offices[0]["active"], false);
}

TEST(HqCommandLine, ServeRefusesAListenPortThatIsNotAllDigits) {
  TempDir dir;
  const auto home = dir.path() / "hq";
  ASSERT_EQ(run_hq(home, {"init", "--json"}).exit_code, 0);
  // stoi alone took "8443x" as 8443 and " 8443" as 8443: a typo must not serve on a guessed port.
  for (const std::string listen : {"127.0.0.1:8443x", "127.0.0.1: 8443", "127.0.0.1:-1", "127.0.0.1:65536",
                                   "127.0.0.1:", "127.0.0.1:99999999999"}) {
    const RunResult r = run_hq(home, {"serve", "--listen", listen});
    EXPECT_NE(r.exit_code, 0) << listen;
    EXPECT_NE(r.err.find("is not a port"), std::string::npos) << listen << ": " << r.err;
  }
}

}  // namespace
}  // namespace fieldsync
