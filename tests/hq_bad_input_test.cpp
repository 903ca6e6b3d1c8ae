// HQ under bad input: every refused request gets a 4xx with a JSON error naming the problem, and
// HQ's store is exactly as it was. Requests go to the real `fieldsync-hq serve` over real TLS.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <functional>

#include "core/change_check.hpp"
#include "core/plugin_host.hpp"
#include "core/replica.hpp"
#include "hq_fixture.hpp"
#include "https_test_client.hpp"
#include "sync/protocol.hpp"

namespace fieldsync {
namespace {

using test::CurlReply;
using test::CurlRequest;
using test::curl_request;

class HqBadInput : public HqWithOffices {
 protected:
  void SetUp() override {
    HqWithOffices::SetUp();
    host_.load_directory(FIELDSYNC_TEST_PLUGIN_DIR);
  }

  // A valid request body: one new activity of `office`, made on a real replica.
  protocol::SyncRequest request_from(const std::string& office) {
    const auto home = dir_.path() / ("replica-" + office + std::to_string(counter_++));
    Replica::create(home, office);
    Replica replica(home, host_);
    replica.add("activity", {{"title", "ورشة عمل"}, {"priority_area", 8}, {"goal", "2.8.1"}, {"kind", "workshop"}, {"status", "planned"}});
    protocol::SyncRequest request;
    request.replica = replica.replica_id();
    request.changes = replica.outbox_page(10).changes;
    return request;
  }

  CurlReply post(const std::string& body, const std::string& token) {
    CurlRequest request;
    request.url = hq_->url() + "/v1/sync";
    request.method = "POST";
    request.body = body;
    request.ca_file = hq_->ca_file();
    request.headers = {"Content-Type: application/json"};
    if (!token.empty()) request.headers.push_back("Authorization: Bearer " + token);
    request.timeout_ms = 20000;
    return curl_request(request);
  }

  // Posts `body`, expects `status` with a JSON error whose text contains `words`, and HQ unchanged.
  void expect_refused(const std::string& body, const std::string& token, long status, const std::vector<std::string>& words) {
    const std::string before = snapshot_store(hq_->store());
    const CurlReply reply = post(body, token);
    ASSERT_EQ(reply.code, CURLE_OK) << reply.error;
    EXPECT_EQ(reply.status, status) << reply.body;
    const nlohmann::json json = nlohmann::json::parse(reply.body, nullptr, false);
    ASSERT_FALSE(json.is_discarded()) << "not JSON: " << reply.body;
    ASSERT_TRUE(json.contains("error")) << reply.body;
    EXPECT_TRUE(json["error"].contains("code"));
    for (const auto& word : words) EXPECT_NE(reply.body.find(word), std::string::npos) << "no '" << word << "' in " << reply.body;
    EXPECT_EQ(snapshot_store(hq_->store()), before) << "HQ's store changed";
  }

  PluginHost host_;
  int counter_ = 0;
};

TEST_F(HqBadInput, AValidRequestIsStored) {
  const CurlReply reply = post(protocol::encode(request_from("NER")), ner_token_);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(protocol::decode_sync_response(reply.body).stored, 1u);
}

// The same new record twice in one page, created then edited: the second change merges into
// the first (HQ does not take the record for absent twice).
TEST_F(HqBadInput, ANewRecordAndItsEditInOnePageAreBothStored) {
  protocol::SyncRequest request = request_from("NER");
  RecordChange edit = request.changes[0];
  const FieldVersion later{edit.created.hlc + 1, edit.created.replica};
  edit.fields = {{"title", FieldState{{FieldWrite{later, "Atelier à Niamey", "x"}}, {edit.created}}}};
  request.changes.push_back(edit);
  const CurlReply reply = post(protocol::encode(request), ner_token_);
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(protocol::decode_sync_response(reply.body).stored, 2u);
  ASSERT_EQ(hq_->stop(), 0);  // HQ stopped: its store is read here
  PluginHost types;
  types.load_directory(FIELDSYNC_TEST_PLUGIN_DIR);
  Replica hq(dir_.path() / "hq", types);
  EXPECT_EQ(hq.get(edit.id).fields["title"], "Atelier à Niamey");
}

TEST_F(HqBadInput, MissingOrWrongTokensGet401) {
  const std::string body = protocol::encode(request_from("NER"));
  expect_refused(body, "", 401, {"unauthorized"});
  expect_refused(body, std::string(64, '0'), 401, {"token"});
  expect_refused(body, afg_token_ + "x", 401, {"token"});
}

TEST_F(HqBadInput, WritingAnotherOfficesOrHqsRecordsGets403) {
  expect_refused(protocol::encode(request_from("AFG")), ner_token_, 403, {"forbidden", "AFG"});
  expect_refused(protocol::encode(request_from("HQ")), ner_token_, 403, {"forbidden", "HQ"});
  // An AFG record already at HQ, re-labelled as NER's by a NER device.
  protocol::SyncRequest afg = request_from("AFG");
  ASSERT_EQ(post(protocol::encode(afg), afg_token_).status, 200);
  afg.changes[0].office = "NER";
  expect_refused(protocol::encode(afg), ner_token_, 403, {"belongs to AFG"});
}

TEST_F(HqBadInput, MalformedBodiesGet400Or413) {
  expect_refused("{\"protocol\": 1, \"replica\": ", ner_token_, 400, {"not valid JSON"});
  expect_refused(std::string("{\"protocol\": 1, \"replica\": \"\xC3\x28\"}"), ner_token_, 400, {"JSON"});
  expect_refused("[1, 2, 3]", ner_token_, 400, {"shape"});
  expect_refused(R"({"protocol": 1, "cursor": 0, "changes": []})", ner_token_, 400, {"replica"});
  expect_refused(R"({"protocol": 7, "replica": "0123456789abcdef", "cursor": 0, "changes": []})", ner_token_, 400,
                 {"protocol version 7"});
  expect_refused(std::string(17 * 1024 * 1024, ' '), ner_token_, 413, {"body_too_large"});
}

TEST_F(HqBadInput, AChangeThatBreaksItsSchemaGets400NamingTheField) {
  protocol::SyncRequest request = request_from("NER");
  FieldState& area = request.changes[0].fields["priority_area"];
  area.heads[0].value = 42;
  // A new record's values are checked as the record they make: every broken rule is named.
  expect_refused(protocol::encode(request), ner_token_, 400, {"priority_area", "must be at most 18", "would break 2 rules"});
  // A record whose fields are each valid but break a rule between them: the count is the count.
  protocol::SyncRequest dates = request_from("NER");
  dates.changes[0].fields["end_date"] = initial_state(FieldWrite{dates.changes[0].created, "2001-01-01", "x"});
  expect_refused(protocol::encode(dates), ner_token_, 400, {"end_date", "would break 1 rule"});
  // One bad record in a page: the whole page is refused, the good one too.
  protocol::SyncRequest page = request_from("NER");
  page.changes.push_back(request.changes[0]);
  expect_refused(protocol::encode(page), ner_token_, 400, {"priority_area"});
}

// HQ publishes the types and their versions: a record written under a version of its type HQ does
// not have (one withdrawn after an office wrote under it) is refused, naming both versions.
TEST_F(HqBadInput, ARecordOfAVersionHqDoesNotPublishIsRefused) {
  protocol::SyncRequest request = request_from("NER");
  request.changes[0].schema_version = 7;
  expect_refused(protocol::encode(request), ner_token_, 400,
                 {"unknown_version", "version 7 of the activity plugin", "HQ's is version 1", request.changes[0].id});
}

// Records refused for their own sake are all named under error.records, with their own status,
// code and words, so a laptop sets exactly those aside; the answer's status and code are the
// first one's, and nothing of the page is stored.
TEST_F(HqBadInput, EveryRecordAPageIsRefusedForIsNamedWithItsReason) {
  const RecordChange good = request_from("NER").changes[0];
  RecordChange afg = request_from("AFG").changes[0];
  RecordChange unknown = request_from("NER").changes[0];
  unknown.type = "water_point";
  // Checked before the store is: another office's record, a type HQ does not publish.
  protocol::SyncRequest before_lock = request_from("NER");
  before_lock.changes = {good, afg, unknown};
  expect_refused(protocol::encode(before_lock), ner_token_, 403, {"forbidden"});
  nlohmann::json json = nlohmann::json::parse(post(protocol::encode(before_lock), ner_token_).body);
  ASSERT_EQ(json["error"]["records"].size(), 2u) << json.dump();
  EXPECT_EQ(json["error"]["records"][0]["id"], afg.id);
  EXPECT_EQ(json["error"]["records"][0]["status"], 403);
  EXPECT_EQ(json["error"]["records"][1]["id"], unknown.id);
  EXPECT_EQ(json["error"]["records"][1]["code"], "unknown_type");
  EXPECT_NE(json["error"]["records"][1]["message"].get<std::string>().find("'water_point'"), std::string::npos);

  // Checked against the store: values a new record may not hold, an id another office owns.
  protocol::SyncRequest stored = request_from("AFG");
  ASSERT_EQ(post(protocol::encode(stored), afg_token_).status, 200);
  RecordChange relabelled = stored.changes[0];
  relabelled.office = "NER";
  RecordChange invalid = request_from("NER").changes[0];
  invalid.fields["priority_area"].heads[0].value = 42;
  protocol::SyncRequest at_lock = request_from("NER");
  at_lock.changes = {good, invalid, relabelled};
  expect_refused(protocol::encode(at_lock), ner_token_, 400, {"validation", "priority_area"});
  json = nlohmann::json::parse(post(protocol::encode(at_lock), ner_token_).body);
  ASSERT_EQ(json["error"]["records"].size(), 2u) << json.dump();
  EXPECT_EQ(json["error"]["records"][0]["id"], invalid.id);
  EXPECT_EQ(json["error"]["records"][0]["code"], "validation");
  EXPECT_EQ(json["error"]["records"][0]["issues"][0]["field"], "priority_area");
  EXPECT_EQ(json["error"]["records"][1]["id"], relabelled.id);
  EXPECT_EQ(json["error"]["records"][1]["status"], 403);
  EXPECT_NE(json["error"]["records"][1]["message"].get<std::string>().find("belongs to AFG"), std::string::npos);

  // Refused by the merge itself (a version given another value): that record is named too.
  protocol::SyncRequest first = request_from("NER");
  ASSERT_EQ(post(protocol::encode(first), ner_token_).status, 200);
  RecordChange reused = first.changes[0];
  reused.fields["title"].heads[0].value = "Atelier renommé";
  protocol::SyncRequest in_apply = request_from("NER");
  in_apply.changes = {good, reused};
  expect_refused(protocol::encode(in_apply), ner_token_, 400, {"one version names one value"});
  json = nlohmann::json::parse(post(protocol::encode(in_apply), ner_token_).body);
  ASSERT_EQ(json["error"]["records"].size(), 1u) << json.dump();
  EXPECT_EQ(json["error"]["records"][0]["id"], reused.id);

  // A malformed page names no record: nothing for a laptop to set aside.
  json = nlohmann::json::parse(post("[1, 2, 3]", ner_token_).body);
  EXPECT_FALSE(json["error"].contains("records"));
}

TEST_F(HqBadInput, VersionsStampedFarAheadOfHqsClockGet409WithHqsTime) {
  protocol::SyncRequest request = request_from("NER");
  const Hlc future = make_hlc(static_cast<std::uint64_t>(Clock::system_millis()) + 3ull * 86'400'000ull, 0);
  for (auto& [field, state] : request.changes[0].fields) state.heads[0].version.hlc = future;
  request.changes[0].created.hlc = future;
  const std::string before = snapshot_store(hq_->store());
  const CurlReply reply = post(protocol::encode(request), ner_token_);
  EXPECT_EQ(reply.status, 409) << reply.body;
  const nlohmann::json json = nlohmann::json::parse(reply.body);
  EXPECT_EQ(json["error"]["code"], "clock_ahead");
  EXPECT_NEAR(static_cast<double>(json["hq_time"].get<std::int64_t>()), static_cast<double>(Clock::system_millis()), 60'000);
  EXPECT_EQ(snapshot_store(hq_->store()), before);
}

// HQ's persisted clock, read from its store.
Hlc hq_clock(const std::filesystem::path& store) {
  sqlite3* db = nullptr;
  Hlc clock = 0;
  if (sqlite3_open_v2(store.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT value FROM meta WHERE key = 'clock'", -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      clock = std::stoull(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return clock;
}

TEST_F(HqBadInput, AVersionOutOfBoundsAnywhereIsRefusedAndHqsClockStays) {
  const std::int64_t now = Clock::system_millis();
  const Hlc far = make_hlc(static_cast<std::uint64_t>(now + 30LL * 365 * 86'400'000), 0);
  const std::string other = "0123456789abcdef";
  std::vector<std::pair<std::string, std::function<void(RecordChange&)>>> cases = {
      {"creation 30 years ahead", [&](RecordChange& c) { c.created.hlc = far; }},
      {"creation 2^63-1", [&](RecordChange& c) { c.created.hlc = kMaxStoredHlc; }},
      {"creation in 2001", [&](RecordChange& c) { c.created.hlc = make_hlc(1'000'000'000'000, 0); }},
      {"a replaced version far ahead", [&](RecordChange& c) { c.fields["title"].replaced.push_back({far, other}); }},
      {"a tombstone far ahead", [&](RecordChange& c) { c.fields[kDeletedField] = initial_state(FieldWrite{{far, other}, true, "x"}); }},
      {"a head at 2^64-1", [&](RecordChange& c) { c.fields["place"] = initial_state(FieldWrite{{~Hlc{0}, other}, "Niamey", "x"}); }},
      {"a head at 2^63", [&](RecordChange& c) { c.fields["place"] = initial_state(FieldWrite{{kMaxStoredHlc + 1, other}, "Niamey", "x"}); }},
  };
  for (const auto& [name, tamper] : cases) {
    SCOPED_TRACE(name);
    protocol::SyncRequest request = request_from("NER");
    tamper(request.changes[0]);
    const std::string before = snapshot_store(hq_->store());
    const CurlReply reply = post(protocol::encode(request), ner_token_);
    EXPECT_TRUE(reply.status == 400 || reply.status == 409) << reply.status << " " << reply.body;
    const nlohmann::json json = nlohmann::json::parse(reply.body, nullptr, false);
    ASSERT_TRUE(!json.is_discarded() && json.contains("error")) << reply.body;
    // Named by the record, or refused by the protocol's schema before any record is read.
    EXPECT_TRUE(reply.body.find(request.changes[0].id) != std::string::npos || reply.body.find("shape") != std::string::npos)
        << reply.body;
    EXPECT_EQ(snapshot_store(hq_->store()), before);
  }
  // A negative version, as text on the wire.
  std::string body = protocol::encode(request_from("NER"));
  const std::string created = "\"created\":[";
  const auto at = body.find(created);
  ASSERT_NE(at, std::string::npos);
  body.insert(at + created.size(), "-");
  expect_refused(body, ner_token_, 400, {"shape"});
  // The next good request is stored, and HQ's clock — what it stamps its own next write with —
  // is near the real time, not years ahead.
  ASSERT_EQ(post(protocol::encode(request_from("NER")), ner_token_).status, 200);
  const Hlc clock = hq_clock(hq_->store());
  EXPECT_GT(clock, 0u);
  EXPECT_LT(clock, newest_allowed_at(Clock::system_millis())) << format_hlc_time(clock);
  EXPECT_GT(hlc_millis(clock), static_cast<std::uint64_t>(now - 60'000)) << format_hlc_time(clock);
}

TEST_F(HqBadInput, EveryValueOfAFieldStateIsChecked) {
  // A losing concurrent write with a status the schema does not know.
  protocol::SyncRequest bogus = request_from("NER");
  FieldState& status = bogus.changes[0].fields["status"];
  status.heads.insert(status.heads.begin(),
                      FieldWrite{{bogus.changes[0].created.hlc - 1, "0123456789abcdef"}, "bogus-status", "mallory"});
  expect_refused(protocol::encode(bogus), ner_token_, 400, {"status", bogus.changes[0].id});
  // A tombstone carrying a 1 KB object.
  protocol::SyncRequest heavy = request_from("NER");
  heavy.changes[0].fields[kDeletedField] = initial_state(
      FieldWrite{{heavy.changes[0].created.hlc + 1, heavy.replica}, {{"blob", std::string(1024, 'x')}}, "x"});
  expect_refused(protocol::encode(heavy), ner_token_, 400, {"tombstone", heavy.changes[0].id});
}

TEST_F(HqBadInput, AReSentVersionWithAnotherValueIsRefused) {
  const protocol::SyncRequest request = request_from("NER");
  ASSERT_EQ(post(protocol::encode(request), ner_token_).status, 200);
  const CurlReply again = post(protocol::encode(request), ner_token_);
  EXPECT_EQ(again.status, 200) << "an identical re-send is fine: " << again.body;
  protocol::SyncRequest other = request;
  other.changes[0].fields["title"].heads[0].value = "Autre chose";
  expect_refused(protocol::encode(other), ner_token_, 400, {"title", request.changes[0].id, "one version names one value"});
}

TEST_F(HqBadInput, HealthAnswersWithoutAToken) {
  CurlRequest request;
  request.url = hq_->url() + "/v1/health";
  request.ca_file = hq_->ca_file();
  const CurlReply reply = curl_request(request);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(nlohmann::json::parse(reply.body)["status"], "ok");
}

}  // namespace
}  // namespace fieldsync
