// JSON Schema validation with valijson, reported as FieldIssues a field officer can read.
//
// valijson reports each failure as a context path ("<root>[institutions][2]") and an English
// description, plus one wrapper error per enclosing level ("Failed to validate item #2 in
// array."). We keep the innermost errors only, name the top-level field, infer the keyword from
// the description, and write the message from the schema's own values (the minimum, the enum
// list, an example) rather than valijson's wording.
//
// Text that is not valid UTF-8 is reported here too (rule "utf8"): a JSON document must be
// Unicode, and valijson's string-length code may read out of bounds on ill-formed bytes, so such
// strings are replaced by U+FFFD in a copy before valijson sees them. A document nested deeper
// than tuning::kJsonMaxDepth is not given to valijson at all (rule "depth"): valijson recurses.
// Every walk here over a document is iterative.

// GCC 12 at -O2 reports a false -Wrestrict inside valijson's json_pointer.hpp (std::string::
// replace inlined; GCC bug 105329) although valijson is a system include. Off for this file only.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wrestrict"
#endif

// Without this valijson calls abort() on a schema it cannot parse; we want an exception.
#define VALIJSON_USE_EXCEPTIONS 1

#include "core/schema_validator.hpp"

#include <algorithm>
#include <exception>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>

#include <valijson/adapters/nlohmann_json_adapter.hpp>
#include <valijson/schema.hpp>
#include <valijson/schema_parser.hpp>
#include <valijson/validation_results.hpp>
#include <valijson/validator.hpp>

#include "core/json_walk.hpp"
#include "core/schema_quick_check.hpp"
#include "core/text.hpp"
#include "core/tuning.hpp"

namespace fieldsync {

struct SchemaValidator::Impl {
  nlohmann::json schema_json;  // for messages: minimum, enum values, examples, …
  valijson::Schema schema;
  // Mutable: valijson's Validator caches compiled regexes as it goes.
  mutable valijson::Validator validator{valijson::Validator::kStrongTypes};
  // What vouches for a valid document before valijson is asked (nullopt: valijson always).
  std::optional<SchemaQuickCheck> quick;
  mutable SchemaQuickCheck::Memo memo;  // this validator's, so this thread's (see the header)
};

namespace {

// "[priority_area]" -> "priority_area"; "<root>" stays as it is.
std::string unbracket(const std::string& segment) {
  if (segment.size() >= 2 && segment.front() == '[' && segment.back() == ']') {
    return segment.substr(1, segment.size() - 2);
  }
  return segment;
}

bool is_index(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// The text between the last pair of single quotes in a valijson description, if any: the
// property name ("… constraints: 'titel'.", "Missing required property 'title'.").
std::string quoted_name(const std::string& description) {
  const auto close = description.rfind('\'');
  if (close == std::string::npos || close == 0) return {};
  const auto open = description.rfind('\'', close - 1);
  if (open == std::string::npos) return {};
  return description.substr(open + 1, close - open - 1);
}

bool starts_with(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// Wrapper errors only say "a child failed"; the child's own error says what and where.
bool is_wrapper(const std::string& d) {
  return starts_with(d, "Failed to validate item #") ||
         starts_with(d, "Failed to validate against schema associated with") ||
         starts_with(d, "Failed to validate against additional properties schema") ||
         starts_with(d, "Failed to validate against child schema #") ||
         starts_with(d, "Failed to validate against any schemas allowed by anyOf") ||
         starts_with(d, "Failed to validate against any child schemas allowed by oneOf") ||
         starts_with(d, "Failed to validate against a conditional schema") ||
         starts_with(d, "Failed to validate against dependent schema") ||
         starts_with(d, "Cannot validate item #");
}

// The keyword behind a valijson description (valijson 1.0 wording).
std::string rule_of(const std::string& d) {
  struct Prefix {
    std::string_view prefix;
    std::string_view rule;
  };
  static constexpr Prefix kPrefixes[] = {
      {"Missing required property", "required"},
      {"Value type not permitted by 'type'", "type"},
      {"Failed to match against any enum values", "enum"},
      {"Failed to match regex specified by 'pattern'", "pattern"},
      {"Expected number greater than or equal to", "minimum"},
      {"Expected number greater than", "exclusiveMinimum"},
      {"Expected number less than or equal to", "maximum"},
      {"Expected number less than", "exclusiveMaximum"},
      {"String should be no fewer than", "minLength"},
      {"String should be no more than", "maxLength"},
      {"Array should contain no fewer than", "minItems"},
      {"Array should contain no more than", "maxItems"},
      {"Object should have no fewer than", "minProperties"},
      {"Object should have no more than", "maxProperties"},
      {"Elements at indexes", "uniqueItems"},
      {"Object contains a property that could not be validated", "additionalProperties"},
      {"Value should be a multiple of", "multipleOf"},
      {"Failed to match expected value set by 'const'", "const"},
      {"Target value and comparison value are not equal", "const"},
      {"Target should not validate against schema specified in 'not'", "not"},
      {"Failed to validate against exactly one child schema", "oneOf"},
      {"Missing dependency", "dependencies"},
      {"String should be a valid", "format"},
  };
  for (const auto& p : kPrefixes) {
    if (starts_with(d, p.prefix)) return std::string(p.rule);
  }
  return "schema";
}

// `node` itself, or the subschema its "$ref" names when that is a local "#/a/b" pointer (as
// "#/$defs/version"); nullptr for a reference elsewhere. One hop: our schemas do not chain them.
const nlohmann::json* resolve_local_ref(const nlohmann::json& root, const nlohmann::json* node) {
  if (!node->is_object()) return node;
  const auto ref = node->find("$ref");
  if (ref == node->end()) return node;
  if (!ref->is_string()) return nullptr;
  const std::string& text = ref->get_ref<const std::string&>();
  if (text.rfind("#/", 0) != 0) return nullptr;
  try {
    const nlohmann::json::json_pointer pointer(text.substr(1));
    return root.contains(pointer) ? &root.at(pointer) : nullptr;
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}

// The subschema that applies at a context path, following properties / items; nullptr when the
// path leaves what a plain walk can follow ($ref, combinators).
const nlohmann::json* subschema_at(const nlohmann::json& root, const std::vector<std::string>& path) {
  const nlohmann::json* node = &root;
  for (std::size_t i = 1; i < path.size(); ++i) {  // path[0] is "<root>"
    if (!node->is_object()) return nullptr;
    const std::string key = unbracket(path[i]);
    const auto props = node->find("properties");
    if (props != node->end() && props->is_object() && props->contains(key)) {
      node = &(*props)[key];
    } else if (is_index(key) && node->contains("items") && (*node)["items"].is_object()) {
      node = &(*node)["items"];
    } else if (is_index(key) && node->contains("items") && (*node)["items"].is_array()) {
      // A tuple ("items": [{…}, {…}]): the index picks its own subschema.
      const auto& items = (*node)["items"];
      if (key.size() > 9) return nullptr;  // no tuple is that long; keeps stoul in range
      const std::size_t index = std::stoul(key);
      if (index >= items.size()) return nullptr;
      node = &items[index];
    } else {
      return nullptr;
    }
    node = resolve_local_ref(root, node);
    if (node == nullptr) return nullptr;
  }
  return node;
}

std::string plain_number(const nlohmann::json& v) {
  if (v.is_number_integer() || v.is_number_unsigned()) return v.dump();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (d == static_cast<double>(static_cast<long long>(d))) {
      return std::to_string(static_cast<long long>(d));
    }
    return v.dump();
  }
  return v.dump();
}

// The schema's value of `keyword` at this level, as plain text; "" when absent.
std::string schema_value(const nlohmann::json* sub, const char* keyword) {
  if (sub == nullptr || !sub->is_object() || !sub->contains(keyword)) return {};
  return plain_number((*sub)[keyword]);
}

std::string type_words(const nlohmann::json& type) {
  auto one = [](const std::string& t) -> std::string {
    if (t == "integer") return "a whole number";
    if (t == "number") return "a number";
    if (t == "string") return "text";
    if (t == "array") return "a list";
    if (t == "object") return "an object";
    if (t == "boolean") return "true or false";
    if (t == "null") return "empty (null)";
    return t;
  };
  if (type.is_string()) return one(type.get<std::string>());
  if (type.is_array()) {
    std::string out;
    for (std::size_t i = 0; i < type.size(); ++i) {
      if (!type[i].is_string()) continue;
      if (!out.empty()) out += i + 1 == type.size() ? " or " : ", ";
      out += one(type[i].get<std::string>());
    }
    return out;
  }
  return "another type";
}

std::string plural(const std::string& n, const char* word) {
  return n + " " + word + (n == "1" ? "" : "s");
}

// A readable sentence for one failure, using the schema's values where it has them.
std::string message_for(const std::string& rule, const std::string& description,
                        const nlohmann::json* sub) {
  if (rule == "required") return "is required";
  if (rule == "additionalProperties") return "is not allowed (unknown field)";
  // A sentence that needs the schema's number, or valijson's words when the walk to the
  // subschema could not find it ("must be at least " with nothing after it helps nobody).
  auto with_value = [&](const char* words, const char* keyword) {
    const std::string value = schema_value(sub, keyword);
    return value.empty() ? description : words + value;
  };
  if (rule == "minimum") return with_value("must be at least ", "minimum");
  if (rule == "maximum") return with_value("must be at most ", "maximum");
  if (rule == "exclusiveMinimum") return with_value("must be greater than ", "exclusiveMinimum");
  if (rule == "exclusiveMaximum") return with_value("must be less than ", "exclusiveMaximum");
  if (rule == "minProperties") {
    const std::string n = schema_value(sub, "minProperties");
    if (n == "1") return "must not be empty";
    if (!n.empty()) return "must have at least " + plural(n, "field");
  }
  if (rule == "maxProperties" && !schema_value(sub, "maxProperties").empty()) {
    return "must have at most " + plural(schema_value(sub, "maxProperties"), "field");
  }
  if (rule == "minLength") {
    const std::string n = schema_value(sub, "minLength");
    return n == "1" ? "must not be empty" : "must be at least " + plural(n, "character") + " long";
  }
  if (rule == "maxLength") return "must be at most " + plural(schema_value(sub, "maxLength"), "character") + " long";
  if (rule == "minItems") return "must list at least " + plural(schema_value(sub, "minItems"), "item");
  if (rule == "maxItems") return "must list at most " + plural(schema_value(sub, "maxItems"), "item");
  if (rule == "uniqueItems") return "must not list the same value twice";
  if (rule == "multipleOf") return "must be a multiple of " + schema_value(sub, "multipleOf");
  if (rule == "type" && sub != nullptr && sub->contains("type")) {
    return "must be " + type_words((*sub)["type"]);
  }
  if (rule == "enum" && sub != nullptr && sub->contains("enum") && (*sub)["enum"].is_array()) {
    std::string out = "must be one of: ";
    bool first = true;
    for (const auto& v : (*sub)["enum"]) {
      if (!first) out += ", ";
      out += v.is_string() ? v.get<std::string>() : v.dump();
      first = false;
    }
    return out;
  }
  if (rule == "pattern" && sub != nullptr) {
    // A schema may give an example of the expected form; it reads better than a regex.
    const auto examples = sub->find("examples");
    if (examples != sub->end() && examples->is_array() && !examples->empty() &&
        (*examples)[0].is_string()) {
      return "does not have the expected form (e.g. " + (*examples)[0].get<std::string>() + ")";
    }
    if (sub->contains("pattern") && (*sub)["pattern"].is_string()) {
      return "does not have the expected form (" + (*sub)["pattern"].get<std::string>() + ")";
    }
  }
  return description;  // valijson's own words, better than nothing
}

// Replaces every ill-formed UTF-8 sequence by U+FFFD.
std::string repaired(std::string_view s) {
  std::string out;
  while (!s.empty()) {
    const std::size_t bad = text::first_invalid_utf8(s);
    if (bad == std::string_view::npos) break;
    out.append(s.substr(0, bad)).append("\xEF\xBF\xBD");
    s.remove_prefix(bad + 1);
  }
  out.append(s);
  return out;
}

// Reports strings that are not valid UTF-8 (values, and keys of objects) under the top-level
// field they sit in, and repairs them in place so valijson only ever sees well-formed text.
// Iterative (its own stack): a document may nest as deep as its sender likes.
void repair_utf8(nlohmann::json& root, std::vector<FieldIssue>& issues) {
  struct Item {
    nlohmann::json* node;
    std::string field;
  };
  std::vector<Item> stack;
  stack.push_back({&root, ""});
  while (!stack.empty()) {
    Item item = std::move(stack.back());
    stack.pop_back();
    nlohmann::json& node = *item.node;
    if (node.is_string()) {
      auto& s = node.get_ref<std::string&>();
      const std::size_t bad = text::first_invalid_utf8(s);
      if (bad == std::string_view::npos) continue;
      issues.push_back({item.field, "utf8", "is not valid UTF-8 text (byte " + std::to_string(bad) + ")"});
      s = repaired(s);
    } else if (node.is_array()) {
      for (auto it = node.rbegin(); it != node.rend(); ++it) stack.push_back({&*it, item.field});
    } else if (node.is_object()) {
      auto& object = node.get_ref<nlohmann::json::object_t&>();
      const bool bad_key = std::any_of(object.begin(), object.end(),
                                       [](const auto& entry) { return !text::is_valid_utf8(entry.first); });
      if (bad_key) {
        nlohmann::json::object_t fixed;
        for (auto& [key, value] : object) {
          std::string fixed_key = key;
          if (!text::is_valid_utf8(key)) {
            fixed_key = repaired(key);
            issues.push_back({item.field.empty() ? fixed_key : item.field, "utf8", "field name is not valid UTF-8 text"});
          }
          fixed[fixed_key] = std::move(value);
        }
        object = std::move(fixed);
      }
      for (auto it = object.rbegin(); it != object.rend(); ++it) {
        stack.push_back({&it->second, item.field.empty() ? it->first : item.field});
      }
    }
  }
}

// What validate() must know before valijson sees a document: whether any text needs repair, and
// whether it nests deeper than valijson (recursive, like any copy or dump of the document) may go.
struct DocumentScan {
  bool invalid_utf8 = false;
  bool too_deep = false;
};

// One iterative pass for both (validate() runs once per imported record).
DocumentScan scan_document(const nlohmann::json& document) {
  DocumentScan scan;
  std::vector<std::pair<const nlohmann::json*, std::size_t>> stack;  // value, its depth
  stack.emplace_back(&document, 0);
  while (!stack.empty()) {
    const auto [value, level] = stack.back();
    stack.pop_back();
    if (value->is_string()) {
      scan.invalid_utf8 = scan.invalid_utf8 || !text::is_valid_utf8(value->get_ref<const std::string&>());
    } else if (value->is_structured()) {
      if (level + 1 > tuning::kJsonMaxDepth) {
        scan.too_deep = true;
        return scan;
      }
      if (value->is_object()) {
        for (const auto& [key, item] : value->get_ref<const nlohmann::json::object_t&>()) {
          scan.invalid_utf8 = scan.invalid_utf8 || !text::is_valid_utf8(key);
          if (item.is_string() || item.is_structured()) stack.emplace_back(&item, level + 1);
        }
      } else {
        for (const auto& item : value->get_ref<const nlohmann::json::array_t&>()) {
          if (item.is_string() || item.is_structured()) stack.emplace_back(&item, level + 1);
        }
      }
    }
  }
  return scan;
}

}  // namespace

SchemaValidator::SchemaValidator(const nlohmann::json& schema) : impl_(std::make_unique<Impl>()) {
  // valijson parses a schema recursively (and so would the copy below): a plugin's schema nested
  // deeper than any input may be is refused before either runs.
  if (json_walk::depth(schema, tuning::kJsonMaxDepth) > tuning::kJsonMaxDepth) {
    throw Error(Errc::plugin, "JSON Schema nests deeper than " + std::to_string(tuning::kJsonMaxDepth) + " levels");
  }
  impl_->schema_json = schema;
  try {
    valijson::SchemaParser parser(valijson::SchemaParser::kDraft7);
    valijson::adapters::NlohmannJsonAdapter adapter(impl_->schema_json);
    parser.populateSchema(adapter, impl_->schema);
  } catch (const std::exception& e) {
    throw Error(Errc::plugin, std::string("JSON Schema cannot be parsed: ") + e.what());
  }
  impl_->quick = SchemaQuickCheck::compile(impl_->schema_json);
}

SchemaValidator::~SchemaValidator() = default;
SchemaValidator::SchemaValidator(SchemaValidator&&) noexcept = default;
SchemaValidator& SchemaValidator::operator=(SchemaValidator&&) noexcept = default;

std::vector<FieldIssue> SchemaValidator::validate(const nlohmann::json& document) const {
  std::vector<FieldIssue> issues;

  // The common case (valid text) validates the caller's document without a copy.
  nlohmann::json repaired_copy;
  const nlohmann::json* target = &document;
  const DocumentScan scan = scan_document(document);
  if (scan.too_deep) {
    // Not given to valijson (recursive): said as an issue naming the field, like any other rule.
    const std::string message = "nests deeper than " + std::to_string(tuning::kJsonMaxDepth) + " levels";
    if (document.is_object()) {
      for (const auto& [key, value] : document.items()) {
        if (json_walk::depth(value, tuning::kJsonMaxDepth - 1) >= tuning::kJsonMaxDepth) {
          issues.push_back({key, "depth", message});
        }
      }
    }
    if (issues.empty()) issues.push_back({"", "depth", message});
    return issues;
  }
  if (scan.invalid_utf8) {
    repaired_copy = document;
    repair_utf8(repaired_copy, issues);
    target = &repaired_copy;
  }

  // Valid text, and the quick check vouches for it: valijson need not walk it.
  if (!scan.invalid_utf8 && impl_->quick && impl_->quick->accepts(document, impl_->memo)) return issues;

  valijson::ValidationResults results;
  valijson::adapters::NlohmannJsonAdapter adapter(*target);
  try {
    if (impl_->validator.validate(impl_->schema, adapter, &results)) return issues;
  } catch (const std::exception& e) {
    issues.push_back({"", "schema", std::string("could not be checked against the schema: ") + e.what()});
    return issues;
  }

  std::set<std::tuple<std::string, std::string, std::string>> seen;
  auto add = [&](FieldIssue issue) {
    if (seen.emplace(issue.field, issue.rule, issue.message).second) issues.push_back(std::move(issue));
  };

  const std::size_t utf8_issues = issues.size();
  std::vector<FieldIssue> wrappers;
  valijson::ValidationResults::Error error;
  while (results.popError(error)) {
    const std::vector<std::string>& path = error.context;
    std::string field = path.size() > 1 ? unbracket(path[1]) : std::string();
    const std::string rule = rule_of(error.description);

    if (is_wrapper(error.description)) {
      wrappers.push_back({field, "schema", error.description});
      continue;
    }

    const nlohmann::json* sub = subschema_at(impl_->schema_json, path);
    std::string message = message_for(rule, error.description, sub);

    // Required and unknown-field errors sit on the object, not on the property: name the
    // property. At the top level that is the field; deeper down, say which one inside it.
    if (rule == "required" || rule == "additionalProperties") {
      const std::string property = quoted_name(error.description);
      if (path.size() <= 1) {
        field = property;
      } else if (!property.empty()) {
        message = "'" + property + "' " + message;
      }
    }
    // An error inside a list names the item (counting from 1, as people do).
    if (path.size() > 2 && is_index(unbracket(path[2]))) {
      message = "item " + std::to_string(std::stoul(unbracket(path[2])) + 1) + " " + message;
    }
    add({std::move(field), rule, std::move(message)});

    // valijson names only the first unknown property; name every one of them.
    if (rule == "additionalProperties" && path.size() <= 1 && target->is_object()) {
      const nlohmann::json& props = impl_->schema_json.value("properties", nlohmann::json::object());
      const bool has_patterns = impl_->schema_json.contains("patternProperties");
      if (!has_patterns) {
        for (const auto& [key, value] : target->items()) {
          if (!props.contains(key)) add({key, rule, "is not allowed (unknown field)"});
        }
      }
    }
  }
  // Only when nothing more specific was said does a wrapper carry information.
  if (issues.size() == utf8_issues) {
    for (auto& w : wrappers) add(std::move(w));
  }
  return issues;
}

SchemaValidatorPool::SchemaValidatorPool(nlohmann::json schema) : schema_(std::move(schema)) {
  free_.push_back(std::make_unique<SchemaValidator>(schema_));
}

std::vector<FieldIssue> SchemaValidatorPool::validate(const nlohmann::json& document) const {
  std::unique_ptr<SchemaValidator> validator;
  {
    std::lock_guard lock(mutex_);
    if (!free_.empty()) {
      validator = std::move(free_.back());
      free_.pop_back();
    }
  }
  if (!validator) validator = std::make_unique<SchemaValidator>(schema_);
  auto issues = validator->validate(document);
  std::lock_guard lock(mutex_);
  free_.push_back(std::move(validator));
  return issues;
}

}  // namespace fieldsync
