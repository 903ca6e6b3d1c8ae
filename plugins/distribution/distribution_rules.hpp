// The distribution type's own rules, private to the plugin: its merge policies and normal form,
// the checks a JSON Schema cannot state, the one-line summary and what a distribution tells HQ's
// report. distribution_type.cpp wires them into DataType (and the tests' version 2 of the type
// builds on them).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data_type.hpp"
#include "plugins/support/field_normal_form.hpp"

namespace fieldsync::plugin_distribution {

// partners union, head counts max, quantity and status review, the rest lww.
MergePolicy merge_policy_of(const std::string& field);
const plugin_support::NormalForm& normal_form();

// calendar_date (date), individuals_at_least_households, goal_matches_priority_area.
std::vector<FieldIssue> check_fields(const nlohmann::json& fields);

// "wheat flour · 1200 kg · 350 households · implemented · 2018-03-08 · Diffa", missing parts left out.
std::string summarize(const nlohmann::json& fields);

// Households and people reached — by distributions implemented: a planned one has reached no one
// yet — under the distribution's priority area, goal, status and date.
std::vector<ReportFigure> report_figures();
ReportFacts report_facts(const nlohmann::json& fields);

}  // namespace fieldsync::plugin_distribution
