// The catalogue of hostile requests (see hq_hostile_cases.hpp): each a good sync request with
// exactly one thing broken, or a raw request for the framing cases.
#include "hq_hostile_cases.hpp"

#include <limits>
#include <sstream>
#include <stdexcept>

#include "core/clock.hpp"
#include "core/tuning.hpp"
#include "sync/protocol.hpp"
#include "sync/transport/compression.hpp"

namespace fieldsync::hostile {
namespace {

using namespace std::chrono_literals;

// --- building blocks ---

json& head0(json& body, const std::string& field) { return change0(body)["fields"][field]["h"][0]; }

std::string replace_once(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) throw std::logic_error("'" + from + "' not in the good body");
  return text.replace(at, from.size(), to);
}

// A POST /v1/sync as a NER laptop sends it, with `body`.
Sent post(Ctx& c, std::string body) {
  Sent s;
  s.body = std::move(body);
  s.headers = {"Content-Type: application/json", "Authorization: Bearer " + c.ner_token};
  return s;
}
Sent post(Ctx& c, const json& body) { return post(c, body.dump()); }
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

}  // namespace

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

}  // namespace fieldsync::hostile
