// The activity type's own rules, private to the plugin: canonical form, the checks a JSON
// Schema cannot state, and the one-line summary. activity_type.cpp wires them into DataType.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace fieldsync::plugin_activity {

// Canonical form of a fields object (trim + NFC of text, sets sorted and deduplicated, codes
// cased). Never throws for a wrong shape or ill-formed UTF-8: such values are left for check().
nlohmann::json normalize_fields(nlohmann::json fields);

// Cross-field rules, for a fields object that may also break its schema: each rule only looks
// at values of the right shape (the schema reports the others).
//   goal_matches_priority_area, calendar_date, end_after_start, end_needs_start
std::vector<FieldIssue> check_fields(const nlohmann::json& fields);

// "[2.8.3] workshop · implemented · 2018-03-08 · Niamey · <title>", missing parts left out.
std::string summarize(const nlohmann::json& fields);

}  // namespace fieldsync::plugin_activity
