// Documents made from a good one with a few places changed, for tests that hold a quick check to
// the validator it stands in for (the protocol's shapes, a plugin's compiled schema): a value
// replaced by one of another type or range, a key or an item dropped, a key or an item added.
#pragma once

#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace fieldsync::test {

// Every place in `value`, as JSON pointers (the root included).
inline void places(const nlohmann::json& value, const nlohmann::json::json_pointer& at,
                   std::vector<nlohmann::json::json_pointer>& out) {
  out.push_back(at);
  if (value.is_object()) {
    for (const auto& [key, item] : value.items()) places(item, at / key, out);
  } else if (value.is_array()) {
    for (std::size_t i = 0; i < value.size(); ++i) places(value[i], at / i, out);
  }
}

// `good` with 1 to `max_edits` places changed, each edit drawn from `rng`: replaced by one of
// `replacements`, dropped, or (an object) given one of `new_keys` / (an array) one more item.
inline nlohmann::json mutated(const nlohmann::json& good, std::mt19937& rng, const std::vector<nlohmann::json>& replacements,
                              const std::vector<std::string>& new_keys, std::size_t max_edits) {
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  std::vector<nlohmann::json::json_pointer> all;
  places(good, nlohmann::json::json_pointer(), all);
  nlohmann::json doc = good;
  for (std::size_t edit = 0, edits = 1 + pick(max_edits); edit < edits; ++edit) {
    const auto& at = all[pick(all.size())];
    if (!doc.contains(at)) continue;
    switch (pick(3)) {
      case 0: doc[at] = replacements[pick(replacements.size())]; break;
      case 1:
        if (!at.empty()) {
          auto& parent = doc[at.parent_pointer()];
          if (parent.is_object()) parent.erase(at.back());
          else if (parent.is_array() && !parent.empty()) parent.erase(parent.size() - 1);
        }
        break;
      default:
        if (doc[at].is_object()) doc[at][new_keys[pick(new_keys.size())]] = replacements[pick(replacements.size())];
        else if (doc[at].is_array()) doc[at].push_back(replacements[pick(replacements.size())]);
    }
  }
  return doc;
}

}  // namespace fieldsync::test
