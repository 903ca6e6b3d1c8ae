#include "sync/plugin_update.hpp"

#include <ctime>
#include <iostream>

#include "core/error.hpp"
#include "core/replica.hpp"
#include "sync/rollout/plugin_publisher.hpp"
#include "sync/sync_client.hpp"
#include "sync/transport/https_client.hpp"

namespace fieldsync {
namespace {

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

void refuse(PluginUpdate& update, const rollout::PluginInstaller& installer, std::string plugin, std::string reason) {
  installer.log("refused " + plugin + ": " + reason);
  update.refused.push_back({std::move(plugin), std::move(reason)});
}

}  // namespace

rollout::PluginInstaller installer_for(const std::filesystem::path& home) {
  std::optional<rollout::PublicKey> pinned;
  try {
    if (const auto enrollment = load_enrollment(home); enrollment && !enrollment->signing_key.empty()) {
      pinned = rollout::read_public_key(enrollment->signing_key);
    }
  } catch (const Error&) {
    // A damaged enrollment or key file pins nothing: every bundle is refused for it.
  }
  return rollout::PluginInstaller(home, std::move(pinned));
}

bool catalogue_is_news(std::uint64_t announced, const Enrollment& enrollment, const std::filesystem::path& home) {
  if (announced == 0 || enrollment.signing_key.empty()) return false;
  try {
    const auto accepted = installer_for(home).accepted();
    return !accepted || accepted->version < announced;
  } catch (const Error&) {
    return true;  // the kept catalogue is damaged: fetch a good one
  }
}

PluginUpdate update_plugins(HttpsClient& connection, const Enrollment& enrollment, const std::filesystem::path& home,
                            std::int64_t now) {
  PluginUpdate update;
  rollout::PluginInstaller installer = installer_for(home);
  if (enrollment.signing_key.empty()) {
    refuse(update, installer, "HQ's catalogue", "no HQ signing key is pinned here: enroll again with --signing-key");
    return update;
  }
  const HttpsResult listed = connection.get("/v1/plugins");
  if (listed.status == 404) return update;  // HQ publishes nothing
  if (listed.status != 200) {
    throw Error(Errc::network, "HQ answered " + std::to_string(listed.status) + " for its plugin catalogue", enrollment.hq_url);
  }
  rollout::Catalogue catalogue;
  try {
    catalogue = installer.accept_catalogue(listed.body, now != 0 ? now : now_seconds());
  } catch (const Error& e) {
    refuse(update, installer, "HQ's catalogue", e.what());
    return update;
  }
  update.catalogue = catalogue.version;
  for (const auto& entry : installer.wanted(catalogue)) {
    const std::string plugin = entry.name + " " + std::to_string(entry.version);
    const HttpsResult bundle = connection.get("/v1/plugins/" + entry.name + "/" + std::to_string(entry.version));
    if (bundle.status != 200) {
      refuse(update, installer, plugin, "HQ answered " + std::to_string(bundle.status) + " for it");
      continue;
    }
    try {
      update.installed.push_back(installer.install(bundle.body, entry));
    } catch (const Error& e) {
      refuse(update, installer, plugin, e.what());
    }
  }
  return update;
}

PluginUpdate update_plugins(const Enrollment& enrollment, const std::filesystem::path& home, std::int64_t now) {
  auto connection = connect_to_hq(enrollment);
  return update_plugins(*connection, enrollment, home, now);
}

std::vector<rollout::PluginRefusal> load_replica_plugins(PluginHost& host, const std::filesystem::path& home) {
  for (const auto& dir : PluginHost::default_directories(home)) host.load_directory(dir);
  // HQ's own home: the types it publishes are its own build's (what `serve` loads too).
  for (const auto& library : rollout::PluginPublisher(home).current_libraries()) host.load_file(library);
  std::vector<rollout::PluginRefusal> refused;
  try {
    for (const auto& plugin : installer_for(home).loadable(refused)) host.load_file(plugin.library);
  } catch (const Error& e) {
    refused.push_back({"HQ's catalogue", e.what()});
  }
  return refused;
}

std::vector<WaitingCheck> use_updated_plugins(PluginHost& types, Replica& replica) {
  PluginHost loaded;
  load_replica_plugins(loaded, replica.home());
  types.replace(std::move(loaded));
  return replica.check_waiting_records();
}

std::string waiting_check_words(const WaitingCheck& check) {
  const auto count = [](std::size_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); };
  std::string words = count(check.checked, "record", "records") + " of type " + check.type +
                      " that waited for its plugin checked: ";
  words += check.broken.empty() ? std::string("all pass")
                                : count(check.broken.size(), "breaks", "break") + " its rules, kept as " +
                                      (check.broken.size() == 1 ? "it is" : "they are") + " (`fieldsync status` lists " +
                                      (check.broken.size() == 1 ? "it" : "them") + ")";
  if (check.newer > 0) words += "; " + count(check.newer, "is", "are") + " of a newer version, left for it";
  return words;
}

}  // namespace fieldsync
