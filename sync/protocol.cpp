#include "sync/protocol.hpp"

#include <algorithm>
#include <type_traits>

#include "core/error.hpp"
#include "core/json_input.hpp"
#include "core/merge.hpp"
#include "core/schema_validator.hpp"
#include "core/text.hpp"
#include "core/tuning.hpp"
#include "core/uuid.hpp"
#include "sync/internal/protocol_shape.hpp"

namespace fieldsync::protocol {

// The schema files, embedded at build time (see sync/CMakeLists.txt).
std::string_view sync_request_schema();
std::string_view sync_response_schema();
std::string_view record_change_schema();

namespace {

// The message schema with the record-change schema put in place of its "$ref", so one
// validator checks a whole body without fetching anything.
nlohmann::json composed_schema(std::string_view message_schema) {
  nlohmann::json message = nlohmann::json::parse(message_schema);
  nlohmann::json change = nlohmann::json::parse(record_change_schema());
  message["definitions"] = change["definitions"];
  change.erase("definitions");
  change.erase("$schema");
  message["properties"]["changes"]["items"] = change;
  return message;
}

// Validators are not thread-safe (see schema_validator.hpp): one per thread.
const SchemaValidator& request_validator() {
  thread_local const SchemaValidator validator(composed_schema(sync_request_schema()));
  return validator;
}
const SchemaValidator& response_validator() {
  thread_local const SchemaValidator validator(composed_schema(sync_response_schema()));
  return validator;
}

// Malformed JSON or UTF-8, nesting past tuning::kJsonMaxDepth, a key twice, a NUL: refused while
// parsing (json_input), before the schema check or anything else walks the body.
nlohmann::json parse_body(std::string_view body, const char* what) {
  return parse_json_input(body, std::string("the ") + what);
}

// `quick`, when given, vouches for bodies of the shape without the validator (see sync/internal/protocol_shape.hpp).
void check_shape(const SchemaValidator& validator, const nlohmann::json& body, const char* what,
                 bool (*quick)(const nlohmann::json&) = nullptr) {
  if (body.is_object() && body.contains("protocol") && body["protocol"].is_number_integer() &&
      body["protocol"].get<int>() != kVersion) {
    throw Error(Errc::invalid_input, "protocol version " + body["protocol"].dump() + " is not supported (this side speaks " +
                                         std::to_string(kVersion) + ")");
  }
  if (quick != nullptr && quick(body)) return;
  auto issues = validator.validate(body);
  if (!issues.empty()) {
    std::string message = std::string("the ") + what + " does not have the protocol's shape";
    throw Error(Errc::invalid_input, message, "", std::move(issues));
  }
}

RecordChange take_change(nlohmann::json& json);

}  // namespace

bool request_schema_accepts(const nlohmann::json& body) { return request_validator().validate(body).empty(); }
bool response_schema_accepts(const nlohmann::json& body) { return response_validator().validate(body).empty(); }

namespace {

// A list of changes no one needs afterwards (a decoded page): their texts and values are moved
// into the changes rather than copied.
std::vector<RecordChange> changes_from(nlohmann::json&& list) {
  std::vector<RecordChange> out;
  out.reserve(list.size());
  for (auto& item : list) out.push_back(take_change(item));
  return out;
}

nlohmann::json changes_to(const std::vector<RecordChange>& changes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& change : changes) out.push_back(change_to_json(change));
  return out;
}

}  // namespace

namespace {

// A field still as created: its one write is the creation itself (version and author), replacing
// nothing. The receiver rebuilds that state from the bare value and the record's identity, so it
// crosses the wire as the value alone: a new record costs about its fields' JSON.
bool as_created(const FieldState& state, const RecordChange& change) {
  return state.replaced.empty() && state.heads.size() == 1 && state.heads.front().version == change.created &&
         state.heads.front().author == change.created_by;
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// [a-z][a-z0-9_]{0,63}
bool is_type_name(const std::string& name) {
  return !name.empty() && name.size() <= 64 && name[0] >= 'a' && name[0] <= 'z' &&
         std::all_of(name.begin(), name.end(), [](char c) { return is_lower_alnum(c) || c == '_'; });
}

// Three capital letters (ISO 3166-1 alpha-3), or HQ.
bool is_office_code(const std::string& office) {
  return office == "HQ" || (office.size() == 3 && std::all_of(office.begin(), office.end(), [](char c) { return c >= 'A' && c <= 'Z'; }));
}

// [A-Za-z_][A-Za-z0-9_]{0,63}
bool is_field_name(const std::string& name) {
  auto word = [](char c) { return (c >= 'A' && c <= 'Z') || is_lower_alnum(c) || c == '_'; };
  return !name.empty() && name.size() <= 64 && !(name[0] >= '0' && name[0] <= '9') && std::all_of(name.begin(), name.end(), word);
}

// The text rules of a change, in code rather than as schema patterns (see the schema's $comment).
void check_names(const RecordChange& change) {
  const std::string where = uuid::canonical(change.id) == change.id ? "record " + change.id : "";
  auto refuse = [&](const std::string& field, const std::string& rule, const std::string& message) {
    throw Error(Errc::invalid_input, message, where, {FieldIssue{field, rule, message}});
  };
  if (uuid::canonical(change.id) != change.id) refuse("id", "pattern", "the record id is not a lower-case UUID");
  if (!is_type_name(change.type)) refuse("type", "pattern", "the type name must be lower-case letters, digits and _ (at most 64)");
  if (!is_office_code(change.office)) refuse("office", "pattern", "the office must be three capital letters (NER, AFG…) or HQ");
  for (const auto& [field, state] : change.fields) {
    if (field != kDeletedField && !is_field_name(field)) {
      refuse(text::is_valid_utf8(field) ? field : "", "pattern",
             "a field name must be letters, digits and _, not starting with a digit (at most 64)");
    }
  }
}

}  // namespace

nlohmann::json change_to_json(const RecordChange& change) {
  nlohmann::json values = nlohmann::json::object();
  nlohmann::json fields = nlohmann::json::object();
  for (const auto& [field, state] : change.fields) {
    if (as_created(state, change)) {
      values[field] = state.heads.front().value;
    } else {
      fields[field] = field_state_to_json(state);
    }
  }
  nlohmann::json out = {{"id", change.id},
                        {"type", change.type},
                        {"office", change.office},
                        {"schema_version", change.schema_version},
                        {"created", {change.created.hlc, change.created.replica}},
                        {"created_by", change.created_by}};
  if (!values.empty()) out["values"] = std::move(values);
  if (!fields.empty()) out["fields"] = std::move(fields);
  return out;
}

namespace {

// `text` as dump() writes a JSON string. Ids, type and office names, replica ids and most authors
// need no escape and are copied between quotes; anything else goes through dump() itself (which
// also refuses invalid UTF-8, as it would have).
void append_json_string(std::string& out, const std::string& text) {
  const bool plain = std::none_of(text.begin(), text.end(), [](char c) {
    return c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20;
  });
  if (plain && text::is_valid_utf8(text)) {
    out += '"';
    out += text;
    out += '"';
  } else {
    out += nlohmann::json(text).dump();
  }
}

}  // namespace

std::string change_text(const OutgoingChange& outgoing) {
  if (outgoing.created_values.empty()) return change_to_json(outgoing.change).dump();
  // A record still as created (a first push or pull is thousands): change_to_json's object of a
  // change without fields, written as dump() writes it — keys in order, no spaces — without
  // building it, then its stored values, spliced in last ("values" sorts after every other key).
  const RecordChange& change = outgoing.change;
  std::string text;
  text.reserve(outgoing.created_values.size() + 200);
  text += "{\"created\":[";
  text += std::to_string(change.created.hlc);
  text += ',';
  append_json_string(text, change.created.replica);
  text += "],\"created_by\":";
  append_json_string(text, change.created_by);
  text += ",\"id\":";
  append_json_string(text, change.id);
  text += ",\"office\":";
  append_json_string(text, change.office);
  text += ",\"schema_version\":";
  text += std::to_string(change.schema_version);
  text += ",\"type\":";
  append_json_string(text, change.type);
  if (outgoing.created_values != "{}") {  // no field at all: no "values" either
    text += ",\"values\":";
    text += outgoing.created_values;
  }
  text += '}';
  return text;
}

namespace {

// What a change is made of, from a document the caller still needs (copied) or one it hands
// over (moved: a pushed page's texts and values are not copied twice).
template <class Json>
std::string text_of(Json& value) {
  if constexpr (std::is_const_v<Json>) {
    return value.template get<std::string>();
  } else {
    return std::move(value.template get_ref<std::string&>());
  }
}
template <class Json>
nlohmann::json value_of(Json& value) {
  if constexpr (std::is_const_v<Json>) {
    return value;
  } else {
    return std::move(value);
  }
}

// change_from_json, from a document kept (const) or given up. Fields arrive in key order (an
// object is a sorted map), so each goes in at the end of change.fields.
template <class Json>
RecordChange change_of(Json& json) {
  RecordChange change;
  change.id = text_of(json.at("id"));
  change.type = text_of(json.at("type"));
  change.office = text_of(json.at("office"));
  change.schema_version = json.at("schema_version").template get<int>();
  auto& created = json.at("created");
  change.created = FieldVersion{created.at(0).template get<Hlc>(), text_of(created.at(1))};
  change.created_by = text_of(json.at("created_by"));
  if (const auto values = json.find("values"); values != json.end()) {
    for (auto& [field, value] : values->template get_ref<std::conditional_t<std::is_const_v<Json>, const nlohmann::json::object_t&,
                                                                             nlohmann::json::object_t&>>()) {
      change.fields.emplace_hint(change.fields.end(), field,
                                 initial_state(FieldWrite{change.created, value_of(value), change.created_by}));
    }
  }
  if (const auto fields = json.find("fields"); fields != json.end()) {
    for (const auto& [field, state] : fields->items()) {
      if (change.fields.count(field)) {
        throw Error(Errc::invalid_input, "field '" + field + "' is given twice, as created and as changed",
                    "record " + change.id, {FieldIssue{field, "field_state", "given in both \"values\" and \"fields\""}});
      }
      try {
        change.fields[field] = field_state_from_json(state, field);
      } catch (const Error& e) {
        throw Error(Errc::invalid_input, e.what(), "record " + change.id, e.issues());
      }
    }
  }
  check_names(change);
  return change;
}

RecordChange take_change(nlohmann::json& json) { return change_of(json); }

}  // namespace

RecordChange change_from_json(const nlohmann::json& json) { return change_of(json); }

std::string encode_changes(const std::vector<RecordChange>& changes) { return changes_to(changes).dump(); }

std::string request_head(const SyncRequest& request) {
  nlohmann::json head = {{"protocol", request.protocol}, {"replica", request.replica}, {"cursor", request.cursor}};
  if (request.max_pull != 0) head["max_pull"] = request.max_pull;
  if (request.max_pull_bytes != 0) head["max_pull_bytes"] = request.max_pull_bytes;
  // {…head…, "changes": …}: the head's text without its closing brace.
  std::string text = head.dump();
  text.pop_back();
  text += ",\"changes\":";
  return text;
}

std::string changes_tail(std::string_view changes_json) {
  std::string tail;
  tail.reserve(changes_json.size() + 1);
  tail += changes_json;
  tail += '}';
  return tail;
}

std::string encode(const SyncRequest& request, std::string_view changes_json) {
  return request_head(request) + changes_tail(changes_json);
}

std::string encode(const SyncRequest& request) { return encode(request, encode_changes(request.changes)); }

std::string encode(const SyncResponse& response, std::string_view changes_json) {
  // The head as dump() writes it, then "changes" as its text (JSON keys have no order).
  std::string body = nlohmann::json{{"cursor", response.cursor}, {"hq_time", response.hq_time}}.dump();
  body.pop_back();
  body.reserve(body.size() + changes_json.size() + 64);
  body += ",\"more\":";
  body += response.more ? "true" : "false";
  body += ",\"protocol\":" + std::to_string(response.protocol);
  body += ",\"stored\":" + std::to_string(response.stored);
  if (response.catalogue != 0) body += ",\"catalogue\":" + std::to_string(response.catalogue);
  body += ",\"changes\":";
  body += changes_json;
  body += '}';
  return body;
}

std::string encode(const SyncResponse& response) {
  nlohmann::json body = {{"protocol", response.protocol},
                         {"stored", response.stored},
                         {"changes", changes_to(response.changes)},
                         {"cursor", response.cursor},
                         {"more", response.more},
                         {"hq_time", response.hq_time}};
  if (response.catalogue != 0) body["catalogue"] = response.catalogue;
  return body.dump();
}

SyncRequest decode_sync_request(std::string_view body) {
  nlohmann::json json = parse_body(body, "sync request");
  check_shape(request_validator(), json, "sync request", is_sync_request_shape);
  SyncRequest request;
  request.protocol = json["protocol"].get<int>();
  request.replica = json["replica"].get<std::string>();
  request.cursor = json["cursor"].get<std::int64_t>();
  if (json.contains("max_pull")) request.max_pull = json["max_pull"].get<std::size_t>();
  if (json.contains("max_pull_bytes")) request.max_pull_bytes = json["max_pull_bytes"].get<std::size_t>();
  request.changes = changes_from(std::move(json["changes"]));
  return request;
}

SyncResponse decode_sync_response(std::string_view body) {
  nlohmann::json json = parse_body(body, "answer from HQ");
  check_shape(response_validator(), json, "answer from HQ", is_sync_response_shape);
  SyncResponse response;
  response.protocol = json["protocol"].get<int>();
  response.stored = json["stored"].get<std::size_t>();
  response.changes = changes_from(std::move(json["changes"]));
  response.cursor = json["cursor"].get<std::int64_t>();
  response.more = json["more"].get<bool>();
  response.hq_time = json["hq_time"].get<std::int64_t>();
  if (json.contains("catalogue")) response.catalogue = json["catalogue"].get<std::uint64_t>();
  // HQ's time corrects this laptop's clock and bounds the versions it pulls: a time no clock of
  // FieldSync can show (before its oldest data, past what 48 bits of milliseconds hold) would
  // poison both.
  constexpr std::int64_t kLatestMillis = (std::int64_t{1} << 47) - 1;
  if (response.hq_time < tuning::kOldestVersionMillis || response.hq_time > kLatestMillis) {
    throw Error(Errc::invalid_input, "the answer from HQ gives its time as " + std::to_string(response.hq_time) +
                                         " ms, which no working clock shows: not applied");
  }
  return response;
}

}  // namespace fieldsync::protocol
