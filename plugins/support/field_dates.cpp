#include "plugins/support/field_dates.hpp"

namespace fieldsync::plugin_support {
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

// "YYYY-MM-DD" split into numbers; nullopt when the text does not have that shape.
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

}  // namespace

std::optional<std::string> checked_date(const nlohmann::json& fields, const std::string& field,
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

void check_date_order(const nlohmann::json& fields, const std::string& earlier, const std::string& later,
                      const std::string& rule, std::vector<FieldIssue>& issues) {
  const auto from = checked_date(fields, earlier, issues);
  const auto to = checked_date(fields, later, issues);
  // ISO dates of equal length compare as text in calendar order.
  if (from && to && *to < *from) {
    issues.push_back({later, rule, "must be on or after " + earlier + " (" + *from + "), is " + *to});
  }
}

}  // namespace fieldsync::plugin_support
