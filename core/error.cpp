#include "core/error.hpp"

namespace fieldsync {

Error::Error(Errc code, const std::string& message, std::string where,
             std::vector<FieldIssue> issues)
    : std::runtime_error(message), code_(code), where_(std::move(where)), issues_(std::move(issues)) {}

std::string Error::describe() const {
  std::string out = where_.empty() ? std::string(what()) : where_ + ": " + what();
  for (const auto& issue : issues_) {
    out += "\n  - ";
    if (!issue.field.empty()) out += "field '" + issue.field + "': ";
    out += issue.message;
    if (!issue.rule.empty()) out += " [" + issue.rule + "]";
  }
  return out;
}

const char* to_string(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_input: return "invalid_input";
    case Errc::validation: return "validation";
    case Errc::not_found: return "not_found";
    case Errc::not_initialized: return "not_initialized";
    case Errc::already_exists: return "already_exists";
    case Errc::storage: return "storage";
    case Errc::network: return "network";
    case Errc::plugin: return "plugin";
    case Errc::internal: return "internal";
  }
  return "internal";
}

}  // namespace fieldsync
