// Canonical form of an activity's fields, so that the same activity typed on two laptops is the
// same bytes on every replica (merge compares and unions these values byte for byte).
#include <algorithm>
#include <string>

#include "core/error.hpp"
#include "core/text.hpp"
#include "plugins/activity/activity_rules.hpp"

namespace fieldsync::plugin_activity {
namespace {

// Text in canonical form; ill-formed UTF-8 is kept as it is for check() to report ("utf8").
void normalize_text(nlohmann::json& value) {
  auto& s = value.get_ref<std::string&>();
  try {
    s = text::normalize(s);  // one pass over the text: it validates as it goes
  } catch (const Error&) {
    // Invalid UTF-8 stays as it is: check() reports it with the field's name.
  }
}

void ascii_case(nlohmann::json& value, bool upper) {
  for (char& c : value.get_ref<std::string&>()) {
    if (upper && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (!upper && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
}

// institutions / countries are sets: empty entries dropped, sorted by bytes, no duplicates, so
// a union merge on any replica yields identical bytes. A list holding a non-string is left in
// its order: the schema reports it.
void normalize_set(nlohmann::json& list, bool upper_ascii) {
  nlohmann::json kept = nlohmann::json::array();
  bool all_strings = true;
  for (auto& item : list) {
    if (!item.is_string()) {
      all_strings = false;
      kept.push_back(std::move(item));
      continue;
    }
    normalize_text(item);
    if (upper_ascii) ascii_case(item, true);
    if (!item.get_ref<const std::string&>().empty()) kept.push_back(std::move(item));
  }
  if (all_strings) {
    auto& items = kept.get_ref<nlohmann::json::array_t&>();
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
  }
  list = std::move(kept);
}

}  // namespace

nlohmann::json normalize_fields(nlohmann::json fields) {
  if (!fields.is_object()) return fields;
  for (auto& [key, value] : fields.items()) {
    if (value.is_string()) {
      normalize_text(value);
      if (key == "language") ascii_case(value, false);
    } else if (value.is_array()) {
      if (key == "institutions" || key == "countries") {
        normalize_set(value, key == "countries");
      } else {
        for (auto& item : value) {
          if (item.is_string()) normalize_text(item);
        }
      }
    }
    // Numbers stay as they are, even a number written as text: check() says so rather than
    // guessing what was meant.
  }
  return fields;
}

}  // namespace fieldsync::plugin_activity
