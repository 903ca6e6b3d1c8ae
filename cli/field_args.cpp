#include "cli/field_args.hpp"

#include <charconv>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>

#include "core/error.hpp"
#include "core/json_input.hpp"
#include "core/text.hpp"

namespace fieldsync::cli {
namespace {

std::string property_type(const nlohmann::json& schema, const std::string& key) {
  const auto properties = schema.find("properties");
  if (properties == schema.end() || !properties->is_object()) return "string";
  const auto property = properties->find(key);
  if (property == properties->end() || !property->is_object()) return "string";
  const auto type = property->find("type");
  if (type == property->end()) return "string";
  if (type->is_string()) return type->get<std::string>();
  if (type->is_array()) {
    for (const auto& t : *type) {
      if (t.is_string() && t.get<std::string>() != "null") return t.get<std::string>();
    }
  }
  return "string";
}

nlohmann::json parse_number(const std::string& text, bool integer_only) {
  std::int64_t integer = 0;
  const char* end = text.data() + text.size();
  if (auto [ptr, ec] = std::from_chars(text.data(), end, integer); ec == std::errc() && ptr == end) return integer;
  if (!integer_only) {
    double real = 0;
    if (auto [ptr, ec] = std::from_chars(text.data(), end, real); ec == std::errc() && ptr == end) return real;
  }
  return text;  // left as text: the schema check names the field and says a number is needed
}

// A list typed as JSON (`institutions=["SESRIC", "ISESCO"]`) or as comma-separated text. Text
// that is not JSON at all is taken as the comma-separated form; JSON that breaks a rule of
// parse_json_input (too deep, a NUL, a key twice) is refused, naming the field.
nlohmann::json parse_list(const std::string& key, const std::string& text) {
  if (!text.empty() && text.front() == '[') {
    try {
      return parse_json_input(text, "field " + key);
    } catch (const Error& e) {
      const std::string rule = e.issues().empty() ? std::string() : e.issues().front().rule;
      if (rule != "json" && rule != "utf8") {
        std::vector<FieldIssue> issues = e.issues();
        for (auto& issue : issues) issue.field = key;
        throw Error(e.code(), e.what(), e.where(), std::move(issues));
      }
    }
  }
  nlohmann::json out = nlohmann::json::array();
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    std::string item = text.substr(start, comma - start);
    if (text::is_valid_utf8(item)) item = text::trim(item);
    if (!item.empty()) out.push_back(item);
    start = comma + 1;
  }
  return out;
}

}  // namespace

nlohmann::json parse_field_args(const std::vector<std::string>& args, const nlohmann::json& schema) {
  nlohmann::json fields = nlohmann::json::object();
  for (const auto& arg : args) {
    const auto equals = arg.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw Error(Errc::invalid_input, "'" + arg + "' is not field=value (for example title=\"Workshop on water\")");
    }
    const std::string key = arg.substr(0, equals);
    const std::string value = arg.substr(equals + 1);
    const std::string type = property_type(schema, key);
    if (type == "integer") {
      fields[key] = parse_number(value, true);
    } else if (type == "number") {
      fields[key] = parse_number(value, false);
    } else if (type == "array") {
      fields[key] = parse_list(key, value);
    } else if (type == "boolean" && (value == "true" || value == "false")) {
      fields[key] = value == "true";
    } else {
      fields[key] = value;
    }
  }
  return fields;
}

nlohmann::json read_fields_file(const std::string& path, std::string& id) {
  std::string content;
  if (path == "-") {
    content.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error(Errc::invalid_input, "cannot read the file", path);
    content.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  // Malformed JSON or UTF-8, nesting past the limit, a key twice, a NUL: refused, naming the field.
  nlohmann::json parsed = parse_json_input(content, path == "-" ? std::string("standard input") : path);
  if (!parsed.is_object()) throw Error(Errc::invalid_input, "the file must hold a JSON object of fields", path);
  if (parsed.contains("fields") && parsed["fields"].is_object()) {
    if (parsed.contains("id")) {
      if (!parsed["id"].is_string()) throw Error(Errc::invalid_input, "\"id\" must be a string", path);
      id = parsed["id"].get<std::string>();
    }
    return parsed["fields"];
  }
  return parsed;
}

}  // namespace fieldsync::cli
