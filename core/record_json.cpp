#include "core/record_json.hpp"

#include "core/error.hpp"
#include "core/json_walk.hpp"
#include "core/text.hpp"

namespace fieldsync {

nlohmann::json versions_to_json(const std::map<std::string, FieldVersion>& versions) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [field, version] : versions) out[field] = {version.hlc, version.replica};
  return out;
}

std::map<std::string, FieldVersion> versions_from_json(const nlohmann::json& json) {
  std::map<std::string, FieldVersion> out;
  if (!json.is_object()) throw Error(Errc::storage, "field versions are not a JSON object");
  for (const auto& [field, value] : json.items()) {
    if (!value.is_array() || value.size() != 2 || !value[0].is_number_unsigned() || !value[1].is_string()) {
      throw Error(Errc::storage, "the version of field '" + field + "' is malformed");
    }
    out[field] = FieldVersion{value[0].get<Hlc>(), value[1].get<std::string>()};
  }
  return out;
}

nlohmann::json record_to_json(const Record& record, bool with_versions) {
  nlohmann::json out = {
      {"id", record.id},
      {"type", record.type},
      {"office", record.office},
      {"schema_version", record.schema_version},
      {"deleted", record.deleted},
      {"created", format_hlc_time(record.created)},
      {"updated", format_hlc_time(record.updated)},
      {"fields", record.fields},
  };
  if (with_versions) {
    nlohmann::json versions = nlohmann::json::object();
    for (const auto& [field, version] : record.versions) {
      versions[field] = {{"hlc", version.hlc}, {"time", format_hlc_time(version.hlc)}, {"replica", version.replica}};
    }
    out["versions"] = std::move(versions);
  }
  return out;
}

nlohmann::json history_to_json(const HistoryEntry& entry) {
  return {
      {"time", format_hlc_time(entry.hlc)}, {"hlc", entry.hlc},       {"replica", entry.replica},
      {"office", entry.office},             {"author", entry.author}, {"origin", entry.origin},
      {"action", entry.action},             {"changes", entry.changes},
  };
}

void require_valid_utf8(const nlohmann::json& value, const std::string& where) {
  // Iterative (json_walk): `value` may come from anyone and nest as deep as its sender likes.
  json_walk::for_each_text(value, [&](const std::string& text, bool is_key, const std::string& field) {
    if (text::is_valid_utf8(text)) return true;
    // A top-level key names itself: say no name then rather than repeat the broken bytes.
    const std::string name = text::is_valid_utf8(field) ? field : std::string();
    throw Error(Errc::invalid_input, "text is not valid UTF-8", where,
                {FieldIssue{name, "utf8", std::string(is_key ? "the field name" : "the value") + " is not valid UTF-8 text"}});
  });
}

}  // namespace fieldsync
