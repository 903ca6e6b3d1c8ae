// The distribution type's own rules, private to the plugin: the checks a JSON Schema cannot
// state, the one-line summary and what a distribution tells HQ's report. distribution_type.cpp
// wires them into DataType.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data_type.hpp"

namespace fieldsync::plugin_distribution {

// calendar_date (date), individuals_at_least_households, goal_matches_priority_area.
std::vector<FieldIssue> check_fields(const nlohmann::json& fields);

// "wheat flour · 1200 kg · 350 households · implemented · 2018-03-08 · Diffa", missing parts left out.
std::string summarize(const nlohmann::json& fields);

// Households and people reached — by distributions implemented: a planned one has reached no one
// yet — under the distribution's priority area, goal, status and date.
std::vector<ReportFigure> report_figures();
ReportFacts report_facts(const nlohmann::json& fields);

}  // namespace fieldsync::plugin_distribution
