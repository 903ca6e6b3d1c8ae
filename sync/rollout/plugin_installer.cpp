#include "sync/rollout/plugin_installer.hpp"

#include <algorithm>
#include <ctime>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/json_input.hpp"

namespace fieldsync::rollout {
namespace {

namespace fs = std::filesystem;

constexpr const char* kCatalogueFile = "catalogue.json";

// A member of a served document that must be text: Error(plugin) naming `what` otherwise.
std::string text_member(const nlohmann::json& document, const char* key, const std::string& what) {
  const auto it = document.find(key);
  if (!document.is_object() || it == document.end() || !it->is_string()) {
    throw Error(Errc::plugin, what + ": the answer has no \"" + std::string(key) + "\"");
  }
  return it->get<std::string>();
}

nlohmann::json served_json(std::string_view served, const std::string& what) {
  try {
    return parse_json_input(served, what);
  } catch (const Error& e) {
    throw Error(Errc::plugin, what + ": the answer is not JSON: " + e.what());
  }
}

std::string stem(const std::string& name, int version) { return name + "-" + std::to_string(version); }

}  // namespace

PluginInstaller::PluginInstaller(fs::path home, std::optional<PublicKey> pinned)
    : dir_(std::move(home) / "rollout"), pinned_(std::move(pinned)) {}

void PluginInstaller::log(const std::string& line) const {
  std::error_code ec;
  fs::create_directories(dir_, ec);
  std::ofstream out(dir_ / "log", std::ios::app);
  out << format_utc_seconds(std::time(nullptr)) << " " << line << "\n";
}

PluginManifest PluginInstaller::verified_manifest(const nlohmann::json& bundle, const std::string& what) const {
  if (!pinned_) throw Error(Errc::plugin, what + ": no HQ signing key is pinned here (enroll with --signing-key)");
  const std::string manifest = text_member(bundle, "manifest", what);
  verify_document(*pinned_, kManifestPurpose, manifest, text_member(bundle, "signature", what), what);
  PluginManifest m = parse_manifest(manifest, what);
  check_loadable_here(m, what);
  return m;
}

std::optional<std::string> PluginInstaller::kept_catalogue_text() const {
  std::error_code ec;
  if (!fs::exists(dir_ / kCatalogueFile, ec)) return std::nullopt;
  const nlohmann::json kept = served_json(read_whole_file(dir_ / kCatalogueFile), "the catalogue kept here");
  return text_member(kept, "catalogue", "the catalogue kept here");
}

std::optional<Catalogue> PluginInstaller::accepted() const {
  const auto text = kept_catalogue_text();
  if (!text) return std::nullopt;
  return parse_catalogue(*text, "the catalogue kept here");
}

Catalogue PluginInstaller::accept_catalogue(std::string_view served, std::int64_t now) {
  const std::string what = "HQ's catalogue";
  if (!pinned_) throw Error(Errc::plugin, what + ": no HQ signing key is pinned here (enroll with --signing-key)");
  const nlohmann::json document = served_json(served, what);
  const std::string text = text_member(document, "catalogue", what);
  verify_document(*pinned_, kCataloguePurpose, text, text_member(document, "signature", what), what);
  Catalogue offered = parse_catalogue(text, what);
  const std::optional<std::string> seen_text = kept_catalogue_text();
  std::optional<Catalogue> seen;
  if (seen_text) seen = parse_catalogue(*seen_text, "the catalogue kept here");
  check_fresh(offered, text, seen, seen_text.value_or(""), now, what);
  if (!seen || offered.version != seen->version) {
    fs::create_directories(dir_);
    write_file_atomically(dir_ / kCatalogueFile, document.dump(), 0644);
    log("accepted HQ's catalogue version " + std::to_string(offered.version));
  }
  return offered;
}

std::vector<CatalogueEntry> PluginInstaller::wanted(const Catalogue& catalogue) const {
  std::map<std::string, int> highest;
  for (const auto& plugin : installed()) {
    int& version = highest[plugin.manifest.name];
    version = std::max(version, plugin.manifest.version);
  }
  std::vector<CatalogueEntry> out;
  for (const auto& entry : catalogue.current()) {
    const auto it = highest.find(entry.name);
    if (it == highest.end() || it->second < entry.version) out.push_back(entry);
  }
  return out;
}

PluginManifest PluginInstaller::install(std::string_view served, const CatalogueEntry& entry) {
  const std::string what = entry.name + " " + std::to_string(entry.version);
  const nlohmann::json document = served_json(served, what);
  const PluginManifest m = verified_manifest(document, what);
  if (m.name != entry.name || m.version != entry.version || m.sha256 != entry.sha256) {
    throw Error(Errc::plugin, what + ": HQ sent " + m.name + " " + std::to_string(m.version) +
                                  ", not the bundle its catalogue lists (refused)");
  }
  if (const auto catalogue = accepted(); catalogue) {
    const CatalogueEntry* listed = catalogue->find(m.name, m.version);
    if (listed != nullptr && listed->withdrawn) throw Error(Errc::plugin, what + ": HQ has withdrawn this version (refused)");
  }
  for (const auto& plugin : installed()) {
    if (plugin.manifest.name == m.name && plugin.manifest.version >= m.version) {
      throw Error(Errc::plugin, what + ": version " + std::to_string(plugin.manifest.version) +
                                    " is installed; a plugin never goes back to a lower version (refused)");
    }
  }
  const std::string library = from_base64(text_member(document, "library", what), what + "'s library");
  check_library_matches(m, library, what);
  // Library first, then the manifest that marks it installed: a cut leaves no half plugin, at
  // most a library no manifest names (replaced by the next download).
  fs::create_directories(dir_);
  write_file_atomically(dir_ / (stem(m.name, m.version) + ".so"), library, 0644);
  write_file_atomically(dir_ / (stem(m.name, m.version) + ".json"),
                        nlohmann::json{{"manifest", text_member(document, "manifest", what)},
                                       {"signature", text_member(document, "signature", what)}}
                            .dump(),
                        0644);
  log("installed " + what + " (SHA-256 " + m.sha256 + ")");
  return m;
}

std::vector<InstalledPlugin> PluginInstaller::installed() const {
  std::vector<InstalledPlugin> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path file = it->path();
    if (file.extension() != ".json" || file.filename() == kCatalogueFile) continue;
    try {
      const nlohmann::json bundle = served_json(read_whole_file(file), file.string());
      PluginManifest m = parse_manifest(text_member(bundle, "manifest", file.string()), file.string());
      if (file.filename() != stem(m.name, m.version) + ".json") continue;  // not one this installer wrote
      fs::path library = dir_ / (stem(m.name, m.version) + ".so");
      out.push_back({std::move(m), std::move(library)});
    } catch (const Error&) {
      // A damaged file: not a plugin; loadable() never loads what it cannot verify.
    }
  }
  std::sort(out.begin(), out.end(), [](const InstalledPlugin& a, const InstalledPlugin& b) {
    return a.manifest.name != b.manifest.name ? a.manifest.name < b.manifest.name : a.manifest.version > b.manifest.version;
  });
  return out;
}

std::vector<InstalledPlugin> PluginInstaller::loadable(std::vector<PluginRefusal>& refused) const {
  std::vector<InstalledPlugin> out;
  const auto catalogue = accepted();
  if (!catalogue) return out;
  std::string done;  // the name whose version is chosen (installed() gives each name highest first)
  for (const auto& plugin : installed()) {
    const std::string what = plugin.manifest.name + " " + std::to_string(plugin.manifest.version);
    if (plugin.manifest.name == done) continue;
    const CatalogueEntry* listed = catalogue->find(plugin.manifest.name, plugin.manifest.version);
    if (listed == nullptr || listed->withdrawn) {
      refused.push_back({what, listed == nullptr ? "not in HQ's catalogue" : "withdrawn by HQ"});
      continue;
    }
    try {
      const std::string stem_path = (dir_ / stem(plugin.manifest.name, plugin.manifest.version)).string();
      const PluginManifest m = verified_manifest(served_json(read_whole_file(stem_path + ".json"), what), what);
      if (m.sha256 != listed->sha256) throw Error(Errc::plugin, what + ": not the bundle HQ's catalogue lists");
      check_library_matches(m, read_whole_file(plugin.library), what);
      out.push_back({m, plugin.library});
      done = m.name;
    } catch (const Error& e) {
      refused.push_back({what, e.what()});
    }
  }
  return out;
}

}  // namespace fieldsync::rollout
