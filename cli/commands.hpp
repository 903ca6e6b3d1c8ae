// The `fieldsync` subcommands, grouped by what they act on. Each register_* function adds its
// subcommands to the app; a subcommand's callback does the work and stores its exit code.
#pragma once

#include <CLI/CLI.hpp>

#include "cli/cli_context.hpp"

namespace fieldsync::cli {

struct CommandState {
  GlobalOptions options;
  int exit_code = kExitOk;
};

void register_replica_commands(CLI::App& app, CommandState& state);  // init, status, types
void register_record_commands(CLI::App& app, CommandState& state);   // add, edit, delete
void register_query_commands(CLI::App& app, CommandState& state);    // list, show, history
void register_import_command(CLI::App& app, CommandState& state);    // import
void register_sync_commands(CLI::App& app, CommandState& state);     // enroll, sync, conflicts
void register_watch_command(CLI::App& app, CommandState& state);     // watch
void register_plugin_commands(CLI::App& app, CommandState& state);   // plugins, plugins update

}  // namespace fieldsync::cli
