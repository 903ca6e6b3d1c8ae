// `fieldsync-hq plugin …`: publishing data-type plugins to the offices (sync/rollout).
#pragma once

#include <CLI/CLI.hpp>

#include "cli/cli_context.hpp"

namespace fieldsync::cli {

// Adds `plugin publish LIB`, `plugin list` and `plugin withdraw NAME VERSION` to `app`.
void add_hq_plugin_commands(CLI::App& app, GlobalOptions& options);

}  // namespace fieldsync::cli
