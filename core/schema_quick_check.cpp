#include "core/schema_quick_check.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <regex>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace fieldsync {

// One subschema: each constraint present is checked, in valijson's sense (a constraint that does
// not apply to the value's type passes it).
struct SchemaQuickCheck::Node {
  unsigned types = 0;  // bit set of Type; 0: any
  std::map<std::string, Node, std::less<>> properties;
  std::vector<std::string> required;
  bool closed = false;  // additionalProperties: false
  std::optional<std::vector<nlohmann::json>> enumeration;
  std::unique_ptr<Node> items;
  bool unique_items = false;
  std::optional<std::uint64_t> min_length, max_length;
  std::optional<double> minimum, maximum;
  // One at most. std::regex is searched from const safely; each has a number of its own for
  // remembering what it said (see Memo).
  std::vector<std::pair<std::regex, std::uint64_t>> patterns;
};

namespace {

using Node = SchemaQuickCheck::Node;

enum Type : unsigned { kObject = 1, kArray = 2, kString = 4, kInteger = 8, kNumber = 16, kBoolean = 32, kNull = 64 };

std::optional<unsigned> type_bit(const nlohmann::json& name) {
  if (!name.is_string()) return std::nullopt;
  const auto& s = name.get_ref<const std::string&>();
  if (s == "object") return kObject;
  if (s == "array") return kArray;
  if (s == "string") return kString;
  if (s == "integer") return kInteger;
  if (s == "number") return kNumber;
  if (s == "boolean") return kBoolean;
  if (s == "null") return kNull;
  return std::nullopt;
}

std::optional<std::uint64_t> count_of(const nlohmann::json& v) {
  if (v.is_number_unsigned()) return v.get<std::uint64_t>();
  if (v.is_number_integer() && v.get<std::int64_t>() >= 0) return static_cast<std::uint64_t>(v.get<std::int64_t>());
  return std::nullopt;
}

bool compile_node(const nlohmann::json& schema, Node& node, int depth) {
  if (!schema.is_object() || depth > 32) return false;
  for (const auto& [key, value] : schema.items()) {
    if (key == "$schema" || key == "$id" || key == "$comment" || key == "title" || key == "description" ||
        key == "examples" || key == "default") {
      continue;
    } else if (key == "type") {
      if (value.is_array()) {
        if (value.empty()) return false;
        for (const auto& each : value) {
          const auto bit = type_bit(each);
          if (!bit) return false;
          node.types |= *bit;
        }
      } else {
        const auto bit = type_bit(value);
        if (!bit) return false;
        node.types = *bit;
      }
    } else if (key == "properties") {
      if (!value.is_object()) return false;
      for (const auto& [name, sub] : value.items()) {
        if (!compile_node(sub, node.properties[name], depth + 1)) return false;
      }
    } else if (key == "required") {
      if (!value.is_array()) return false;
      for (const auto& name : value) {
        if (!name.is_string()) return false;
        node.required.push_back(name.get<std::string>());
      }
    } else if (key == "additionalProperties") {
      if (!value.is_boolean()) return false;  // a schema there: not compiled
      node.closed = !value.get<bool>();
    } else if (key == "enum") {
      if (!value.is_array() || value.empty()) return false;
      node.enumeration = value.get<std::vector<nlohmann::json>>();
    } else if (key == "items") {
      if (!value.is_object()) return false;  // the array (tuple) form: not compiled
      node.items = std::make_unique<Node>();
      if (!compile_node(value, *node.items, depth + 1)) return false;
    } else if (key == "uniqueItems") {
      if (!value.is_boolean()) return false;
      node.unique_items = value.get<bool>();
    } else if (key == "minLength" || key == "maxLength") {
      const auto count = count_of(value);
      if (!count) return false;
      (key == "minLength" ? node.min_length : node.max_length) = *count;
    } else if (key == "minimum" || key == "maximum") {
      if (!value.is_number()) return false;
      (key == "minimum" ? node.minimum : node.maximum) = value.get<double>();
    } else if (key == "pattern") {
      if (!value.is_string()) return false;
      try {
        static std::atomic<std::uint64_t> numbered{0};
        node.patterns.emplace_back(std::regex(value.get<std::string>()), ++numbered);  // ECMAScript, as valijson builds it
      } catch (const std::regex_error&) {
        return false;
      }
    } else {
      return false;
    }
  }
  return true;
}

// valijson's strict equality (BasicAdapter::equalTo): numbers of any kind by their double value.
bool same_value(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_null()) return b.is_null();
  if (a.is_boolean()) return b.is_boolean() && a.get<bool>() == b.get<bool>();
  if (a.is_number()) return b.is_number() && a.get<double>() == b.get<double>();
  if (a.is_string()) return b.is_string() && a.get_ref<const std::string&>() == b.get_ref<const std::string&>();
  if (a.is_array()) {
    if (!b.is_array() || a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
      if (!same_value(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (!b.is_object() || a.size() != b.size()) return false;
    for (const auto& [key, value] : a.items()) {
      const auto other = b.find(key);
      if (other == b.end() || !same_value(value, *other)) return false;
    }
    return true;
  }
  return false;
}

// Code points of valid UTF-8 up to the first NUL, as valijson's u8_strlen counts them: the
// bytes that do not continue a sequence.
std::uint64_t code_points(const std::string& text) {
  std::uint64_t count = 0;
  for (const char c : text) {
    if (c == '\0') break;
    count += (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }
  return count;
}

bool has_type(const nlohmann::json& v, unsigned types) {
  if (types == 0) return true;
  switch (v.type()) {
    case nlohmann::json::value_t::object: return types & kObject;
    case nlohmann::json::value_t::array: return types & kArray;
    case nlohmann::json::value_t::string: return types & kString;
    case nlohmann::json::value_t::boolean: return types & kBoolean;
    case nlohmann::json::value_t::null: return types & kNull;
    case nlohmann::json::value_t::number_integer:
    case nlohmann::json::value_t::number_unsigned: return types & (kInteger | kNumber);
    case nlohmann::json::value_t::number_float: return types & kNumber;
    default: return false;
  }
}

bool node_accepts(const Node& node, const nlohmann::json& v, SchemaQuickCheck::Memo& memo) {
  if (!has_type(v, node.types)) return false;
  if (node.enumeration) {
    bool found = false;
    for (const auto& option : *node.enumeration) {
      if (same_value(option, v)) {
        found = true;
        break;
      }
    }
    if (!found) return false;
  }
  if (v.is_object()) {
    for (const auto& name : node.required) {
      if (v.find(name) == v.end()) return false;
    }
    for (const auto& [key, value] : v.items()) {
      const auto property = node.properties.find(key);
      if (property == node.properties.end()) {
        if (node.closed) return false;
      } else if (!node_accepts(property->second, value, memo)) {
        return false;
      }
    }
  } else if (v.is_array()) {
    if (node.items) {
      for (const auto& each : v) {
        if (!node_accepts(*node.items, each, memo)) return false;
      }
    }
    if (node.unique_items) {
      for (std::size_t i = 0; i < v.size(); ++i) {
        for (std::size_t j = i + 1; j < v.size(); ++j) {
          if (same_value(v[i], v[j])) return false;
        }
      }
    }
  } else if (v.is_string()) {
    const auto& text = v.get_ref<const std::string&>();
    if (node.min_length || node.max_length) {
      const std::uint64_t length = code_points(text);
      if (node.min_length && length < *node.min_length) return false;
      if (node.max_length && length > *node.max_length) return false;
    }
    for (const auto& [pattern, number] : node.patterns) {
      if (!memo.search(pattern, number, text)) return false;
    }
  } else if (v.is_number()) {
    const double value = v.get<double>();
    if (node.minimum && value < *node.minimum) return false;
    if (node.maximum && value > *node.maximum) return false;
  }
  return true;
}

}  // namespace

std::optional<SchemaQuickCheck> SchemaQuickCheck::compile(const nlohmann::json& schema) {
  auto root = std::make_shared<Node>();
  if (!compile_node(schema, *root, 0)) return std::nullopt;
  return SchemaQuickCheck(std::move(root));
}

bool SchemaQuickCheck::Memo::search(const std::regex& pattern, std::uint64_t number, const std::string& text) {
  constexpr std::size_t kRemembered = 4096, kLongest = 64;
  if (text.size() > kLongest) return std::regex_search(text, pattern);
  auto& known = answers_[number];
  if (const auto it = known.find(text); it != known.end()) return it->second;
  if (known.size() >= kRemembered) known.clear();
  const bool found = std::regex_search(text, pattern);
  known.emplace(text, found);
  return found;
}

bool SchemaQuickCheck::accepts(const nlohmann::json& document, Memo& memo) const {
  return node_accepts(*root_, document, memo);
}

}  // namespace fieldsync
