// `key=value` arguments of `add` and `edit`, turned into a JSON fields object.
//
// Values are typed by the data type's JSON Schema: an "integer" or "number" property takes a
// number, an "array" property takes a comma-separated list (or a JSON array), a "boolean" takes
// true/false; anything else is text. A value that does not parse is kept as text, so the schema
// check reports it with the field's name and rule.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fieldsync::cli {

// Throws Error(invalid_input) for an argument without '=' or with an empty key.
nlohmann::json parse_field_args(const std::vector<std::string>& args, const nlohmann::json& schema);

// Reads a JSON object of fields from a file ("-" for standard input). Accepts either the fields
// object itself or a line-shaped object {"id": …, "fields": {…}}; `id` receives the id if any.
nlohmann::json read_fields_file(const std::string& path, std::string& id);

}  // namespace fieldsync::cli
