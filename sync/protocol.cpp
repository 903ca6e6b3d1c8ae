#include "sync/protocol.hpp"

#include "core/error.hpp"
#include "core/json_input.hpp"
#include "core/merge.hpp"
#include "core/schema_validator.hpp"
#include "core/tuning.hpp"

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

void check_shape(const SchemaValidator& validator, const nlohmann::json& body, const char* what) {
  if (body.is_object() && body.contains("protocol") && body["protocol"].is_number_integer() &&
      body["protocol"].get<int>() != kVersion) {
    throw Error(Errc::invalid_input, "protocol version " + body["protocol"].dump() + " is not supported (this side speaks " +
                                         std::to_string(kVersion) + ")");
  }
  auto issues = validator.validate(body);
  if (!issues.empty()) {
    std::string message = std::string("the ") + what + " does not have the protocol's shape";
    throw Error(Errc::invalid_input, message, "", std::move(issues));
  }
}

std::vector<RecordChange> changes_from(const nlohmann::json& list) {
  std::vector<RecordChange> out;
  out.reserve(list.size());
  for (const auto& item : list) out.push_back(change_from_json(item));
  return out;
}

nlohmann::json changes_to(const std::vector<RecordChange>& changes) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& change : changes) out.push_back(change_to_json(change));
  return out;
}

}  // namespace

nlohmann::json change_to_json(const RecordChange& change) {
  nlohmann::json fields = nlohmann::json::object();
  for (const auto& [field, state] : change.fields) fields[field] = field_state_to_json(state);
  return {{"id", change.id},
          {"type", change.type},
          {"office", change.office},
          {"schema_version", change.schema_version},
          {"created", {change.created.hlc, change.created.replica}},
          {"created_by", change.created_by},
          {"fields", std::move(fields)}};
}

RecordChange change_from_json(const nlohmann::json& json) {
  RecordChange change;
  change.id = json.at("id").get<std::string>();
  change.type = json.at("type").get<std::string>();
  change.office = json.at("office").get<std::string>();
  change.schema_version = json.at("schema_version").get<int>();
  change.created = FieldVersion{json.at("created").at(0).get<Hlc>(), json.at("created").at(1).get<std::string>()};
  change.created_by = json.at("created_by").get<std::string>();
  for (const auto& [field, state] : json.at("fields").items()) {
    try {
      change.fields[field] = field_state_from_json(state, field);
    } catch (const Error& e) {
      throw Error(Errc::invalid_input, e.what(), "record " + change.id, e.issues());
    }
  }
  return change;
}

std::string encode(const SyncRequest& request) {
  nlohmann::json body = {{"protocol", request.protocol},
                         {"replica", request.replica},
                         {"cursor", request.cursor},
                         {"changes", changes_to(request.changes)}};
  if (request.max_pull != 0) body["max_pull"] = request.max_pull;
  return body.dump();
}

std::string encode(const SyncResponse& response) {
  return nlohmann::json{{"protocol", response.protocol},
                        {"stored", response.stored},
                        {"changes", changes_to(response.changes)},
                        {"cursor", response.cursor},
                        {"more", response.more},
                        {"hq_time", response.hq_time}}
      .dump();
}

SyncRequest decode_sync_request(std::string_view body) {
  const nlohmann::json json = parse_body(body, "sync request");
  check_shape(request_validator(), json, "sync request");
  SyncRequest request;
  request.protocol = json["protocol"].get<int>();
  request.replica = json["replica"].get<std::string>();
  request.cursor = json["cursor"].get<std::int64_t>();
  if (json.contains("max_pull")) request.max_pull = json["max_pull"].get<std::size_t>();
  request.changes = changes_from(json["changes"]);
  return request;
}

SyncResponse decode_sync_response(std::string_view body) {
  const nlohmann::json json = parse_body(body, "answer from HQ");
  check_shape(response_validator(), json, "answer from HQ");
  SyncResponse response;
  response.protocol = json["protocol"].get<int>();
  response.stored = json["stored"].get<std::size_t>();
  response.changes = changes_from(json["changes"]);
  response.cursor = json["cursor"].get<std::int64_t>();
  response.more = json["more"].get<bool>();
  response.hq_time = json["hq_time"].get<std::int64_t>();
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
