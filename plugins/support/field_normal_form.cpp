#include "plugins/support/field_normal_form.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/text.hpp"

namespace fieldsync::plugin_support {
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

// One text of a field (its value or an item) in canonical form.
void normalize_item(nlohmann::json& item, const std::string& field, const NormalForm& form) {
  if (!item.is_string()) return;
  normalize_text(item);
  if (form.upper_codes.count(field)) ascii_case(item, true);
  if (form.lower_codes.count(field)) ascii_case(item, false);
}

// A set: empty texts dropped, sorted (texts by bytes, numbers by value), no duplicates, so a
// union merge on any replica yields identical bytes. A list mixing kinds of values is left in its
// order: the schema reports it.
void normalize_set(nlohmann::json& list, const std::string& field, const NormalForm& form) {
  nlohmann::json kept = nlohmann::json::array();
  bool all_strings = true;
  bool all_numbers = true;
  for (auto& item : list) {
    all_strings = all_strings && item.is_string();
    all_numbers = all_numbers && item.is_number();
    normalize_item(item, field, form);
    if (item.is_string() && item.get_ref<const std::string&>().empty()) continue;
    kept.push_back(std::move(item));
  }
  if (all_strings || all_numbers) {
    auto& items = kept.get_ref<nlohmann::json::array_t&>();
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
  }
  list = std::move(kept);
}

}  // namespace

nlohmann::json normalize_fields(nlohmann::json fields, const NormalForm& form) {
  if (!fields.is_object()) return fields;
  for (auto& [field, value] : fields.items()) {
    if (value.is_string()) {
      normalize_item(value, field, form);
    } else if (value.is_array()) {
      if (form.sets.count(field)) {
        normalize_set(value, field, form);
      } else {
        for (auto& item : value) normalize_item(item, field, form);
      }
    }
  }
  return fields;
}

}  // namespace fieldsync::plugin_support
