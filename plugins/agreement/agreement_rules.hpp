// The agreement type's own rules, private to the plugin: the checks a JSON Schema cannot state,
// the one-line summary and what an agreement tells HQ's report. agreement_type.cpp wires them
// into DataType.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/data_type.hpp"

namespace fieldsync::plugin_agreement {

// calendar_date (signed_on, valid_from, valid_to), valid_to_after_valid_from, signed_needs_date
// (an agreement past its draft was signed on some day).
std::vector<FieldIssue> check_fields(const nlohmann::json& fields);

// "mou · signed · 2018-03-08 · Niamey · <title> · 3 parties", missing parts left out.
std::string summarize(const nlohmann::json& fields);

// One figure, agreements signed (1 for an agreement signed, in force or expired), under its
// scope's priority areas and the day it was signed.
std::vector<ReportFigure> report_figures();
ReportFacts report_facts(const nlohmann::json& fields);

}  // namespace fieldsync::plugin_agreement
