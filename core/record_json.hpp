// JSON forms of records and their versions: what `--json` prints and what the store keeps.
#pragma once

#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "core/record.hpp"

namespace fieldsync {

// field -> [hlc, replica]
nlohmann::json versions_to_json(const std::map<std::string, FieldVersion>& versions);
// Throws Error(storage) when `json` is not of that shape.
std::map<std::string, FieldVersion> versions_from_json(const nlohmann::json& json);

// {"id", "type", "office", "schema_version", "deleted", "created", "updated", "fields"}; with
// `with_versions`, also "versions" (field -> {"hlc", "time", "replica"}).
nlohmann::json record_to_json(const Record& record, bool with_versions = false);

// {"time", "hlc", "replica", "office", "author", "origin", "action", "changes"}
nlohmann::json history_to_json(const HistoryEntry& entry);

// Throws Error(invalid_input) naming the field when any key or string in `value` is not valid
// UTF-8. `where` names the record or line for the message.
void require_valid_utf8(const nlohmann::json& value, const std::string& where);

}  // namespace fieldsync
