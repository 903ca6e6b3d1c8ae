#include "plugins/support/programme_of_action.hpp"

#include <optional>
#include <string>

#include "plugins/support/field_values.hpp"

namespace fieldsync::plugin_support {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// "2.8.3" -> 8; nullopt unless the goal starts with "2.<number>".
std::optional<long> goal_area(const std::string& goal) {
  if (goal.size() < 3 || goal.compare(0, 2, "2.") != 0 || !is_digit(goal[2])) return std::nullopt;
  long area = 0;
  std::size_t i = 2;
  for (; i < goal.size() && is_digit(goal[i]) && i < 6; ++i) area = area * 10 + (goal[i] - '0');
  return area;
}

}  // namespace

void check_goal_in_area(const nlohmann::json& fields, std::vector<FieldIssue>& issues) {
  if (!fields.is_object()) return;
  const auto goal = fields.find("goal");
  const auto area = fields.find("priority_area");
  if (goal == fields.end() || area == fields.end()) return;
  if (!goal->is_string() || !area->is_number_integer()) return;
  const auto& goal_text = goal->get_ref<const std::string&>();
  const auto goal_of = goal_area(goal_text);
  if (!goal_of) return;
  const auto priority_area = area->get<long long>();
  if (*goal_of != priority_area) {
    issues.push_back({"goal", "goal_matches_priority_area",
                      "goal " + goal_text + " belongs to priority area " + std::to_string(*goal_of) +
                          ", but priority_area is " + std::to_string(priority_area)});
  }
}

std::vector<int> priority_areas_of(const nlohmann::json& fields, const std::string& field) {
  std::vector<int> areas;
  if (!fields.is_object()) return areas;
  const auto it = fields.find(field);
  if (it == fields.end()) return areas;
  auto take = [&areas](const nlohmann::json& value) {
    if (!value.is_number_integer()) return;
    const long long area = value.get<long long>();
    if (area >= 1 && area <= kPriorityAreas) areas.push_back(static_cast<int>(area));
  };
  if (it->is_array()) {
    for (const auto& item : *it) take(item);
  } else {
    take(*it);
  }
  return areas;
}

ReportFacts programme_facts(const nlohmann::json& fields, const std::string& date_field) {
  ReportFacts facts;
  facts.date = text_of(fields, date_field);
  facts.status = text_of(fields, "status");
  facts.goal = text_of(fields, "goal");
  facts.priority_areas = priority_areas_of(fields, "priority_area");
  return facts;
}

}  // namespace fieldsync::plugin_support
