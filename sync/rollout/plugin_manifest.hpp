// A plugin bundle's manifest: what HQ signs about one library it publishes. The manifest is the
// only part a laptop reads before the library's hash is checked, and the library is never opened
// (loading runs its initializers) until the manifest's signature, key, hash, platform and API
// version all hold.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace fieldsync::rollout {

struct PluginManifest {
  std::string name;            // the data type: [a-z][a-z0-9_]{0,63}, so never a path
  int version = 0;             // the type's schema version: a bundle replaces only a lower one
  std::uint32_t api_version = 0;
  std::string platform;        // plugin_platform() of the build it was made by
  std::string sha256;          // of the library's bytes, lower-case hex
  std::uint64_t size = 0;      // of the library, bytes
  std::string description;     // the type's own, for listings
  std::int64_t published = 0;  // Unix seconds

  // The file a laptop installs it as: "<name>-<version>.so".
  std::string file_name() const;
};

// The manifest's canonical text (sorted keys, no spaces): the bytes HQ signs.
std::string manifest_text(const PluginManifest& manifest);

// The manifest in `text`; Error(plugin) "<what>: …" naming what is wrong (not JSON, a field
// missing or of the wrong shape, a name that is not a type name).
PluginManifest parse_manifest(std::string_view text, const std::string& what);

// Error(plugin) unless this build can load the bundle: its platform and plugin API version.
void check_loadable_here(const PluginManifest& manifest, const std::string& what);

// Error(plugin) unless `library` is the file the manifest describes (size and SHA-256).
void check_library_matches(const PluginManifest& manifest, std::string_view library, const std::string& what);

// [a-z][a-z0-9_]{0,63}: a type name, and so a safe file name.
bool is_plugin_name(std::string_view name);

}  // namespace fieldsync::rollout
