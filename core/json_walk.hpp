// Walks over JSON values without recursion.
//
// A value may come from anyone (a file, a sync body, a plugin) and nest as deep as its sender
// likes; a recursive walk would run out of stack and crash the process (issue 10). These walks
// keep their own stack on the heap, so they hold for any depth.
#pragma once

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace fieldsync::json_walk {

// Calls visit(text, is_key, field) for every string in `root`, values and object keys alike, in
// document order (an object's key just before its value); `field` is the top-level key the text
// sits under (for a top-level key, the key itself; "" for a string at the root or in a root
// array outside any object). A visit that returns false stops the walk; returns false then.
template <class Visit>
bool for_each_text(const nlohmann::json& root, Visit&& visit) {
  static const std::string kNoField;
  struct Item {
    const nlohmann::json* value;
    const std::string* field;
    const std::string* key;  // the key `value` sits under in its object, when in one
  };
  std::vector<Item> stack;
  stack.push_back({&root, &kNoField, nullptr});
  while (!stack.empty()) {
    const Item item = stack.back();
    stack.pop_back();
    if (item.key != nullptr && !visit(*item.key, true, *item.field)) return false;
    const nlohmann::json& value = *item.value;
    if (value.is_string()) {
      if (!visit(value.get_ref<const std::string&>(), false, *item.field)) return false;
    } else if (value.is_array()) {
      const auto& array = value.get_ref<const nlohmann::json::array_t&>();
      for (auto it = array.rbegin(); it != array.rend(); ++it) stack.push_back({&*it, item.field, nullptr});
    } else if (value.is_object()) {
      const auto& object = value.get_ref<const nlohmann::json::object_t&>();
      for (auto it = object.rbegin(); it != object.rend(); ++it) {
        const std::string* field = item.field->empty() ? &it->first : item.field;
        stack.push_back({&it->second, field, &it->first});
      }
    }
  }
  return true;
}

// Levels of nesting in `root`: 0 for a scalar, 1 for [] or {"a": 1}, 2 for [[]]. Stops looking
// once past `stop_after` (returning stop_after + 1), so a huge value costs no more than needed.
inline std::size_t depth(const nlohmann::json& root, std::size_t stop_after) {
  std::size_t deepest = 0;
  std::vector<std::pair<const nlohmann::json*, std::size_t>> stack;
  stack.emplace_back(&root, 0);
  while (!stack.empty()) {
    const auto [value, level] = stack.back();
    stack.pop_back();
    if (!value->is_structured()) continue;
    const std::size_t inner = level + 1;
    if (inner > deepest) deepest = inner;
    if (deepest > stop_after) return stop_after + 1;
    for (const auto& child : *value) {
      if (child.is_structured()) stack.emplace_back(&child, inner);
    }
  }
  return deepest;
}

}  // namespace fieldsync::json_walk
