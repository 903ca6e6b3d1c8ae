// HQ under bad input: every refused request gets a 4xx with a JSON error naming the problem, and
// HQ's store is exactly as it was. Requests go to the real `fieldsync-hq serve` over real TLS.
#include <gtest/gtest.h>

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
  expect_refused(protocol::encode(request), ner_token_, 400, {"priority_area"});
  // One bad record in a page: the whole page is refused, the good one too.
  protocol::SyncRequest page = request_from("NER");
  page.changes.push_back(request.changes[0]);
  expect_refused(protocol::encode(page), ner_token_, 400, {"priority_area"});
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
