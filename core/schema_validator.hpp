// Validates a JSON document against a JSON Schema with valijson.
//
// The schema is parsed once; validate() may then be called any number of times (not
// concurrently from several threads). Keep "format" out of schemas: valijson 1.0 builds a
// std::regex per format check, ~35x slower (see shared/STACK.md); use "pattern".
#pragma once

#include <memory>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace fieldsync {

class SchemaValidator {
 public:
  // Throws Error(plugin) when `schema` is not a schema valijson can parse.
  explicit SchemaValidator(const nlohmann::json& schema);
  ~SchemaValidator();
  SchemaValidator(SchemaValidator&&) noexcept;
  SchemaValidator& operator=(SchemaValidator&&) noexcept;

  // One FieldIssue per failed rule, naming the top-level field (or "" for the whole document),
  // the rule ("required", "minimum", "enum", "pattern", "type", "additionalProperties", …) and a
  // readable message. Empty when the document is valid.
  std::vector<FieldIssue> validate(const nlohmann::json& document) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldsync
