// The catalogue of hostile and broken requests HQ is held to (tests/hq_hostile_input_test.cpp):
// what a case sends, what it expects, and the shared material every case is made from.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/plugin_host.hpp"
#include "hq_fixture.hpp"

namespace fieldsync::hostile {

using json = nlohmann::json;

// --- what a case sends and what it expects ---

struct Sent {
  std::string method = "POST";
  std::string path = "/v1/sync";
  std::vector<std::string> headers;  // "Name: value", for curl
  std::string body;
  std::string raw;            // not empty: send these bytes over a raw TLS socket instead
  // raw: exactly one response, saying "Connection: close" (a second, smuggled request is never
  // answered); with wait_for_close, HQ must also close the connection within 3 s.
  bool expect_close = false;
  bool wait_for_close = false;
  std::optional<std::chrono::milliseconds> within;  // raw: the answer must arrive this fast
};

// The HQ, tokens and good material every case is made from (built once per suite).
struct Ctx {
  TempDir dir;
  PluginHost host;
  std::unique_ptr<RunningHq> hq;
  std::string ner_token, afg_token, revoked_token;
  unsigned short port = 0;
  json good_body;           // a sync request: one new NER record not at HQ
  json stored_ner_;         // a NER record HQ holds (pushed before the first case that uses it)
  json stored_afg_;         // an AFG record HQ holds (likewise)
  bool ner_pushed = false, afg_pushed = false;
  json fresh_afg_;          // an AFG record HQ does not hold
  json hq_record_;          // a record of office HQ
  std::string replica_id;   // the NER replica that made good_body
  int next_id = 0;

  // A UUID no other case used, so a case that HQ wrongly accepts cannot change what the next
  // case means (each case creates a record of its own).
  std::string fresh_id() {
    char buf[40];
    std::snprintf(buf, sizeof buf, "0190f000-0000-7000-8000-%012x", ++next_id);
    return buf;
  }
  // The good request with a fresh record id: HQ would store it (200).
  json body() {
    json b = good_body;
    b["changes"][0]["id"] = fresh_id();
    return b;
  }
  // A request carrying `change` (of the NER replica).
  json body_with(const json& change) {
    json b = good_body;
    b["changes"] = json::array({change});
    return b;
  }
  std::string url(const std::string& path) const { return hq->url() + path; }
  // The stored records, pushed (as a laptop would) on first use: a case's request is made before
  // its baseline snapshot is taken, so the baseline holds them. Pushed lazily because each ctest
  // process runs one case and most cases do not need them.
  const json& stored_ner();
  const json& stored_afg();
  // The AFG and HQ replicas' records, made on first use (few cases need them).
  const json& fresh_afg();
  const json& hq_record();
  void make_other_offices();
};

using Maker = std::function<Sent(Ctx&)>;

struct Case {
  std::string name;          // the test's name: letters, digits, underscores
  Maker make;
  std::set<long> statuses;   // acceptable answers
  std::string code;          // the JSON error code expected; empty: any code
  // After the refusal, HQ's next write (a good push) must leave its clock near real time: a
  // refused version must not have moved it, even in memory.
  bool clock_check = false;
};
// gtest prints a failing case's parameter: its name says it.
inline void PrintTo(const Case& kase, std::ostream* out) { *out << kase.name; }

// --- helpers the cases and the runner share ---

inline json& change0(json& body) { return body["changes"][0]; }

// The first (about) `n` bytes of `text`, cut at a character boundary (bodies hold Arabic text).
inline std::string cut_at_char(const std::string& text, std::size_t n) {
  if (text.size() <= n) return text;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}
inline std::string shorten(const std::string& text, std::size_t n) {
  return text.size() <= n ? text : cut_at_char(text, n) + "…";
}

inline Sent post_as(const std::string& token, const json& body) {
  Sent s;
  s.body = body.dump();
  s.headers = {"Content-Type: application/json", "Authorization: Bearer " + token};
  return s;
}

// Every case, in a fixed order (gtest names each test by its case's name).
std::vector<Case> catalogue();

}  // namespace fieldsync::hostile
