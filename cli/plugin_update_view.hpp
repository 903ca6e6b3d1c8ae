// How `fieldsync sync` and `fieldsync plugins update` show what a plugin update did.
#pragma once

#include <nlohmann/json.hpp>

#include "sync/plugin_update.hpp"

namespace fieldsync::cli {

// {"catalogue": N, "installed": [{"name", "version"}…], "refused": [{"plugin", "reason"}…]}
nlohmann::json plugin_update_json(const PluginUpdate& update);

// [{"type", "version", "checked", "newer", "broken": [{"id", "issues": [{"field", "rule", "message"}…]}…]}…]
nlohmann::json waiting_checks_json(const std::vector<WaitingCheck>& checks);

// One line per plugin installed or refused (refusals on stderr: each says which check failed).
void print_plugin_update(const PluginUpdate& update);

}  // namespace fieldsync::cli
