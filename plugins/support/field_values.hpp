// Reading a record's fields that may break their schema: each reader gives a value only when the
// field has the shape asked for (the schema reports the others), so rules and report figures
// never throw on a bad record.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace fieldsync::plugin_support {

// The text of `field`, or "" when it is missing or not text.
std::string text_of(const nlohmann::json& fields, const std::string& field);
// The number of `field` (integer or not), or nullopt.
std::optional<double> number_of(const nlohmann::json& fields, const std::string& field);
// The integer of `field`, or nullopt (a number with a fraction is not one).
std::optional<long long> integer_of(const nlohmann::json& fields, const std::string& field);

}  // namespace fieldsync::plugin_support
