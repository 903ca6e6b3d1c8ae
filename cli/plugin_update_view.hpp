// How `fieldsync sync` and `fieldsync plugins update` show what a plugin update did.
#pragma once

#include <nlohmann/json.hpp>

#include "sync/plugin_update.hpp"

namespace fieldsync::cli {

// {"catalogue": N, "installed": [{"name", "version"}…], "refused": [{"plugin", "reason"}…]}
nlohmann::json plugin_update_json(const PluginUpdate& update);

// One line per plugin installed or refused (refusals on stderr: each says which check failed).
void print_plugin_update(const PluginUpdate& update);

}  // namespace fieldsync::cli
