// The one error type of FieldSync.
//
// Every part reports failure by throwing fieldsync::Error; it is caught at one boundary per
// program (the command line, the HQ server's request handler) and turned into a message and an
// exit code or an HTTP status. An Error says what failed (code + message), where (a record id, an
// input line, a file) and, for a rejected record, which fields broke which rules.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace fieldsync {

enum class Errc {
  invalid_input,    // malformed JSON, invalid UTF-8, a value of the wrong shape, bad usage
  validation,       // a record that breaks its type's schema or a plugin check
  not_found,        // unknown record id, unknown type
  not_initialized,  // a home folder without a replica
  already_exists,   // init over an existing replica, a duplicate id
  storage,          // SQLite or file-system failure
  network,          // HQ unreachable, TLS failure, timeout
  plugin,           // a plugin that cannot be loaded or misbehaves
  internal,         // a broken invariant: a bug
};

// One rule one field broke, in words a field officer understands.
struct FieldIssue {
  std::string field;    // "end_date"; empty for a whole-record rule
  std::string rule;     // short rule name: "minimum", "pattern", "end_after_start", …
  std::string message;  // "must be on or after start_date (2018-03-08)"
};

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message, std::string where = {},
        std::vector<FieldIssue> issues = {});

  Errc code() const noexcept { return code_; }
  // What the error is about: "record 0190…", "line 12 of activities.jsonl", a path. May be empty.
  const std::string& where() const noexcept { return where_; }
  const std::vector<FieldIssue>& issues() const noexcept { return issues_; }

  // The message, prefixed with where, followed by one line per field issue.
  std::string describe() const;

 private:
  Errc code_;
  std::string where_;
  std::vector<FieldIssue> issues_;
};

const char* to_string(Errc code) noexcept;

}  // namespace fieldsync
