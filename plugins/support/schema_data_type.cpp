#include "plugins/support/schema_data_type.hpp"

#include <iterator>
#include <utility>

#include "core/json_input.hpp"

namespace fieldsync::plugin_support {
namespace {

// The embedded schema through the same checks as any input (a schema nested too deep would
// crash valijson's recursive parser; a key twice would silently drop a rule).
nlohmann::json parse_schema(const std::string& plugin, std::string_view text) {
  try {
    return parse_json_input(text, plugin);
  } catch (const Error& e) {
    throw Error(Errc::plugin, plugin + ": embedded schema is refused: " + e.describe());
  }
}

}  // namespace

SchemaDataType::SchemaDataType(std::string plugin, std::string_view schema_text)
    : plugin_(std::move(plugin)), schema_(parse_schema(plugin_, schema_text)), validators_(schema_) {}

std::vector<FieldIssue> SchemaDataType::check(const nlohmann::json& fields) const {
  std::vector<FieldIssue> issues = validators_.validate(fields);
  std::vector<FieldIssue> more = rules(fields);
  issues.insert(issues.end(), std::make_move_iterator(more.begin()), std::make_move_iterator(more.end()));
  return issues;
}

nlohmann::json SchemaDataType::migrate(nlohmann::json fields, int from_version) const {
  if (from_version == schema_version()) return fields;
  throw cannot_migrate(from_version);
}

Error SchemaDataType::cannot_migrate(int from_version) const {
  return Error(Errc::plugin, plugin_ + ": cannot migrate fields from schema version " + std::to_string(from_version) +
                                 " (it knows version " + std::to_string(schema_version()) + " and older)");
}

}  // namespace fieldsync::plugin_support
