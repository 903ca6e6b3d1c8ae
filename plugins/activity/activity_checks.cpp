// The activity rules a JSON Schema cannot state. Each looks only at values of the shape the
// schema asks for; a value of another shape is the schema's to report, once.
#include "plugins/activity/activity_rules.hpp"
#include "plugins/support/field_dates.hpp"
#include "plugins/support/programme_of_action.hpp"

namespace fieldsync::plugin_activity {

std::vector<FieldIssue> check_fields(const nlohmann::json& fields) {
  std::vector<FieldIssue> issues;
  if (!fields.is_object()) return issues;
  plugin_support::check_goal_in_area(fields, issues);
  plugin_support::check_date_order(fields, "start_date", "end_date", "end_after_start", issues);
  // An end without a start is most likely the start typed in the wrong field.
  if (fields.contains("end_date") && !fields.contains("start_date")) {
    issues.push_back({"end_date", "end_needs_start", "needs a start_date"});
  }
  return issues;
}

}  // namespace fieldsync::plugin_activity
