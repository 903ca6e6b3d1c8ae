// The OIC Programme of Action's codes as records carry them: a priority area (1-18) and a goal
// ("2.8.3"; "2.7" where the area has one undivided goal — the second number is the area).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data_type.hpp"
#include "core/error.hpp"

namespace fieldsync::plugin_support {

// The goal in `fields["goal"]` must belong to `fields["priority_area"]`: rule
// "goal_matches_priority_area". Silent when either is missing or of another shape.
void check_goal_in_area(const nlohmann::json& fields, std::vector<FieldIssue>& issues);

inline constexpr int kPriorityAreas = 18;

// The priority areas in `field` — one number, or an array of them (a scope) — that are areas of
// the Programme of Action (1-18); anything else is left out.
std::vector<int> priority_areas_of(const nlohmann::json& fields, const std::string& field);

// What a record logged against the Programme of Action tells HQ's report, for types with the
// common fields: the day in `date_field`, `status`, `goal` and `priority_area` (figures left to
// the type).
ReportFacts programme_facts(const nlohmann::json& fields, const std::string& date_field);

}  // namespace fieldsync::plugin_support
