// The displacement type's own rules, private to the plugin: the checks a JSON Schema cannot
// state, the one-line summary and what a count tells HQ's report. displacement_type.cpp wires
// them into DataType.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data_type.hpp"

namespace fieldsync::plugin_displacement {

// calendar_date (date), a_count_needed (one of refugees, idps, returnees),
// households_at_most_people (a household is at least one person).
std::vector<FieldIssue> check_fields(const nlohmann::json& fields);

// "Camp de Sayam · 2018-03-08 · 1200 refugees · 300 IDPs · from Borno", missing parts left out.
std::string summarize(const nlohmann::json& fields);

// People counted (refugees + IDPs + returnees) and each group, on the day of the count.
std::vector<ReportFigure> report_figures();
ReportFacts report_facts(const nlohmann::json& fields);

}  // namespace fieldsync::plugin_displacement
