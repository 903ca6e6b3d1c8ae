// The part of a DataType every plugin of ours shares: the JSON Schema embedded in the library,
// parsed once through the same checks as any input, and check() = that schema, then the type's
// own rules. A plugin derives from it and says the rest (name, policies, normal form, rules,
// summary, migration, report).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/data_type.hpp"
#include "core/schema_validator.hpp"

namespace fieldsync::plugin_support {

class SchemaDataType : public DataType {
 public:
  // `plugin` names the plugin in errors ("activity plugin"); `schema_text` is its embedded schema.
  // Throws Error(plugin) when the schema is refused: a library with a broken schema is unusable.
  SchemaDataType(std::string plugin, std::string_view schema_text);

  const nlohmann::json& schema() const final { return schema_; }
  // The schema's issues, then rules()'s.
  std::vector<FieldIssue> check(const nlohmann::json& fields) const final;
  // A type's first shape: fields of its own schema version as they are, any other refused with
  // cannot_migrate(). A later version overrides this with its steps from each older one.
  nlohmann::json migrate(nlohmann::json fields, int from_version) const override;

 protected:
  // The type's rules a schema cannot state; they look only at values of the shape the schema
  // asks for (the schema reports the others, once).
  virtual std::vector<FieldIssue> rules(const nlohmann::json& fields) const = 0;

  // For migrate(): the error for a schema version this plugin cannot bring to its own.
  Error cannot_migrate(int from_version) const;

  const std::string& plugin() const { return plugin_; }

 private:
  std::string plugin_;
  nlohmann::json schema_;
  // A pool: HQ checks records of one type on several threads at once (a SchemaValidator is not
  // thread-safe: valijson caches regexes).
  SchemaValidatorPool validators_;
};

}  // namespace fieldsync::plugin_support
