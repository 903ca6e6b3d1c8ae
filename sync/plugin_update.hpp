// The laptop fetching and installing what HQ publishes (sync/rollout/plugin_installer.hpp), and
// loading what is installed: `fieldsync plugins update`, and every sync whose answer names a
// catalogue newer than the one this laptop accepted.
#pragma once

#include <cstdint>
#include <filesystem>
#include <vector>

#include "core/plugin_host.hpp"
#include "core/record.hpp"
#include "sync/enrollment.hpp"
#include "sync/rollout/plugin_installer.hpp"

namespace fieldsync {

class HttpsClient;
class Replica;

struct PluginUpdate {
  std::uint64_t catalogue = 0;                     // the version accepted (0: none)
  std::vector<rollout::PluginManifest> installed;  // by this update
  std::vector<rollout::PluginRefusal> refused;     // each with the check that failed (also logged)
};

// GET /v1/plugins over `connection`, then each bundle it lists that this laptop lacks, each
// verified before it is written (a refusal is reported, logged, and the rest go on). `now` (Unix
// seconds; 0: this laptop's clock) judges the catalogue's expiry. Throws Error(network) when HQ
// cannot be reached; a refused catalogue is a refusal, not an error.
PluginUpdate update_plugins(HttpsClient& connection, const Enrollment& enrollment, const std::filesystem::path& home,
                            std::int64_t now = 0);

// The same on a connection of its own.
PluginUpdate update_plugins(const Enrollment& enrollment, const std::filesystem::path& home, std::int64_t now = 0);

// Whether a sync answer's catalogue version is news to this laptop.
bool catalogue_is_news(std::uint64_t announced, const Enrollment& enrollment, const std::filesystem::path& home);

// Loads into `host` the plugins a replica at `home` uses: its folders (PluginHost::
// default_directories), at HQ's home the bundles it publishes, then the bundles installed from HQ
// that verify now against the pinned key (see PluginInstaller::loadable). Returns the installed
// ones refused, with why.
std::vector<rollout::PluginRefusal> load_replica_plugins(PluginHost& host, const std::filesystem::path& home);

// After an update installed plugins: `types` (the host `replica` uses) loaded again as
// load_replica_plugins finds them now, then the records that waited for a plugin checked
// (Replica::check_waiting_records). Returns what that check found.
std::vector<WaitingCheck> use_updated_plugins(PluginHost& types, Replica& replica);

// "3 distribution records that waited for their plugin checked: 1 breaks its rules, kept as it
// is (`fieldsync status` lists it)"
std::string waiting_check_words(const WaitingCheck& check);

// The installer for `home`, with the signing key its enrollment pins (none when not enrolled).
rollout::PluginInstaller installer_for(const std::filesystem::path& home);

}  // namespace fieldsync
