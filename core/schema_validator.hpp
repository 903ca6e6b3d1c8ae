// Validates a JSON document against a JSON Schema with valijson.
//
// The schema is parsed once; validate() may then be called any number of times (not
// concurrently from several threads). Keep "format" out of schemas: valijson 1.0 builds a
// std::regex per format check, ~35x slower (see shared/STACK.md); use "pattern".
#pragma once

#include <memory>
#include <mutex>
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

// SchemaValidators of one schema for callers on several threads (HQ checks a page's new records
// on more than one): each validate() borrows a validator no other thread is using, made when
// none is free, so there are at most as many as threads that ever validated at once.
class SchemaValidatorPool {
 public:
  // Throws as SchemaValidator does: the first validator is made here.
  explicit SchemaValidatorPool(nlohmann::json schema);

  std::vector<FieldIssue> validate(const nlohmann::json& document) const;

 private:
  nlohmann::json schema_;
  mutable std::mutex mutex_;
  mutable std::vector<std::unique_ptr<SchemaValidator>> free_;
};

}  // namespace fieldsync
