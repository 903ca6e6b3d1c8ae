// A laptop's side of the rollout: the plugins it accepted from HQ, kept in the replica's home:
//
//   rollout/catalogue.json          the newest catalogue accepted, as HQ served it (signed)
//   rollout/NAME-VERSION.so         an installed library
//   rollout/NAME-VERSION.json       its manifest and HQ's signature, as HQ served them
//
// Nothing here is ever opened as a library before it is verified: a bundle's signature by HQ's
// pinned key, its manifest's name, platform and API version, and the library's size and SHA-256,
// against a catalogue whose own signature, version and expiry hold. A library is installed by an
// atomic rename (a cut download leaves no half plugin), and verified again each time a replica
// loads it (loaded_libraries), so a file altered on disk is refused too.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "sync/rollout/plugin_catalogue.hpp"
#include "sync/rollout/plugin_manifest.hpp"
#include "sync/rollout/signature.hpp"

namespace fieldsync::rollout {

struct InstalledPlugin {
  PluginManifest manifest;
  std::filesystem::path library;
};

struct PluginRefusal {
  std::string plugin;  // "distribution 2", or "HQ's catalogue"
  std::string reason;  // which check failed, in words
};

class PluginInstaller {
 public:
  // `home` is the replica's home; `pinned` HQ's signing key from the enrollment (nullopt: none
  // pinned, and every catalogue and bundle is refused for it).
  PluginInstaller(std::filesystem::path home, std::optional<PublicKey> pinned);

  // Verifies a catalogue as GET /v1/plugins serves it — signed by the pinned key, not older than
  // the one accepted before, not the same version with other bytes, not expired at `now` (Unix
  // seconds) — and keeps it. Error(plugin) saying which check failed; nothing kept then.
  Catalogue accept_catalogue(std::string_view served, std::int64_t now);
  // The catalogue accepted last, nullopt before the first (not checked again: it was when kept).
  std::optional<Catalogue> accepted() const;

  // The current bundles of `catalogue` this laptop lacks, newer than any it has of their name.
  std::vector<CatalogueEntry> wanted(const Catalogue& catalogue) const;

  // Verifies a bundle as GET /v1/plugins/NAME/VERSION serves it against the pinned key, `entry`
  // (name, version and hash the accepted catalogue gives), this build's platform and plugin API,
  // and the versions installed (never a lower one), then installs it. Error(plugin) saying which
  // check failed; nothing written then.
  PluginManifest install(std::string_view served, const CatalogueEntry& entry);

  // The installed libraries a replica may load now — for each name the highest version the
  // accepted catalogue lists as current (not withdrawn), verified again (signature, hash,
  // platform, API) before anything opens it — and what was refused, with why.
  std::vector<InstalledPlugin> loadable(std::vector<PluginRefusal>& refused) const;

  // Every installed bundle, verified or not, for `fieldsync plugins` (manifests as stored).
  std::vector<InstalledPlugin> installed() const;

  // Appends one line (UTC time, text) to rollout/log: what was installed or refused, and why.
  void log(const std::string& line) const;

  std::filesystem::path folder() const { return dir_; }

 private:
  // The text of the catalogue accepted last (as HQ signed it), nullopt before the first.
  std::optional<std::string> kept_catalogue_text() const;
  // The manifest of a bundle document ({"manifest", "signature", …}), its signature checked
  // against the pinned key and its platform and API against this build's.
  PluginManifest verified_manifest(const nlohmann::json& bundle, const std::string& what) const;

  std::filesystem::path dir_;
  std::optional<PublicKey> pinned_;
};

}  // namespace fieldsync::rollout
