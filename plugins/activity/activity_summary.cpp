// The one-line listing of an activity. Text from the record (title, place) may be Arabic: it
// is wrapped in Unicode isolates so a left-to-right terminal line keeps its order.
#include <string>

#include "core/text.hpp"
#include "plugins/activity/activity_rules.hpp"

namespace fieldsync::plugin_activity {
namespace {

// Long titles would wrap a listing: ~80 user-perceived characters is one terminal line's worth.
constexpr std::size_t kTitleChars = 80;
constexpr const char* kSeparator = " \u00B7 ";

std::string text_of(const nlohmann::json& fields, const char* key) {
  const auto it = fields.find(key);
  if (it == fields.end() || !it->is_string()) return {};
  return it->get<std::string>();
}

}  // namespace

std::string summarize(const nlohmann::json& fields) {
  if (!fields.is_object()) return {};
  std::string line;  // the parts after the goal, joined by separators
  auto part = [&](const std::string& s) {
    if (s.empty()) return;
    if (!line.empty()) line += kSeparator;
    line += s;
  };

  part(text_of(fields, "kind"));
  part(text_of(fields, "status"));

  const std::string start = text_of(fields, "start_date");
  const std::string end = text_of(fields, "end_date");
  part(!start.empty() && !end.empty() && end != start ? start + " \u2013 " + end : start);

  part(text::isolate(text_of(fields, "place")));
  part(text::isolate(text::truncate(text_of(fields, "title"), kTitleChars)));
  const std::string goal = text_of(fields, "goal");
  if (goal.empty()) return line;
  return line.empty() ? "[" + goal + "]" : "[" + goal + "] " + line;
}

}  // namespace fieldsync::plugin_activity
