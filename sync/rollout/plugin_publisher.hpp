// HQ's side of the plugin rollout: the bundles it publishes and the signed catalogue of them, kept
// in HQ's home:
//
//   published/catalogue.json        {"catalogue": <text>, "signature": <base64>}, as served
//   published/NAME/VERSION/lib.so   the library, byte for byte as published
//   published/NAME/VERSION/bundle.json  {"manifest": <text>, "signature": <base64>}
//
// Every change (publish, withdraw, re-issue) takes a lock on the folder, writes each file by an
// atomic rename, library first and catalogue last, so a reader — `serve` in another process —
// sees the old catalogue or the new one, and every bundle a catalogue lists is already whole.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "sync/rollout/plugin_catalogue.hpp"
#include "sync/rollout/plugin_manifest.hpp"

namespace fieldsync::rollout {

struct PublishedPlugin {
  PluginManifest manifest;
  bool withdrawn = false;
};

class PluginPublisher {
 public:
  // `home` is HQ's home (its signing key is home/signing.key).
  explicit PluginPublisher(std::filesystem::path home);

  // Opens `library` as a plugin (HQ trusts its own build: loading runs the library's code) to read
  // its type's name, schema version and description, then publishes it and issues a catalogue
  // with a higher version. Error(already_exists) for a name and version published before,
  // Error(invalid_input) for a version lower than one published and not withdrawn, or one whose
  // schema leaves out a field an older published version names (offices on it still write it),
  // Error(plugin) for a file that is not a plugin this build can load.
  PluginManifest publish(const std::filesystem::path& library);

  // Marks NAME VERSION withdrawn in a new catalogue: laptops stop loading it. Error(not_found)
  // when it was never published; withdrawing twice changes nothing.
  void withdraw(const std::string& name, int version);

  // Everything published, by name then version.
  std::vector<PublishedPlugin> list() const;

  // The catalogue as served (its text and signature in one JSON object). Issues a fresh one
  // first when the current one is missing or past half its life, so laptops never see one
  // expire while HQ runs.
  std::string served_catalogue();

  // {"manifest", "signature", "library" (base64)} of one bundle, as served; nullopt when NAME
  // VERSION was never published (or NAME is not a type name: never a path).
  std::optional<std::string> served_bundle(const std::string& name, int version) const;

  // The libraries of the catalogue's current bundles (newest of each name, not withdrawn) whose
  // bytes still hash to what the catalogue says: what HQ itself loads, so it knows every type it
  // publishes and never runs a library altered since it signed it.
  std::vector<std::filesystem::path> current_libraries() const;

  // The version of the catalogue now (0 while nothing was ever published).
  std::uint64_t catalogue_version() const;

  // The catalogue file: `serve` reloads its types when it changes.
  std::filesystem::path catalogue_file() const;

 private:
  std::optional<Catalogue> read_catalogue() const;
  void issue(Catalogue catalogue);  // with the lock held
  // Error(invalid_input) when `fields` (of the new version's schema) lack one an older published
  // version of the type names.
  void check_keeps_older_fields(const PluginManifest& manifest, const std::set<std::string>& fields,
                                const Catalogue& catalogue, const std::filesystem::path& library) const;

  std::filesystem::path home_;
  std::filesystem::path dir_;
};

}  // namespace fieldsync::rollout
