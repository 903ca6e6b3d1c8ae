// fieldsync: the field officer's command. Parses the command line, runs one subcommand, and is
// the one place where errors become messages and exit codes.
#include <malloc.h>

#include <iostream>

#include "cli/commands.hpp"
#include "core/tuning.hpp"

int main(int argc, char** argv) {
  using namespace fieldsync::cli;
  mallopt(M_ARENA_MAX, fieldsync::tuning::kLaptopMallocArenas);  // see tuning.hpp
  CommandState state;
  CLI::App app{"fieldsync — offline-first activity records for a field office"};
  app.require_subcommand(1);
  app.fallthrough();  // --home and --json may come before or after the subcommand
  app.add_option("--home", state.options.home, "Replica folder (default: $FIELDSYNC_HOME, else ~/.fieldsync)");
  app.add_flag("--json", state.options.json, "Machine-readable JSON output");

  register_replica_commands(app, state);
  register_record_commands(app, state);
  register_query_commands(app, state);
  register_import_command(app, state);
  register_sync_commands(app, state);
  register_watch_command(app, state);
  register_plugin_commands(app, state);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? kExitOk : kExitUsage;
  } catch (const fieldsync::Error& e) {
    print_error(state.options, e);
    return exit_code_for(e.code());
  } catch (const std::exception& e) {
    print_error(state.options, fieldsync::Error(fieldsync::Errc::internal, e.what()));
    return kExitFailure;
  }
  return state.exit_code;
}
