#include "cli/hq_plugin_commands.hpp"

#include <iostream>
#include <memory>

#include "cli/hq_home.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "sync/rollout/plugin_publisher.hpp"

namespace fieldsync::cli {
namespace {

rollout::PluginPublisher publisher_at(const GlobalOptions& options) {
  const auto home = resolve_hq_home(options.home);
  if (!std::filesystem::exists(home / "signing.key")) {
    throw Error(Errc::not_initialized, "no HQ here: run `fieldsync-hq init` first", home.string());
  }
  return rollout::PluginPublisher(home);
}

nlohmann::json manifest_json(const rollout::PluginManifest& m) {
  return {{"name", m.name},         {"version", m.version}, {"api_version", m.api_version},
          {"platform", m.platform}, {"sha256", m.sha256},   {"size", m.size},
          {"description", m.description}, {"published", format_utc_seconds(m.published)}};
}

}  // namespace

void add_hq_plugin_commands(CLI::App& app, GlobalOptions& options) {
  auto* plugin = app.add_subcommand("plugin", "Plugins HQ rolls out to the offices: publish, list, withdraw");
  plugin->require_subcommand(1);

  auto library = std::make_shared<std::string>();
  auto* publish = plugin->add_subcommand("publish", "Sign a plugin library and publish it: every office gets it at its next sync");
  publish->add_option("library", *library, "The plugin's shared library (.so)")->required();
  publish->callback([&options, library] {
    const auto manifest = publisher_at(options).publish(*library);
    if (options.json) {
      print_json(manifest_json(manifest));
    } else {
      std::cout << "Published " << manifest.name << " version " << manifest.version << " (" << manifest.size
                << " bytes, SHA-256 " << manifest.sha256.substr(0, 16) << "…), signed by HQ.\n"
                << "Offices install it at their next sync.\n";
    }
  });

  auto* list = plugin->add_subcommand("list", "What HQ publishes, and what it withdrew");
  list->callback([&options] {
    const auto published = publisher_at(options).list();
    if (options.json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& p : published) {
        auto item = manifest_json(p.manifest);
        item["withdrawn"] = p.withdrawn;
        out.push_back(std::move(item));
      }
      print_json(out);
      return;
    }
    if (published.empty()) std::cout << "No plugin published yet.\n";
    for (const auto& p : published) {
      std::cout << p.manifest.name << " " << p.manifest.version << (p.withdrawn ? "  WITHDRAWN" : "") << "  published "
                << format_utc_seconds(p.manifest.published) << "  " << p.manifest.size << " bytes  "
                << p.manifest.sha256.substr(0, 16) << "…  " << p.manifest.description << "\n";
    }
  });

  auto name = std::make_shared<std::string>();
  auto version = std::make_shared<int>(0);
  auto* withdraw = plugin->add_subcommand("withdraw", "Take a published version back: laptops stop loading it");
  withdraw->add_option("name", *name, "The plugin's type name")->required();
  withdraw->add_option("version", *version, "Its version")->required()->check(CLI::PositiveNumber);
  withdraw->callback([&options, name, version] {
    publisher_at(options).withdraw(*name, *version);
    if (options.json) {
      print_json({{"name", *name}, {"version", *version}, {"withdrawn", true}});
    } else {
      std::cout << *name << " version " << *version << " is withdrawn: laptops stop loading it at their next sync.\n";
    }
  });
}

}  // namespace fieldsync::cli
