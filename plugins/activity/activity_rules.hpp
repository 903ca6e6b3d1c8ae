// The activity type's own rules, private to the plugin: the checks a JSON Schema cannot state,
// the one-line summary and what an activity tells HQ's report. activity_type.cpp wires them into
// DataType.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data_type.hpp"

namespace fieldsync::plugin_activity {

// Cross-field rules, for a fields object that may also break its schema: each rule only looks
// at values of the right shape (the schema reports the others).
//   goal_matches_priority_area, calendar_date, end_after_start, end_needs_start
std::vector<FieldIssue> check_fields(const nlohmann::json& fields);

// "[2.8.3] workshop · implemented · 2018-03-08 · Niamey · <title>", missing parts left out.
std::string summarize(const nlohmann::json& fields);

// Participants and amounts, under the activity's priority area, goal, status and start date.
std::vector<ReportFigure> report_figures();
ReportFacts report_facts(const nlohmann::json& fields);

}  // namespace fieldsync::plugin_activity
