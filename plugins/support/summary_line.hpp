// The one-line listing of a record (`fieldsync list`): parts joined by " · ", missing parts left
// out. Text from the record may be Arabic: it is wrapped in Unicode isolates so a left-to-right
// terminal line keeps its order, and cut to a terminal line's worth.
#pragma once

#include <cstddef>
#include <string>

namespace fieldsync::plugin_support {

class SummaryLine {
 public:
  // Long titles would wrap a listing: ~80 user-perceived characters is one terminal line's worth.
  static constexpr std::size_t kTextChars = 80;

  // A part written by the plugin (a code, a status, a date): added as it is, unless empty.
  SummaryLine& add(const std::string& part);
  // Text typed by a person (a title, a place): isolated and cut to `max_chars`, unless empty.
  SummaryLine& add_text(const std::string& text, std::size_t max_chars = kTextChars);
  // "2018-03-08 – 2018-03-10", or the one date when both are the same or only one is given.
  SummaryLine& add_dates(const std::string& from, const std::string& to);

  const std::string& str() const { return line_; }

 private:
  std::string line_;
};

}  // namespace fieldsync::plugin_support
