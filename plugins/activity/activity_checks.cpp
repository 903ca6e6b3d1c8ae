// The activity rules a JSON Schema cannot state. Each looks only at values of the shape the
// schema asks for; a value of another shape is the schema's to report, once.
#include <optional>
#include <string>

#include "plugins/activity/activity_rules.hpp"

namespace fieldsync::plugin_activity {
namespace {

struct Date {
  int year, month, day;
};

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int number(const std::string& s, std::size_t from, std::size_t count) {
  int n = 0;
  for (std::size_t i = from; i < from + count; ++i) n = n * 10 + (s[i] - '0');
  return n;
}

// "YYYY-MM-DD" split into numbers; nullopt when the text does not have that shape (the
// schema's pattern reports it).
std::optional<Date> date_shape(const nlohmann::json& value) {
  if (!value.is_string()) return std::nullopt;
  const auto& s = value.get_ref<const std::string&>();
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return std::nullopt;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!is_digit(s[i])) return std::nullopt;
  }
  return Date{number(s, 0, 4), number(s, 5, 2), number(s, 8, 2)};
}

bool is_leap(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

bool is_calendar_date(const Date& d) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (d.year < 1 || d.month < 1 || d.month > 12 || d.day < 1) return false;
  const int days = kDays[d.month - 1] + (d.month == 2 && is_leap(d.year) ? 1 : 0);
  return d.day <= days;
}

// A valid calendar date from `field`, reporting a well-shaped but impossible one.
std::optional<std::string> checked_date(const nlohmann::json& fields, const char* field,
                                        std::vector<FieldIssue>& issues) {
  const auto it = fields.find(field);
  if (it == fields.end()) return std::nullopt;
  const auto date = date_shape(*it);
  if (!date) return std::nullopt;
  const auto& text = it->get_ref<const std::string&>();
  if (!is_calendar_date(*date)) {
    issues.push_back({field, "calendar_date", "is not a real calendar date (" + text + ")"});
    return std::nullopt;
  }
  return text;
}

// "2.8.3" -> 8; nullopt unless the goal starts with "2.<number>".
std::optional<long> goal_area(const std::string& goal) {
  if (goal.size() < 3 || goal.compare(0, 2, "2.") != 0 || !is_digit(goal[2])) return std::nullopt;
  long area = 0;
  std::size_t i = 2;
  for (; i < goal.size() && is_digit(goal[i]) && i < 6; ++i) area = area * 10 + (goal[i] - '0');
  return area;
}

void check_goal(const nlohmann::json& fields, std::vector<FieldIssue>& issues) {
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

}  // namespace

std::vector<FieldIssue> check_fields(const nlohmann::json& fields) {
  std::vector<FieldIssue> issues;
  if (!fields.is_object()) return issues;
  check_goal(fields, issues);

  const auto start = checked_date(fields, "start_date", issues);
  const auto end = checked_date(fields, "end_date", issues);
  // An end without a start is most likely the start typed in the wrong field.
  if (fields.contains("end_date") && !fields.contains("start_date")) {
    issues.push_back({"end_date", "end_needs_start", "needs a start_date"});
  }
  // ISO dates of equal length compare as text in calendar order.
  if (start && end && *end < *start) {
    issues.push_back({"end_date", "end_after_start",
                      "must be on or after start_date (" + *start + "), is " + *end});
  }
  return issues;
}

}  // namespace fieldsync::plugin_activity
