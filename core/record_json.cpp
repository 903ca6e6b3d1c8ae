#include "core/record_json.hpp"

#include "core/error.hpp"
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

namespace {

void check_utf8(const nlohmann::json& value, const std::string& field, const std::string& where) {
  auto fail = [&](const std::string& what) {
    throw Error(Errc::invalid_input, "text is not valid UTF-8", where,
                {FieldIssue{field, "utf8", what + " is not valid UTF-8 text"}});
  };
  if (value.is_string()) {
    if (!text::is_valid_utf8(value.get_ref<const std::string&>())) fail("the value");
  } else if (value.is_array()) {
    for (const auto& item : value) check_utf8(item, field, where);
  } else if (value.is_object()) {
    for (const auto& [key, item] : value.items()) {
      if (!text::is_valid_utf8(key)) fail("the field name");
      check_utf8(item, field.empty() ? key : field, where);
    }
  }
}

}  // namespace

void require_valid_utf8(const nlohmann::json& value, const std::string& where) {
  check_utf8(value, "", where);
}

}  // namespace fieldsync
