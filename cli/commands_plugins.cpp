// plugins, plugins update: the data types HQ rolled out to this laptop.
#include <iostream>

#include "cli/commands.hpp"
#include "cli/plugin_update_view.hpp"
#include "core/clock.hpp"

namespace fieldsync::cli {

nlohmann::json plugin_update_json(const PluginUpdate& update) {
  nlohmann::json installed = nlohmann::json::array();
  for (const auto& m : update.installed) installed.push_back({{"name", m.name}, {"version", m.version}});
  nlohmann::json refused = nlohmann::json::array();
  for (const auto& r : update.refused) refused.push_back({{"plugin", r.plugin}, {"reason", r.reason}});
  return {{"catalogue", update.catalogue}, {"installed", installed}, {"refused", refused}};
}

nlohmann::json waiting_checks_json(const std::vector<WaitingCheck>& checks) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& check : checks) {
    nlohmann::json broken = nlohmann::json::array();
    for (const auto& record : check.broken) broken.push_back({{"id", record.record_id}, {"issues", issues_to_json(record.issues)}});
    out.push_back({{"type", check.type}, {"version", check.schema_version}, {"checked", check.checked},
                   {"newer", check.newer}, {"broken", broken}});
  }
  return out;
}

void print_plugin_update(const PluginUpdate& update) {
  for (const auto& m : update.installed) {
    std::cout << "Installed plugin " << m.name << " version " << m.version << " from HQ (signature and hash checked): "
              << m.description << "\n";
  }
  for (const auto& r : update.refused) std::cerr << "Refused plugin " << r.plugin << ": " << r.reason << "\n";
}

void register_plugin_commands(CLI::App& app, CommandState& state) {
  auto* plugins = app.add_subcommand("plugins", "The data types installed here, their versions and where each came from");
  plugins->callback([&state, plugins] {
    if (!plugins->get_subcommands().empty()) return;  // `plugins update` runs instead
    const auto home = resolve_home(state.options);
    auto host = load_plugins(home);
    const auto installer = installer_for(home);
    const auto accepted = installer.accepted();
    nlohmann::json out = nlohmann::json::array();
    for (const auto& [name, plugin] : host->types()) {
      const bool from_hq = plugin.file.parent_path() == installer.folder();
      out.push_back({{"name", name},
                     {"version", plugin.type->schema_version()},
                     {"description", plugin.type->description()},
                     {"source", from_hq ? "HQ" : "local"},
                     {"file", plugin.file.string()}});
    }
    if (state.options.json) {
      print_json({{"plugins", out}, {"catalogue", accepted ? nlohmann::json(accepted->version) : nlohmann::json(nullptr)}});
      return;
    }
    for (const auto& p : out) {
      std::cout << p["name"].get<std::string>() << " " << p["version"].get<int>() << "  "
                << (p["source"] == "HQ" ? "from HQ, signature checked" : "installed with fieldsync") << "  "
                << p["description"].get<std::string>() << "\n";
    }
    if (accepted) {
      std::cout << "HQ's catalogue: version " << accepted->version << ", good until " << format_utc_seconds(accepted->expires) << ".\n";
    } else {
      std::cout << "No plugin catalogue from HQ yet (it comes with a sync).\n";
    }
  });

  auto* update = plugins->add_subcommand("update", "Fetch and install now what HQ publishes (each sync does it when HQ has news)");
  update->callback([&state] {
    const auto home = resolve_home(state.options);
    const auto enrollment = load_enrollment(home);
    if (!enrollment) {
      throw Error(Errc::not_initialized, "this replica is not enrolled with HQ: run `fieldsync enroll --hq URL --ca FILE --token TOKEN`");
    }
    const PluginUpdate result = update_plugins(*enrollment, home);
    // Records that waited for a plugin just installed are checked now (OpenReplica does it).
    std::vector<WaitingCheck> checked;
    if (!result.installed.empty()) {
      PluginHost types;
      load_replica_plugins(types, home);
      Replica replica(home, types);
      checked = replica.check_waiting_records();
    }
    if (state.options.json) {
      nlohmann::json out = plugin_update_json(result);
      out["waiting_checked"] = waiting_checks_json(checked);
      print_json(out);
    } else {
      print_plugin_update(result);
      if (result.installed.empty() && result.refused.empty()) std::cout << "Plugins are up to date.\n";
      for (const auto& check : checked) std::cout << waiting_check_words(check) << ".\n";
    }
    if (!result.refused.empty()) state.exit_code = kExitFailure;
  });
}

}  // namespace fieldsync::cli
