#include "plugins/support/summary_line.hpp"

#include "core/text.hpp"

namespace fieldsync::plugin_support {

SummaryLine& SummaryLine::add(const std::string& part) {
  if (part.empty()) return *this;
  if (!line_.empty()) line_ += " \u00B7 ";
  line_ += part;
  return *this;
}

SummaryLine& SummaryLine::add_text(const std::string& text, std::size_t max_chars) {
  if (text.empty()) return *this;
  return add(text::isolate(text::truncate(text, max_chars)));
}

SummaryLine& SummaryLine::add_dates(const std::string& from, const std::string& to) {
  if (from.empty()) return add(to);
  return add(!to.empty() && to != from ? from + " \u2013 " + to : from);
}

}  // namespace fieldsync::plugin_support
