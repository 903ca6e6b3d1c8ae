// The sync request's shape checked in code (see sync/internal/protocol_shape.hpp). Each function
// names the part of schemas/protocol/ it stands for; a change to those schemas changes this too
// (tests/request_shape_test.cpp holds both to the same answers).
#include "sync/internal/protocol_shape.hpp"

#include <cstdint>
#include <string>

#include "core/change_check.hpp"

namespace fieldsync::protocol {
namespace {

using object_t = nlohmann::json::object_t;

// "integer" from `min` to 2^63-1: valijson reads integers as
// 64-bit signed, so it refuses one past that even where the schema gives no maximum. Its
// strong types: 1.0 is no integer.
bool is_count_from(const nlohmann::json& v, std::int64_t min) {
  if (v.is_number_unsigned()) {
    const auto n = v.get_ref<const nlohmann::json::number_unsigned_t&>();
    return n <= static_cast<std::uint64_t>(INT64_MAX) && static_cast<std::int64_t>(n) >= min;
  }
  return v.is_number_integer() && v.get_ref<const nlohmann::json::number_integer_t&>() >= min;
}

// "integer", "minimum": 1, "maximum": 2^63-1: a version's HLC.
bool is_hlc(const nlohmann::json& v) { return is_count_from(v, 1); }

bool is_nonempty_string(const nlohmann::json& v) { return v.is_string() && !v.get_ref<const std::string&>().empty(); }

// "maxLength": 200 counts characters; 200 bytes surely are at most 200 of them.
bool is_short_string(const nlohmann::json& v) { return v.is_string() && v.get_ref<const std::string&>().size() <= 200; }

// #/definitions/version: [hlc, replica].
bool is_version(const nlohmann::json& v) {
  if (!v.is_array() || v.size() != 2) return false;
  return is_hlc(v[0]) && is_nonempty_string(v[1]);
}

// #/definitions/write: [hlc, replica, value, author].
bool is_write(const nlohmann::json& v) {
  if (!v.is_array() || v.size() != 4) return false;
  return is_hlc(v[0]) && is_nonempty_string(v[1]) && is_short_string(v[3]);
}

// "type": "array" whose every item `item` accepts.
bool is_array_of(const nlohmann::json& v, bool (*item)(const nlohmann::json&)) {
  if (!v.is_array()) return false;
  for (const auto& each : v) {
    if (!item(each)) return false;
  }
  return true;
}

// A "fields" entry: {"h": [write…] (at least one), "r": [version…]}.
bool is_field_state(const nlohmann::json& v) {
  if (!v.is_object()) return false;
  const auto& object = v.get_ref<const object_t&>();
  bool has_heads = false;
  for (const auto& [key, value] : object) {
    if (key == "h") {
      if (value.empty() || !is_array_of(value, is_write)) return false;
      has_heads = true;
    } else if (key == "r") {
      if (!is_array_of(value, is_version)) return false;
    } else {
      return false;
    }
  }
  return has_heads;
}

// schemas/protocol/record_change.schema.json.
bool is_record_change(const nlohmann::json& v) {
  if (!v.is_object()) return false;
  const auto& object = v.get_ref<const object_t&>();
  int required = 0;
  bool has_states = false;
  for (const auto& [key, value] : object) {
    if (key == "id" || key == "type" || key == "office") {
      if (!value.is_string()) return false;
      ++required;
    } else if (key == "schema_version") {
      if (!is_count_from(value, 1)) return false;
      ++required;
    } else if (key == "created") {
      if (!is_version(value)) return false;
      ++required;
    } else if (key == "created_by") {
      if (!is_short_string(value)) return false;
      ++required;
    } else if (key == "values") {
      if (!value.is_object() || value.empty()) return false;
      has_states = true;
    } else if (key == "fields") {
      if (!value.is_object() || value.empty()) return false;
      for (const auto& [field, state] : value.get_ref<const object_t&>()) {
        if (!is_field_state(state)) return false;
      }
      has_states = true;
    } else {
      return false;
    }
  }
  return required == 6 && has_states;
}

}  // namespace

// schemas/protocol/sync_request.schema.json.
bool is_sync_request_shape(const nlohmann::json& v) {
  if (!v.is_object()) return false;
  int required = 0;
  for (const auto& [key, value] : v.get_ref<const object_t&>()) {
    if (key == "protocol") {
      if (!is_count_from(value, INT64_MIN)) return false;
      ++required;
    } else if (key == "replica") {
      if (!value.is_string() || !is_replica_id(value.get_ref<const std::string&>())) return false;  // ^[0-9a-f]{16}$
      ++required;
    } else if (key == "cursor") {
      if (!is_count_from(value, 0)) return false;
      ++required;
    } else if (key == "max_pull" || key == "max_pull_bytes") {
      if (!is_count_from(value, 1)) return false;
    } else if (key == "changes") {
      if (!is_array_of(value, is_record_change)) return false;
      ++required;
    } else {
      return false;
    }
  }
  return required == 4;
}

// schemas/protocol/sync_response.schema.json.
bool is_sync_response_shape(const nlohmann::json& v) {
  if (!v.is_object()) return false;
  int required = 0;
  for (const auto& [key, value] : v.get_ref<const object_t&>()) {
    if (key == "protocol") {
      if (!is_count_from(value, INT64_MIN)) return false;
    } else if (key == "stored" || key == "cursor" || key == "hq_time") {
      if (!is_count_from(value, 0)) return false;
    } else if (key == "more") {
      if (!value.is_boolean()) return false;
    } else if (key == "changes") {
      if (!is_array_of(value, is_record_change)) return false;
    } else if (key == "catalogue") {  // optional
      if (!is_count_from(value, 1)) return false;
      continue;
    } else {
      return false;
    }
    ++required;
  }
  return required == 6;
}


}  // namespace fieldsync::protocol
