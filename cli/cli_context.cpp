#include "cli/cli_context.hpp"

#include <cstdlib>
#include <iostream>

#include "sync/plugin_update.hpp"

namespace fieldsync::cli {

int exit_code_for(Errc code) {
  switch (code) {
    case Errc::invalid_input:
    case Errc::validation: return kExitInvalid;
    case Errc::not_found: return kExitNotFound;
    case Errc::not_initialized:
    case Errc::already_exists: return kExitNotInitialized;
    case Errc::network: return kExitNetwork;
    case Errc::storage:
    case Errc::plugin:
    case Errc::internal: return kExitFailure;
  }
  return kExitFailure;
}

std::filesystem::path resolve_home(const GlobalOptions& options) {
  if (!options.home.empty()) return options.home;
  if (const char* env = std::getenv("FIELDSYNC_HOME"); env != nullptr && *env != '\0') return env;
  if (const char* user_home = std::getenv("HOME"); user_home != nullptr && *user_home != '\0') {
    return std::filesystem::path(user_home) / ".fieldsync";
  }
  throw Error(Errc::invalid_input, "no replica home: give --home DIR or set FIELDSYNC_HOME");
}

std::unique_ptr<PluginHost> load_plugins(const std::filesystem::path& home) {
  auto host = std::make_unique<PluginHost>();
  for (const auto& refusal : load_replica_plugins(*host, home)) {
    std::cerr << "warning: plugin " << refusal.plugin << " from HQ not loaded: " << refusal.reason << "\n";
  }
  for (const auto& failure : host->failures()) {
    std::cerr << "warning: plugin " << failure.file.string() << " not loaded: " << failure.reason << "\n";
  }
  return host;
}

OpenReplica::OpenReplica(const GlobalOptions& options) {
  const auto home = resolve_home(options);
  types_ = load_plugins(home);
  replica_ = std::make_unique<Replica>(home, *types_);
  for (const auto& check : replica_->check_waiting_records()) std::cerr << "note: " << waiting_check_words(check) << "\n";
}

std::vector<WaitingCheck> OpenReplica::reload_plugins() { return use_updated_plugins(*types_, *replica_); }

void print_json(const nlohmann::json& value) {
  std::cout << value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

nlohmann::json issues_to_json(const std::vector<FieldIssue>& issues) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& issue : issues) out.push_back({{"field", issue.field}, {"rule", issue.rule}, {"message", issue.message}});
  return out;
}

nlohmann::json error_to_json(const Error& error) {
  return {{"code", to_string(error.code())}, {"message", error.what()}, {"where", error.where()},
          {"issues", issues_to_json(error.issues())}};
}

void print_error(const GlobalOptions& options, const Error& error) {
  if (options.json) {
    std::cerr << nlohmann::json{{"error", error_to_json(error)}}.dump(2, ' ', false,
                                                                        nlohmann::json::error_handler_t::replace)
              << "\n";
  } else {
    std::cerr << "error: " << error.describe() << "\n";
  }
}

}  // namespace fieldsync::cli
