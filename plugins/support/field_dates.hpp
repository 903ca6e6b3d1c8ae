// Dates in a record's fields: "YYYY-MM-DD" texts (the schemas' pattern gives the shape; these
// rules give what a pattern cannot — a real calendar day, one date not before another).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace fieldsync::plugin_support {

// The date in `field` when it is a real calendar day. A well-shaped but impossible one
// (2018-02-30) is reported as rule "calendar_date"; a missing field or another shape gives
// nullopt and no issue (the schema's to report, once).
std::optional<std::string> checked_date(const nlohmann::json& fields, const std::string& field,
                                        std::vector<FieldIssue>& issues);

// `later` must be on or after `earlier` when both are real dates: reported on `later` as `rule`
// ("end_after_start", "valid_to_after_valid_from"…), naming both dates. Each date is checked
// (and reported) as checked_date() does.
void check_date_order(const nlohmann::json& fields, const std::string& earlier, const std::string& later,
                      const std::string& rule, std::vector<FieldIssue>& issues);

}  // namespace fieldsync::plugin_support
