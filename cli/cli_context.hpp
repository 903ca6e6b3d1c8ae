// What every `fieldsync` command shares: the global options, the replica it opens, output in
// the two forms (readable text for people, JSON for scripts) and the exit codes.
#pragma once

#include <filesystem>
#include <iosfwd>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/plugin_host.hpp"
#include "core/replica.hpp"

namespace fieldsync::cli {

// Exit codes, documented in the README.
enum ExitCode : int {
  kExitOk = 0,
  kExitFailure = 1,        // storage or internal failure
  kExitUsage = 2,          // bad command line
  kExitInvalid = 3,        // bad input: schema, plugin check, JSON, UTF-8; import with rejected lines
  kExitNotFound = 4,       // unknown record or type
  kExitNotInitialized = 5, // no replica in the home folder, or one already there for init
  kExitNetwork = 6,        // HQ unreachable, TLS failure, timeout
};

int exit_code_for(Errc code);

struct GlobalOptions {
  std::string home;   // --home, else $FIELDSYNC_HOME, else ~/.fieldsync
  bool json = false;  // --json
};

std::filesystem::path resolve_home(const GlobalOptions& options);

// The replica at the resolved home with its plugins loaded. Plugin libraries that failed to load
// are reported on stderr as warnings; they never stop the command.
class OpenReplica {
 public:
  // Opens the replica with the plugins it uses, and checks the records that waited for a plugin
  // installed since (a note on stderr says what that found).
  explicit OpenReplica(const GlobalOptions& options);
  Replica& operator*() { return *replica_; }
  Replica* operator->() { return replica_.get(); }
  const PluginHost& types() const { return *types_; }
  // After a plugin update: the plugins loaded again, and the records that waited checked.
  std::vector<WaitingCheck> reload_plugins();

 private:
  std::unique_ptr<PluginHost> types_;
  std::unique_ptr<Replica> replica_;
};

// Loads the plugins a replica at `home` uses and warns about the ones that failed.
std::unique_ptr<PluginHost> load_plugins(const std::filesystem::path& home);

// Prints `value` (pretty) on stdout, for --json.
void print_json(const nlohmann::json& value);

// Reports an error on stderr: readable text, or {"error": {...}} with --json.
void print_error(const GlobalOptions& options, const Error& error);
nlohmann::json error_to_json(const Error& error);
// [{"field", "rule", "message"}…]
nlohmann::json issues_to_json(const std::vector<FieldIssue>& issues);

}  // namespace fieldsync::cli
