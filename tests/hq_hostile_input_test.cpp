// HQ against a catalogue of hostile and broken requests (issue 10, the cases in
// hq_hostile_cases.cpp), table-driven.
//
// One real `fieldsync-hq serve` over real TLS on 127.0.0.1 per suite (ctest runs each case in a
// process of its own, so there each case has an HQ of its own). Each case is a GOOD sync
// request — built from a real record of the shared data (Arabic text) on a real replica — with
// exactly one thing broken, or a raw request over a TLS socket for the framing cases. Each case
// promises: HQ answers the expected 4xx with a JSON error ({"error": {"code", "message"}}) whose
// code is the expected one where HQ names one, HQ still answers GET /v1/health, and every table
// of HQ's store (and its office list) is exactly as before.
//
// HqHostileInputThenGoodSync then sends every case to one fresh HQ and checks that a real laptop
// (the fieldsync binary) still syncs, that HQ then holds its record, and that HQ's clock was not
// moved by any of them (the next version HQ stamps is near real time).
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <limits>
#include <set>
#include <sstream>
#include <tuple>
#include <thread>

#include "core/clock.hpp"
#include "core/plugin_host.hpp"
#include "core/replica.hpp"
#include "core/tuning.hpp"
#include "hq_fixture.hpp"
#include "hq_hostile_cases.hpp"
#include "https_test_client.hpp"
#include "sync/transport/compression.hpp"
#include "sync/protocol.hpp"

namespace fieldsync {
namespace {

using namespace std::chrono_literals;
using namespace hostile;
using test::CurlReply;
using test::CurlRequest;
using test::curl_request;

// --- the HQ every case of a suite shares ---

// The change with every field as a whole state in "fields" (h, r), as a field edited since its
// creation travels: the long form the protocol also accepts for a new record. The cases below
// break that form's parts; the compact "values" form has cases of its own.
json in_long_form(json change) {
  if (!change.contains("values")) return change;
  json& fields = change["fields"];
  for (auto& [field, value] : change["values"].items()) {
    fields[field] = {{"h", json::array({json::array({change["created"][0], change["created"][1], value, change["created_by"]})})},
                     {"r", json::array()}};
  }
  change.erase("values");
  return change;
}

// A request body from a real replica of `office`, holding the records of the shared data at
// `lines` (0-based). Returns the changes as the wire has them.
std::vector<json> changes_from_data(Ctx& c, const std::string& office, std::vector<int> lines, std::string* replica_id = nullptr) {
  std::ifstream in(shared_activities());
  std::vector<json> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(json::parse(line));
  const auto home = c.dir.path() / ("replica-" + office);
  Replica::create(home, office);
  Replica replica(home, c.host);
  replica.set_author("amina");
  for (int line : lines) replica.add("activity", rows.at(static_cast<std::size_t>(line))["fields"], rows.at(static_cast<std::size_t>(line))["id"].get<std::string>());
  if (replica_id) *replica_id = replica.replica_id();
  std::vector<json> out;
  for (const auto& change : replica.outbox_page(100).changes) out.push_back(in_long_form(protocol::change_to_json(change)));
  // The outbox's order is not the order of `lines`; put them back in it.
  std::vector<json> ordered;
  for (int line : lines) {
    for (const auto& change : out) {
      if (change["id"] == rows.at(static_cast<std::size_t>(line))["id"]) ordered.push_back(change);
    }
  }
  return ordered;
}

CurlReply send_curl(const Ctx& c, const Sent& s) {
  CurlRequest r;
  r.url = c.url(s.path);
  r.method = s.method;
  r.body = s.body;
  r.headers = s.headers;
  r.ca_file = c.hq->ca_file();
  r.timeout_ms = 20000;
  return curl_request(r);
}

void push_good(Ctx& c, const std::string& token, const json& change) {
  json body = c.good_body;
  body["changes"] = json::array({change});
  const CurlReply reply = send_curl(c, post_as(token, body));
  if (reply.status != 200) throw std::runtime_error("set-up push failed: " + std::to_string(reply.status) + " " + reply.body);
}
}  // namespace

// Ctx's members that push and make records (declared in hq_hostile_cases.hpp).
namespace hostile {

const json& Ctx::stored_ner() {
  if (!ner_pushed) push_good(*this, ner_token, stored_ner_);
  ner_pushed = true;
  return stored_ner_;
}
void Ctx::make_other_offices() {
  if (!hq_record_.is_null()) return;
  const auto afg = changes_from_data(*this, "AFG", {2, 3});
  stored_afg_ = afg.at(0);
  fresh_afg_ = afg.at(1);
  hq_record_ = changes_from_data(*this, "HQ", {4}).at(0);
}
const json& Ctx::fresh_afg() {
  make_other_offices();
  return fresh_afg_;
}
const json& Ctx::hq_record() {
  make_other_offices();
  return hq_record_;
}
const json& Ctx::stored_afg() {
  make_other_offices();
  if (!afg_pushed) push_good(*this, afg_token, stored_afg_);
  afg_pushed = true;
  return stored_afg_;
}

}  // namespace hostile

namespace {

std::unique_ptr<Ctx> make_ctx() {
  auto c = std::make_unique<Ctx>();
  // The replicas (SQLite, fsync per commit) are made while HQ's processes run: each ctest
  // process pays this set-up once.
  auto replicas = std::async(std::launch::async, [&c] {
    c->host.load_directory(FIELDSYNC_TEST_PLUGIN_DIR);
    const auto ner = changes_from_data(*c, "NER", {0, 1}, &c->replica_id);
    c->good_body = {{"protocol", protocol::kVersion}, {"replica", c->replica_id}, {"cursor", 0}, {"changes", json::array({ner.at(0)})}};
    c->stored_ner_ = ner.at(1);
  });
  c->hq = std::make_unique<RunningHq>(c->dir.path() / "hq");
  c->ner_token = c->hq->add_office("NER");
  c->afg_token = c->hq->add_office("AFG");
  c->revoked_token = c->hq->add_office("MLI");
  if (run_hq(c->hq->home(), {"office", "revoke", "MLI"}).exit_code != 0) throw std::runtime_error("office revoke failed");
  c->hq->start();
  c->port = static_cast<unsigned short>(std::stoi(c->hq->url().substr(c->hq->url().rfind(':') + 1)));
  replicas.get();
  return c;
}

// GET /v1/health answers 200 "ok". From another loopback address, so these probes do not use up
// the anonymous rate limit the cases' requests count against.
bool hq_alive(const Ctx& c, std::string* why = nullptr) {
  CurlRequest r;
  r.url = c.url("/v1/health");
  r.ca_file = c.hq->ca_file();
  r.local_address = "127.0.0.3";
  const CurlReply reply = curl_request(r);
  const json body = json::parse(reply.body, nullptr, false);
  const bool ok = reply.status == 200 && body.is_object() && body.value("status", "") == "ok";
  if (!ok && why) *why = "health: curl " + std::string(curl_easy_strerror(reply.code)) + ", status " + std::to_string(reply.status) + " " + reply.body;
  return ok;
}

// What HQ answered to one case.
struct Answer {
  bool transport_ok = false;
  std::string transport_error;
  long status = 0;
  std::string content_type;
  std::string body;
  std::size_t responses = 0;     // raw: how many responses came
  bool closed = false;           // raw: HQ closed the connection
  bool says_close = false;       // raw: the response said "Connection: close"
  std::chrono::milliseconds took{0};
};

// Splits one HTTP/1.1 response off the front of `wire`; false while incomplete.
bool parse_response(const std::string& wire, long& status, std::string& content_type, std::string& body,
                    bool& says_close) {
  const auto end = wire.find("\r\n\r\n");
  if (wire.rfind("HTTP/1.", 0) != 0 || end == std::string::npos) return false;
  status = std::strtol(wire.c_str() + 9, nullptr, 10);
  std::string head = wire.substr(0, end);
  for (auto& ch : head) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::size_t length = 0;
  if (auto at = head.find("\r\ncontent-length:"); at != std::string::npos) length = std::stoul(head.substr(at + 17));
  if (auto at = head.find("\r\ncontent-type:"); at != std::string::npos) {
    content_type = head.substr(at + 15, head.find("\r\n", at + 2) - at - 15);
    while (!content_type.empty() && content_type.front() == ' ') content_type.erase(0, 1);
  }
  says_close = head.find("\r\nconnection: close") != std::string::npos;
  if (wire.size() < end + 4 + length) return false;
  body = wire.substr(end + 4, length);
  return true;
}

std::size_t count_responses(const std::string& wire) {
  std::size_t n = 0;
  for (auto at = wire.find("HTTP/1.1 "); at != std::string::npos; at = wire.find("HTTP/1.1 ", at + 1)) ++n;
  return n;
}

Answer send(Ctx& c, const Sent& s) {
  Answer a;
  const auto start = std::chrono::steady_clock::now();
  if (s.raw.empty()) {
    const CurlReply reply = send_curl(c, s);
    a.transport_ok = reply.code == CURLE_OK;
    a.transport_error = reply.error;
    a.status = reply.status;
    a.body = reply.body;
    if (auto it = reply.headers.find("content-type"); it != reply.headers.end()) a.content_type = it->second;
  } else {
    test::RawTlsClient client(c.port, c.hq->ca_file());
    if (!client.connected() || !client.write(s.raw)) {
      a.transport_error = "no TLS connection, or the write failed";
      return a;
    }
    std::string wire;
    const auto deadline = start + 5s;
    while (!parse_response(wire, a.status, a.content_type, a.body, a.says_close) &&
           std::chrono::steady_clock::now() < deadline) {
      const std::string more = client.read_some(200ms);
      if (more.empty()) std::this_thread::sleep_for(10ms);  // closed: read_some returns at once
      wire += more;
    }
    a.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    a.transport_ok = a.status != 0;
    if (!a.transport_ok) a.transport_error = "no complete response: " + shorten(wire, 300);
    if (s.wait_for_close) {
      // HQ may answer a second (smuggled) request, or keep the connection: read until it closes.
      wire += client.read_until_close(3s, a.closed);
    } else if (s.expect_close) {
      // HQ answers a smuggled request within milliseconds: 300 ms shows whether it did.
      const auto until = std::chrono::steady_clock::now() + 300ms;
      while (std::chrono::steady_clock::now() < until) {
        const std::string more = client.read_some(100ms);
        if (more.empty()) std::this_thread::sleep_for(10ms);
        wire += more;
      }
    }
    a.responses = count_responses(wire);
  }
  if (s.raw.empty()) a.took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
  return a;
}

std::string statuses_text(const std::set<long>& statuses) {
  std::string out;
  for (long s : statuses) out += (out.empty() ? "" : " or ") + std::to_string(s);
  return out;
}

// The lines of two store snapshots that differ (at most a few, shortened), for a failure message.
std::string store_diff(const std::string& before, const std::string& after) {
  auto lines = [](const std::string& text) {
    std::multiset<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.insert(line);
    return out;
  };
  const auto a = lines(before), b = lines(after);
  std::string out;
  int shown = 0;
  for (const auto& [set, other, sign] : {std::tuple{&a, &b, "- "}, std::tuple{&b, &a, "+ "}}) {
    for (const auto& line : *set) {
      if (other->count(line) >= set->count(line) || shown >= 12) continue;
      out += sign + shorten(line, 240) + "\n";
      ++shown;
    }
  }
  return out;
}

// HQ's clock as it stands in its store (what the next version it stamps builds on).
long long hq_clock(const Ctx& c) {
  return query_count(c.hq->store(), "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'clock'");
}

void expect_clock_near_real_time(const Ctx& c) {
  const long long clock = hq_clock(c);
  EXPECT_GT(clock, 0) << "HQ's clock is negative or unset: " << clock;
  EXPECT_NEAR(static_cast<double>(hlc_millis(static_cast<Hlc>(clock))), static_cast<double>(Clock::system_millis()),
              static_cast<double>(tuning::kMaxClockAheadMillis + 60'000))
      << "HQ's clock reads " << format_hlc_time(static_cast<Hlc>(clock));
}

// Sends `kase` and checks every promise of the file's header comment.
void check_case(Ctx& c, const Case& kase) {
  const Sent sent = kase.make(c);
  const std::string before = snapshot_store(c.hq->store());
  const Answer a = send(c, sent);
  ASSERT_TRUE(a.transport_ok) << a.transport_error;
  std::cout << "HQ answered " << kase.name << ": " << a.status << " " << shorten(a.body, 160) << "\n";
  EXPECT_TRUE(kase.statuses.count(a.status)) << "expected " << statuses_text(kase.statuses) << ", got " << a.status << ": "
                                             << shorten(a.body, 500);
  EXPECT_GE(a.status, 400);
  EXPECT_LT(a.status, 500);
  EXPECT_NE(a.content_type.find("application/json"), std::string::npos) << "Content-Type: " << a.content_type;
  const json error = json::parse(a.body, nullptr, false);
  EXPECT_FALSE(error.is_discarded()) << "not JSON: " << shorten(a.body, 500);
  if (!error.is_discarded()) {
    const bool shaped = error.is_object() && error.contains("error") && error["error"].is_object() &&
                        error["error"].contains("code") && error["error"]["code"].is_string() &&
                        error["error"].contains("message") && error["error"]["message"].is_string();
    EXPECT_TRUE(shaped) << "not {\"error\": {\"code\", \"message\"}}: " << shorten(a.body, 500);
    if (shaped && !kase.code.empty()) {
      EXPECT_EQ(error["error"]["code"], kase.code) << shorten(a.body, 500);
    }
  }
  if (sent.expect_close) {
    EXPECT_EQ(a.responses, 1u) << "HQ answered more than one request on a connection it should have closed";
    EXPECT_TRUE(a.says_close) << "the refusal does not say Connection: close";
    if (sent.wait_for_close) {
      EXPECT_TRUE(a.closed) << "HQ kept the connection open";
    }
  }
  if (sent.within) {
    EXPECT_LE(a.took, *sent.within) << "HQ answered only after " << a.took.count() << " ms";
  }
  std::string why;
  EXPECT_TRUE(hq_alive(c, &why)) << why;
  const std::string after = snapshot_store(c.hq->store());
  EXPECT_TRUE(after == before) << "HQ's store changed:\n" << store_diff(before, after);
  if (kase.clock_check) {
    // HQ's next write: a good record pushed as a laptop would; HQ's clock must be near now.
    json good = c.body();
    ASSERT_NO_THROW(push_good(c, c.ner_token, change0(good)));
    expect_clock_near_real_time(c);
  }
}

// --- one test per case, one HQ for all ---

class HqHostileInput : public ::testing::TestWithParam<Case> {
 protected:
  // A set-up that throws is kept and reported by each case as a failure: gtest would otherwise
  // mark the suite's cases SKIPPED, which ctest counts as not failing.
  static void SetUpTestSuite() {
    const auto started = std::chrono::steady_clock::now();
    try {
      ctx_ = make_ctx();
    } catch (const std::exception& e) {
      setup_error_ = std::string(e.what()) + " (after " +
                     std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                        std::chrono::steady_clock::now() - started).count()) + " s)";
    }
  }
  static void TearDownTestSuite() { ctx_.reset(); }
  static std::unique_ptr<Ctx> ctx_;
  static std::string setup_error_;
};
std::unique_ptr<Ctx> HqHostileInput::ctx_;
std::string HqHostileInput::setup_error_;

TEST_P(HqHostileInput, IsRefusedWithAJsonErrorAndChangesNothing) {
  ASSERT_TRUE(ctx_) << "set-up failed: " << setup_error_;
  check_case(*ctx_, GetParam());
}

INSTANTIATE_TEST_SUITE_P(Catalogue, HqHostileInput, ::testing::ValuesIn(catalogue()),
                         [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

TEST(HqHostileInputCatalogue, HasAtLeastSixtyCasesWithUniqueNames) {
  const auto cases = catalogue();
  std::set<std::string> names;
  for (const auto& c : cases) names.insert(c.name);
  EXPECT_GE(cases.size(), 60u);
  EXPECT_EQ(names.size(), cases.size());
}

// --- after every case: a real laptop still syncs, and HQ's clock was not moved ---

TEST(HqHostileInputThenGoodSync, EveryCaseThenARealLaptopStillSyncsAndHqsClockIsNearRealTime) {
  std::unique_ptr<Ctx> c = make_ctx();
  // Every case once, as fast as HQ answers: HQ is probed only when a case got no answer, and
  // closes are not waited for.
  for (const Case& kase : catalogue()) {
    Sent sent = kase.make(*c);
    sent.expect_close = sent.wait_for_close = false;
    const Answer a = send(*c, sent);
    if (!a.transport_ok) {
      std::string why;
      ASSERT_TRUE(hq_alive(*c, &why)) << "HQ died on " << kase.name << ": " << why;
    }
    EXPECT_LT(a.status, 500) << kase.name << ": " << shorten(a.body, 300);
  }
  std::string why;
  ASSERT_TRUE(hq_alive(*c, &why)) << why;

  const auto home = c->dir.path() / "laptop";
  RunResult r = run_fieldsync({"--home", home.string(), "init", "--office", "NER", "--hq", c->hq->url(), "--ca",
                               c->hq->ca_file().string(), "--token", c->ner_token});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  r = run_fieldsync({"--home", home.string(), "add", "activity", "title=Atelier de formation à Niamey", "priority_area=8",
                     "goal=2.8.1", "kind=training", "status=ongoing", "language=fr", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string id = json::parse(r.out)["id"];
  r = run_fieldsync({"--home", home.string(), "sync", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_EQ(json::parse(r.out)["sent"], 1);
  EXPECT_EQ(query_count(c->hq->store(), "SELECT count(*) FROM records WHERE id = '" + id + "'"), 1) << "HQ lacks the record";

  // HQ's clock (what the next version HQ stamps builds on) is near real time: no case moved it.
  expect_clock_near_real_time(*c);
}

}  // namespace
}  // namespace fieldsync
