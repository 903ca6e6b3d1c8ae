// HQ against a catalogue of hostile and broken requests (issue 10), table-driven.
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
#include "https_test_client.hpp"
#include "sync/transport/compression.hpp"
#include "sync/protocol.hpp"

namespace fieldsync {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
using test::CurlReply;
using test::CurlRequest;
using test::curl_request;

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
void PrintTo(const Case& kase, std::ostream* out) { *out << kase.name; }

// --- building blocks ---

json& change0(json& body) { return body["changes"][0]; }
json& head0(json& body, const std::string& field) { return change0(body)["fields"][field]["h"][0]; }

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::logic_error("'" + from + "' not in the good body");
  return text.replace(at, from.size(), to);
}

// The first (about) `n` bytes of `text`, cut at a character boundary (bodies hold Arabic text).
std::string cut_at_char(const std::string& text, std::size_t n) {
  if (text.size() <= n) return text;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0) == 0x80) --n;
  return text.substr(0, n);
}
std::string shorten(const std::string& text, std::size_t n) {
  return text.size() <= n ? text : cut_at_char(text, n) + "…";
}

// A POST /v1/sync as a NER laptop sends it, with `body`.
Sent post(Ctx& c, std::string body) {
  Sent s;
  s.body = std::move(body);
  s.headers = {"Content-Type: application/json", "Authorization: Bearer " + c.ner_token};
  return s;
}
Sent post(Ctx& c, const json& body) { return post(c, body.dump()); }
Sent post_as(const std::string& token, const json& body) {
  Sent s;
  s.body = body.dump();
  s.headers = {"Content-Type: application/json", "Authorization: Bearer " + token};
  return s;
}
Sent with_headers(Sent s, std::vector<std::string> headers) {
  s.headers = std::move(headers);
  return s;
}

// The good body with its title's value set to `marker`, dumped, and the marker (with its quotes)
// replaced by `raw` bytes: for defects JSON cannot express (invalid UTF-8, duplicate keys).
std::string good_body_text_with(Ctx& c, const std::string& raw) {
  json b = c.body();
  head0(b, "title")[2] = "@@MARKER@@";
  return replace_once(b.dump(), "\"@@MARKER@@\"", raw);
}

// A version far in the future: `years` ahead of now.
Hlc years_ahead(double years) {
  const auto millis = static_cast<std::uint64_t>(Clock::system_millis()) +
                      static_cast<std::uint64_t>(years * 365.25 * 86'400'000.0);
  return make_hlc(millis, 0);
}

std::string nested(std::size_t depth, const std::string& open, const std::string& leaf, const std::string& close) {
  std::string s;
  s.reserve(depth * (open.size() + close.size()) + leaf.size());
  for (std::size_t i = 0; i < depth; ++i) s += open;
  s += leaf;
  for (std::size_t i = 0; i < depth; ++i) s += close;
  return s;
}

std::string raw_sync_head(const std::string& extra_headers) {
  return "POST /v1/sync HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" + extra_headers;
}

// --- the catalogue ---

const std::set<long> k400{400};
const std::set<long> k401{401};
const std::set<long> k403{403};

std::vector<Case> catalogue() {
  std::vector<Case> cases;
  auto add = [&](std::string name, std::set<long> statuses, std::string code, Maker make) {
    cases.push_back(Case{std::move(name), std::move(make), std::move(statuses), std::move(code)});
  };
  // A case whose body is the good one with `edit` applied.
  auto edit = [&](std::string name, std::set<long> statuses, std::string code, std::function<void(json&)> f) {
    add(std::move(name), std::move(statuses), std::move(code), [f](Ctx& c) {
      json b = c.body();
      f(b);
      return post(c, b);
    });
  };
  auto text = [&](std::string name, std::set<long> statuses, std::string code, std::function<std::string(Ctx&)> f) {
    add(std::move(name), std::move(statuses), std::move(code), [f](Ctx& c) { return post(c, f(c)); });
  };

  // --- tokens ---
  add("TokenNone", k401, "unauthorized", [](Ctx& c) { return with_headers(post(c, c.body()), {"Content-Type: application/json"}); });
  add("TokenEmptyBearer", k401, "unauthorized",
      [](Ctx& c) { return with_headers(post(c, c.body()), {"Content-Type: application/json", "Authorization: Bearer"}); });
  add("TokenWrongScheme", k401, "unauthorized", [](Ctx& c) {
    return with_headers(post(c, c.body()), {"Content-Type: application/json", "Authorization: Basic " + c.ner_token});
  });
  add("TokenWrong", k401, "unauthorized", [](Ctx& c) { return post_as(std::string(64, 'a'), c.body()); });
  add("TokenOneCharOff", k401, "unauthorized", [](Ctx& c) {
    std::string t = c.ner_token;
    t.back() = t.back() == '0' ? '1' : '0';
    return post_as(t, c.body());
  });
  add("TokenRevoked", k401, "unauthorized", [](Ctx& c) {
    json b = c.body();
    change0(b)["office"] = "MLI";
    return post_as(c.revoked_token, b);
  });
  add("TokenOfAnotherOfficePushingItsRecords", k403, "forbidden", [](Ctx& c) { return post_as(c.afg_token, c.body()); });
  add("TokenVeryLong", k401, "unauthorized", [](Ctx& c) { return post_as(std::string(10'000, 'f'), c.body()); });
  add("TokenWithNul", {400, 401}, "", [](Ctx& c) {
    const std::string body = c.body().dump();
    Sent s;
    s.raw = raw_sync_head("Authorization: Bearer " + c.ner_token.substr(0, 10) + std::string(1, '\0') +
                          c.ner_token.substr(10) + "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n") +
            body;
    return s;
  });
  add("TokenWithCr", {400, 401}, "", [](Ctx& c) {
    const std::string body = c.body().dump();
    Sent s;
    s.raw = raw_sync_head("Authorization: Bearer " + c.ner_token.substr(0, 10) + "\r" + c.ner_token.substr(10) +
                          "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n") +
            body;
    return s;
  });
  // NEW: the token is checked when the headers arrive, before a (never sent) 1 MB body is read.
  add("WrongTokenGets401BeforeTheBodyIsRead", k401, "unauthorized", [](Ctx&) {
    Sent s;
    s.raw = raw_sync_head("Authorization: Bearer " + std::string(64, 'b') + "\r\nContent-Length: 1048576\r\n\r\n");
    s.within = 2s;
    return s;
  });
  add("NoTokenGets401BeforeTheBodyIsRead", k401, "unauthorized", [](Ctx&) {
    Sent s;
    s.raw = raw_sync_head("Content-Length: 1048576\r\n\r\n");
    s.within = 2s;
    return s;
  });

  // --- scoping ---
  add("RecordOfAnotherOffice", k403, "forbidden", [](Ctx& c) { return post(c, c.body_with(c.fresh_afg())); });
  add("RecordOfHq", k403, "forbidden", [](Ctx& c) { return post(c, c.body_with(c.hq_record())); });
  add("RelabelledOfficeOnAnExistingRecord", k403, "forbidden", [](Ctx& c) {
    json change = c.stored_afg();  // AFG's, at HQ; a NER device says it is NER's
    change["office"] = "NER";
    return post(c, c.body_with(change));
  });
  add("ChangeMovingARecordToAnotherOffice", k403, "forbidden", [](Ctx& c) {
    json change = c.stored_ner();  // NER's, at HQ; AFG claims it as AFG's
    change["office"] = "AFG";
    return post_as(c.afg_token, c.body_with(change));
  });

  // --- shape ---
  text("NotJson", k400, "invalid_input", [](Ctx&) { return std::string("this is not JSON"); });
  text("TruncatedJson", k400, "invalid_input", [](Ctx& c) {
    const std::string b = c.body().dump();
    return cut_at_char(b, b.size() / 2);
  });
  text("JsonArrayTopLevel", k400, "invalid_input", [](Ctx& c) { return json::array({c.body()}).dump(); });
  text("EmptyBody", k400, "invalid_input", [](Ctx&) { return std::string(); });
  edit("MissingProtocol", k400, "invalid_input", [](json& b) { b.erase("protocol"); });
  edit("MissingReplica", k400, "invalid_input", [](json& b) { b.erase("replica"); });
  edit("MissingCursor", k400, "invalid_input", [](json& b) { b.erase("cursor"); });
  edit("MissingChanges", k400, "invalid_input", [](json& b) { b.erase("changes"); });
  edit("ChangeMissingCreated", k400, "invalid_input", [](json& b) { change0(b).erase("created"); });
  edit("ChangeMissingId", k400, "invalid_input", [](json& b) { change0(b).erase("id"); });
  edit("ProtocolAsString", k400, "invalid_input", [](json& b) { b["protocol"] = "1"; });
  edit("CursorAsString", k400, "invalid_input", [](json& b) { b["cursor"] = "0"; });
  edit("SchemaVersionAsString", k400, "invalid_input", [](json& b) { change0(b)["schema_version"] = "1"; });
  edit("VersionAsString", k400, "invalid_input", [](json& b) { head0(b, "title")[0] = std::to_string(head0(b, "title")[0].get<Hlc>()); });
  edit("UnknownProtocolVersion", k400, "invalid_input", [](json& b) { b["protocol"] = 2; });
  // sync_request.schema.json: "additionalProperties": false.
  edit("ExtraTopLevelField", k400, "invalid_input", [](json& b) { b["debug"] = true; });
  edit("ExtraChangeField", k400, "invalid_input", [](json& b) { change0(b)["owner"] = "NER"; });
  edit("NegativeCursor", k400, "invalid_input", [](json& b) { b["cursor"] = -1; });
  edit("CursorAsFloat", k400, "invalid_input", [](json& b) { b["cursor"] = 1e30; });
  edit("CursorPastInt64", k400, "", [](json& b) { b["cursor"] = std::numeric_limits<std::uint64_t>::max(); });
  edit("ChangesNotAnArray", k400, "invalid_input", [](json& b) { b["changes"] = change0(b); });
  edit("MalformedUuidId", k400, "invalid_input", [](json& b) { change0(b)["id"] = "not-a-uuid"; });
  edit("UpperCaseUuidId", k400, "invalid_input", [](json& b) {
    std::string id = change0(b)["id"];
    for (auto& ch : id) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
    change0(b)["id"] = id;
  });
  // DESIGN.md: "HQ publishes the types, so HQ refuses records of a type it does not know".
  edit("UnknownTypeName", {400, 404}, "", [](json& b) { change0(b)["type"] = "weather_report"; });
  edit("FieldsNotAnObject", k400, "invalid_input", [](json& b) { change0(b)["fields"] = json::array(); });
  edit("FieldsEmpty", k400, "invalid_input", [](json& b) { change0(b)["fields"] = json::object(); });
  edit("FieldStateWithoutHeads", k400, "invalid_input", [](json& b) { change0(b)["fields"]["title"].erase("h"); });
  edit("ReplicaNotHex", k400, "invalid_input", [](json& b) { b["replica"] = "ZZZZZZZZZZZZZZZZ"; });

  // --- nesting (NEW: bounded depth, iterative walks) ---
  text("Nesting100kBracketsAsBody", k400, "", [](Ctx&) { return std::string(100'000, '['); });
  text("Nesting100kArraysAsFieldValue", k400, "", [](Ctx& c) { return good_body_text_with(c, nested(100'000, "[", "1", "]")); });
  text("Nesting10kObjectsInFields", k400, "", [](Ctx& c) {
    return good_body_text_with(c, nested(10'000, "{\"a\":", "1", "}"));
  });

  // --- duplicate keys (NEW) ---
  text("DuplicateOfficeKey", k400, "", [](Ctx& c) {
    return replace_once(c.body().dump(), "\"office\":\"NER\"", "\"office\":\"AFG\",\"office\":\"NER\"");
  });
  text("DuplicateFieldKey", k400, "", [](Ctx& c) {
    json b = c.body();
    json other = change0(b)["fields"]["title"];
    other["h"][0][2] = "Atelier régional sur la sécurité alimentaire";
    return replace_once(b.dump(), "\"fields\":{", "\"fields\":{\"title\":" + other.dump() + ",");
  });
  text("DuplicateTopLevelKey", k400, "", [](Ctx& c) {
    return replace_once(c.body().dump(), "\"cursor\":0", "\"cursor\":0,\"cursor\":5");
  });

  // --- NUL ---
  edit("NulInTextField", k400, "", [](json& b) { head0(b, "title")[2] = std::string("ورشة\0عمل", sizeof("ورشة\0عمل") - 1); });
  edit("NulInFieldName", k400, "", [](json& b) {
    json& fields = change0(b)["fields"];
    json place = fields["title"];
    place["h"][0][2] = "Niamey";
    fields[std::string("pla\0ce", 6)] = place;
  });
  edit("NulInId", k400, "", [](json& b) {
    std::string id = change0(b)["id"];
    id[35] = '\0';
    change0(b)["id"] = id;
  });

  // --- versions (NEW: every version of a change checked before anything, the clock included) ---
  edit("CreationVersion30YearsAhead", {400, 409}, "", [](json& b) { change0(b)["created"][0] = years_ahead(30); });
  edit("CreationVersionInt64Max", {400, 409}, "",
       [](json& b) { change0(b)["created"][0] = std::numeric_limits<std::int64_t>::max(); });
  edit("CreationVersionUint64Max", {400, 409}, "",
       [](json& b) { change0(b)["created"][0] = std::numeric_limits<std::uint64_t>::max(); });
  edit("CreationVersionNegative", k400, "", [](json& b) { change0(b)["created"][0] = -5; });
  edit("ReplacedVersionFarAhead", {400, 409}, "", [](json& b) {
    json& title = change0(b)["fields"]["title"];
    title["r"] = json::array({json::array({years_ahead(30), title["h"][0][1]})});
  });
  edit("TombstoneVersionFarAhead", {400, 409}, "", [](json& b) {
    const json& title = head0(b, "title");
    change0(b)["fields"][kDeletedField] = {{"h", json::array({json::array({years_ahead(30), title[1], true, title[3]})})}};
  });
  edit("HeadVersionFarAhead", {409}, "clock_ahead", [](json& b) { head0(b, "title")[0] = years_ahead(3.0 / 365.25); });
  edit("HeadVersionInt64Max", {400, 409}, "", [](json& b) { head0(b, "title")[0] = std::numeric_limits<std::int64_t>::max(); });

  // --- values (NEW: every value a field state holds is checked) ---
  edit("LosingConcurrentHeadBogusStatus", k400, "", [](json& b) {
    json& heads = change0(b)["fields"]["status"]["h"];
    json losing = heads[0];
    losing[0] = losing[0].get<Hlc>() - 1;
    losing[1] = "00000000000000aa";
    losing[2] = "bogus-status";
    heads.insert(heads.begin(), losing);
  });
  edit("TombstoneWith1KbObjectValue", k400, "", [](json& b) {
    const json& title = head0(b, "title");
    change0(b)["fields"][kDeletedField] = {
        {"h", json::array({json::array({title[0], title[1], json{{"blob", std::string(1024, 'x')}}, title[3]})})}};
  });
  add("SameVersionResentWithADifferentValue", {400, 409}, "", [](Ctx& c) {
    json change = c.stored_ner();
    change["fields"]["title"]["h"][0][2] = "Un autre titre pour la même version";
    return post(c, c.body_with(change));
  });

  // --- the activity schema, each rule broken once ---
  edit("SchemaRequiredTitleMissing", k400, "validation", [](json& b) { change0(b)["fields"].erase("title"); });
  edit("SchemaTitleEmpty", k400, "validation", [](json& b) { head0(b, "title")[2] = ""; });
  edit("SchemaTitleTooLong", k400, "validation", [](json& b) { head0(b, "title")[2] = std::string(301, 'a'); });
  edit("SchemaKindNotInEnum", k400, "validation", [](json& b) { head0(b, "kind")[2] = "party"; });
  edit("SchemaStatusNotInEnum", k400, "validation", [](json& b) { head0(b, "status")[2] = "bogus-status"; });
  edit("SchemaGoalPattern", k400, "validation", [](json& b) { head0(b, "goal")[2] = "3.1"; });
  edit("SchemaPriorityAreaBelowMinimum", k400, "validation", [](json& b) { head0(b, "priority_area")[2] = 0; });
  edit("SchemaPriorityAreaAboveMaximum", k400, "validation", [](json& b) { head0(b, "priority_area")[2] = 19; });
  edit("SchemaPriorityAreaAsString", k400, "validation", [](json& b) { head0(b, "priority_area")[2] = "1"; });
  edit("SchemaStartDatePattern", k400, "validation", [](json& b) { head0(b, "start_date")[2] = "26/09/2018"; });
  edit("SchemaStartDateNotACalendarDate", k400, "validation", [](json& b) { head0(b, "start_date")[2] = "2018-02-30"; });
  edit("SchemaEndDateBeforeStartDate", k400, "validation", [](json& b) {
    json& fields = change0(b)["fields"];
    fields["end_date"] = fields["start_date"];
    fields["end_date"]["h"][0][2] = "2018-09-01";  // start_date is 2018-09-26
  });
  edit("SchemaUnknownField", k400, "validation", [](json& b) {
    json& fields = change0(b)["fields"];
    fields["colour"] = fields["title"];
    fields["colour"]["h"][0][2] = "bleu";
  });
  edit("SchemaLanguagePattern", k400, "validation", [](json& b) { head0(b, "language")[2] = "Arabic"; });
  // The compact form of a new record: every field as created, as its bare value in "values".
  auto compact = [](json& change) {
    json values = json::object();
    for (auto& [field, state] : change["fields"].items()) values[field] = state["h"][0][2];
    change.erase("fields");
    change["values"] = values;
  };
  edit("CompactValueBreaksSchema", k400, "validation", [compact](json& b) {
    compact(change0(b));
    change0(b)["values"]["priority_area"] = 99;
  });
  edit("CompactUnknownField", k400, "validation", [compact](json& b) {
    compact(change0(b));
    change0(b)["values"]["colour"] = "bleu";
  });
  edit("CompactFieldGivenTwiceWithTwoValues", k400, "invalid_input", [compact](json& b) {
    json long_title = change0(b)["fields"]["title"];
    compact(change0(b));
    long_title["h"][0][2] = "Un autre titre";
    change0(b)["fields"] = {{"title", long_title}};
  });
  edit("CompactNoFieldAtAll", k400, "invalid_input", [compact](json& b) {
    compact(change0(b));
    change0(b)["values"] = json::object();
  });
  edit("CompactTombstoneNotABool", k400, "invalid_input", [compact](json& b) {
    compact(change0(b));
    change0(b)["values"]["_deleted"] = "yes";
  });

  // --- encodings ---
  text("InvalidUtf8InValue", k400, "", [](Ctx& c) { return good_body_text_with(c, "\"ورشة \xC3\x28 عمل\""); });
  text("InvalidUtf8InKey", k400, "", [](Ctx& c) {
    json b = c.body();
    json place = change0(b)["fields"]["title"];
    place["h"][0][2] = "Niamey";
    return replace_once(b.dump(), "\"fields\":{", "\"fields\":{\"pl\xFF" "ace\":" + place.dump() + ",");
  });
  text("OverlongUtf8", k400, "", [](Ctx& c) { return good_body_text_with(c, "\"Niamey \xC0\xAF\""); });
  text("LoneSurrogateEscape", k400, "", [](Ctx& c) { return good_body_text_with(c, "\"Niamey \\ud800\""); });
  add("ZstdCorruptFrame", k400, "", [](Ctx& c) {
    std::string z = zstd_compress(c.body().dump());
    for (std::size_t i = z.size() / 2; i < z.size() / 2 + 8 && i < z.size(); ++i) z[i] = static_cast<char>(z[i] ^ 0x5a);
    Sent s = post(c, z);
    s.headers.push_back("Content-Encoding: zstd");
    return s;
  });
  add("ZstdTruncatedFrame", k400, "", [](Ctx& c) {
    std::string z = zstd_compress(c.body().dump());
    Sent s = post(c, z.substr(0, z.size() - 5));
    s.headers.push_back("Content-Encoding: zstd");
    return s;
  });
  add("ZstdBombPast16MiB", {400, 413}, "", [](Ctx& c) {
    Sent s = post(c, zstd_compress(std::string(tuning::kHttpMaxBodyBytes + 1024 * 1024, ' ')));
    s.headers.push_back("Content-Encoding: zstd");
    return s;
  });
  add("GzipCorrupt", k400, "", [](Ctx& c) {
    std::string z = gzip_compress(c.body().dump());
    for (std::size_t i = z.size() / 2; i < z.size() / 2 + 8 && i < z.size(); ++i) z[i] = static_cast<char>(z[i] ^ 0x5a);
    Sent s = post(c, z);
    s.headers.push_back("Content-Encoding: gzip");
    return s;
  });
  add("UnknownContentEncoding", {400, 415}, "", [](Ctx& c) {
    Sent s = post(c, c.body());
    s.headers.push_back("Content-Encoding: br");
    return s;
  });
  add("ContentTypeTextPlain", {400, 415}, "", [](Ctx& c) {
    Sent s = post(c, c.body());
    s.headers[0] = "Content-Type: text/plain";
    return s;
  });

  // --- limits ---
  text("BodyOver16MiB", {413}, "body_too_large", [](Ctx&) { return std::string(tuning::kHttpMaxBodyBytes + 1024 * 1024, ' '); });
  text("MoreRecordsThanThePushLimit", {413}, "page_too_large", [](Ctx& c) {
    json b = c.body();
    for (std::size_t i = 0; i < tuning::kSyncMaxPushRecords; ++i) {
      json change = change0(b);
      change["id"] = c.fresh_id();
      b["changes"].push_back(std::move(change));
    }
    return b.dump();
  });
  add("HeaderBlockOverTheLimit", {400, 431}, "", [](Ctx& c) {
    Sent s = post(c, c.body());
    s.headers.push_back("X-Padding: " + std::string(tuning::kHttpMaxHeaderBytes + 1024, 'p'));
    return s;
  });
  add("TooManyHeaderFields", {400, 431}, "", [](Ctx& c) {
    Sent s = post(c, c.body());
    for (std::size_t i = 0; i < tuning::kHttpMaxHeaderFields + 10; ++i) s.headers.push_back("X-H" + std::to_string(i) + ": 1");
    return s;
  });
  add("VeryLongUrl", {400, 414}, "", [](Ctx& c) {
    Sent s = post(c, c.body());
    s.path = "/v1/sync?pad=" + std::string(tuning::kHttpMaxTargetBytes + 1024, 'u');
    return s;
  });

  // --- framing (raw bytes over TLS): a request whose length is not certain is answered once
  // with 400 and the connection closed; the "body" — here a GOOD sync of a new record — is never
  // read as a second request ---
  auto smuggled = [](Ctx& c) {
    const std::string body = c.body().dump();
    return raw_sync_head("Authorization: Bearer " + c.ner_token + "\r\nContent-Length: " + std::to_string(body.size()) +
                         "\r\n\r\n") +
           body;
  };
  auto framing = [&](std::string name, std::function<std::string(Ctx&)> head, bool wait_for_close = false) {
    add(std::move(name), k400, "bad_request", [head, smuggled, wait_for_close](Ctx& c) {
      Sent s;
      s.raw = head(c) + smuggled(c);
      s.expect_close = true;
      s.wait_for_close = wait_for_close;
      return s;
    });
  };
  framing("UnknownTransferEncodingSmugglingASecondRequest", [](Ctx& c) {
    return raw_sync_head("Authorization: Bearer " + c.ner_token + "\r\nTransfer-Encoding: foo\r\n\r\n");
  }, /*wait_for_close=*/true);
  framing("ContentLengthAndTransferEncoding", [](Ctx& c) {
    return raw_sync_head("Authorization: Bearer " + c.ner_token + "\r\nContent-Length: 0\r\nTransfer-Encoding: chunked\r\n\r\n");
  });
  framing("TwoDifferentContentLengths", [](Ctx& c) {
    return raw_sync_head("Authorization: Bearer " + c.ner_token + "\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n");
  });
  framing("BadChunkSize", [](Ctx& c) {
    return raw_sync_head("Authorization: Bearer " + c.ner_token + "\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
  });
  framing("Http10GarbageRequestLine", [](Ctx&) { return std::string("G@RB@GE\x01 /v1/sync HTTP/1.0\r\n\r\n"); });
  framing("ObsFoldedHeader", [](Ctx& c) {
    return raw_sync_head("Authorization: Bearer " + c.ner_token + "\r\nX-A: 1\r\n Content-Length: 0\r\n\r\n");
  });

  // --- routes ---
  add("UnknownPath", {404}, "not_found", [](Ctx& c) {
    Sent s = post(c, c.body());
    s.method = "GET";
    s.path = "/v1/nowhere";
    return s;
  });
  add("GetOnSync", {405}, "method_not_allowed", [](Ctx& c) {
    Sent s = post(c, c.body());
    s.method = "GET";
    return s;
  });
  add("PostOnHealth", {405}, "method_not_allowed", [](Ctx& c) {
    Sent s = post(c, c.body());
    s.path = "/v1/health";
    return s;
  });
  for (auto& kase : cases) {
    for (const char* versions : {"CreationVersion", "ReplacedVersion", "TombstoneVersion", "HeadVersion"}) {
      if (kase.name.rfind(versions, 0) == 0) kase.clock_check = true;
    }
  }
  return cases;
}

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
