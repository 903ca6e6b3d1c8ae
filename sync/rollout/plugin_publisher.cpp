#include "sync/rollout/plugin_publisher.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <ctime>
#include <set>

#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_input.hpp"
#include "core/plugin_host.hpp"
#include "core/tuning.hpp"
#include "sync/rollout/signature.hpp"

namespace fieldsync::rollout {
namespace {

namespace fs = std::filesystem;

// The fields a type's schema names.
std::set<std::string> field_names(const nlohmann::json& schema) {
  std::set<std::string> names;
  if (const auto properties = schema.find("properties"); properties != schema.end() && properties->is_object()) {
    for (const auto& [name, property] : properties->items()) names.insert(name);
  }
  return names;
}

constexpr const char* kLibraryFile = "lib.so";
constexpr const char* kBundleFile = "bundle.json";

// Held while a change is made: two `plugin publish` at once (or a publish and serve re-issuing
// the catalogue) must not both take the next catalogue version.
class FolderLock {
 public:
  explicit FolderLock(const fs::path& dir) {
    fs::create_directories(dir);
    const auto file = dir / ".lock";
    fd_ = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ < 0 || ::flock(fd_, LOCK_EX) != 0) throw Error(Errc::storage, "cannot lock the published plugins", file.string());
  }
  ~FolderLock() { ::close(fd_); }  // closing releases the lock
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

std::int64_t now_seconds() { return static_cast<std::int64_t>(std::time(nullptr)); }

// {"<key>": text, "signature": signature}: a signed document as it is stored and served.
std::string signed_document(const char* key, const std::string& text, const std::string& signature) {
  return nlohmann::json{{key, text}, {"signature", signature}}.dump();
}

}  // namespace

PluginPublisher::PluginPublisher(fs::path home) : home_(std::move(home)), dir_(home_ / "published") {}

fs::path PluginPublisher::catalogue_file() const { return dir_ / "catalogue.json"; }

std::uint64_t PluginPublisher::catalogue_version() const {
  const auto catalogue = read_catalogue();
  return catalogue ? catalogue->version : 0;
}

std::optional<Catalogue> PluginPublisher::read_catalogue() const {
  std::error_code ec;
  if (!fs::exists(catalogue_file(), ec)) return std::nullopt;
  const auto document = parse_json_input(read_whole_file(catalogue_file()), catalogue_file().string());
  return parse_catalogue(document.at("catalogue").get<std::string>(), "HQ's catalogue");
}

void PluginPublisher::issue(Catalogue catalogue) {
  catalogue.version += 1;
  catalogue.issued = now_seconds();
  catalogue.expires = catalogue.issued + tuning::kCatalogueLifetimeSeconds;
  std::sort(catalogue.plugins.begin(), catalogue.plugins.end(), [](const CatalogueEntry& a, const CatalogueEntry& b) {
    return a.name != b.name ? a.name < b.name : a.version < b.version;
  });
  const std::string text = catalogue_text(catalogue);
  const std::string signature = sign_document(home_ / "signing.key", kCataloguePurpose, text);
  write_file_atomically(catalogue_file(), signed_document("catalogue", text, signature), 0644);
}

PluginManifest PluginPublisher::publish(const fs::path& library) {
  const std::string bytes = read_whole_file(library);
  if (bytes.size() > tuning::kPluginMaxLibraryBytes) {
    throw Error(Errc::invalid_input, "the library is larger than a bundle may be (" +
                                         std::to_string(tuning::kPluginMaxLibraryBytes >> 20) + " MB)", library.string());
  }
  PluginManifest manifest;
  std::set<std::string> fields;
  {
    PluginHost host;  // unloaded again before anything is written
    if (!host.load_file(library)) {
      throw Error(Errc::plugin, "not a plugin this fieldsync can load: " + host.failures().back().reason, library.string());
    }
    const std::shared_ptr<const DataType> type = host.types().begin()->second.type;
    manifest.name = type->name();
    manifest.version = type->schema_version();
    manifest.description = type->description();
    fields = field_names(type->schema());
  }
  if (!is_plugin_name(manifest.name)) {
    throw Error(Errc::plugin, "the plugin's type name '" + manifest.name + "' is not a data type's name", library.string());
  }
  manifest.api_version = kPluginApiVersion;
  manifest.platform = plugin_platform();
  manifest.sha256 = sha256_hex(bytes);
  manifest.size = bytes.size();
  manifest.published = now_seconds();

  FolderLock lock(dir_);
  Catalogue catalogue = read_catalogue().value_or(Catalogue{});
  for (const auto& entry : catalogue.plugins) {
    if (entry.name != manifest.name) continue;
    if (entry.version == manifest.version) {
      throw Error(Errc::already_exists, manifest.name + " version " + std::to_string(entry.version) +
                                            " is published already: a new build of a type is a new schema version");
    }
    if (entry.version > manifest.version && !entry.withdrawn) {
      throw Error(Errc::invalid_input, manifest.name + " version " + std::to_string(entry.version) +
                                           " is published: laptops never go back to version " +
                                           std::to_string(manifest.version));
    }
  }
  check_keeps_older_fields(manifest, fields, catalogue, library);
  const fs::path bundle = dir_ / manifest.name / std::to_string(manifest.version);
  fs::create_directories(bundle);
  write_file_atomically(bundle / kLibraryFile, bytes, 0644);
  const std::string text = manifest_text(manifest);
  write_file_atomically(bundle / kBundleFile,
                        signed_document("manifest", text, sign_document(home_ / "signing.key", kManifestPurpose, text)),
                        0644);
  catalogue.plugins.push_back({manifest.name, manifest.version, manifest.sha256, false});
  issue(std::move(catalogue));
  return manifest;
}

// During a rollout some offices still run an older version of the type and write its fields, and
// HQ checks what they push with the newest (as its migration reads it): a field the new version
// no longer names would be refused at HQ, holding their records back. So a new version keeps every
// field of the older ones; it may add fields, and migrate values into them.
void PluginPublisher::check_keeps_older_fields(const PluginManifest& manifest, const std::set<std::string>& fields,
                                               const Catalogue& catalogue, const fs::path& library) const {
  for (const auto& entry : catalogue.plugins) {
    if (entry.name != manifest.name || entry.version >= manifest.version) continue;
    // HQ's own bundle, loaded only while it still hashes as it signed it.
    const fs::path older = dir_ / entry.name / std::to_string(entry.version) / kLibraryFile;
    if (sha256_hex(read_whole_file(older)) != entry.sha256) continue;
    PluginHost host;
    if (!host.load_file(older)) continue;  // a bundle this HQ cannot load names no field it could check
    for (const auto& field : field_names(host.require(entry.name)->schema())) {
      if (fields.count(field) == 0) {
        throw Error(Errc::invalid_input,
                    manifest.name + " version " + std::to_string(manifest.version) + " leaves out the field '" + field +
                        "' of version " + std::to_string(entry.version) +
                        ": offices still on that version write it during a rollout, so a new version keeps every "
                        "field of the older ones (it may add fields, and migrate values into them)",
                    library.string());
      }
    }
  }
}

void PluginPublisher::withdraw(const std::string& name, int version) {
  FolderLock lock(dir_);
  std::optional<Catalogue> catalogue = read_catalogue();
  CatalogueEntry* entry = nullptr;
  if (catalogue) {
    for (auto& e : catalogue->plugins) {
      if (e.name == name && e.version == version) entry = &e;
    }
  }
  if (entry == nullptr) throw Error(Errc::not_found, name + " version " + std::to_string(version) + " was never published");
  if (entry->withdrawn) return;
  entry->withdrawn = true;
  issue(std::move(*catalogue));
}

std::vector<PublishedPlugin> PluginPublisher::list() const {
  std::vector<PublishedPlugin> out;
  const auto catalogue = read_catalogue();
  if (!catalogue) return out;
  for (const auto& entry : catalogue->plugins) {
    const auto document = parse_json_input(
        read_whole_file(dir_ / entry.name / std::to_string(entry.version) / kBundleFile), entry.name);
    out.push_back({parse_manifest(document.at("manifest").get<std::string>(), entry.name), entry.withdrawn});
  }
  return out;
}

std::string PluginPublisher::served_catalogue() {
  auto current = read_catalogue();
  if (!current || current->expires - now_seconds() < tuning::kCatalogueLifetimeSeconds / 2) {
    FolderLock lock(dir_);
    current = read_catalogue();  // another process may have just issued one
    if (!current || current->expires - now_seconds() < tuning::kCatalogueLifetimeSeconds / 2) {
      issue(current.value_or(Catalogue{}));
    }
  }
  return read_whole_file(catalogue_file());
}

std::optional<std::string> PluginPublisher::served_bundle(const std::string& name, int version) const {
  if (!is_plugin_name(name) || version < 1) return std::nullopt;
  const auto catalogue = read_catalogue();
  if (!catalogue || catalogue->find(name, version) == nullptr) return std::nullopt;
  const fs::path bundle = dir_ / name / std::to_string(version);
  nlohmann::json document = parse_json_input(read_whole_file(bundle / kBundleFile), name);
  document["library"] = to_base64(read_whole_file(bundle / kLibraryFile));
  return document.dump();
}

std::vector<fs::path> PluginPublisher::current_libraries() const {
  std::vector<fs::path> out;
  const auto catalogue = read_catalogue();
  if (!catalogue) return out;
  for (const auto& entry : catalogue->current()) {
    const fs::path library = dir_ / entry.name / std::to_string(entry.version) / kLibraryFile;
    // HQ runs only what it signed: a library changed on disk since is not loaded (and a laptop
    // that is sent it refuses it too).
    std::string bytes;
    try {
      bytes = read_whole_file(library);
    } catch (const Error&) {
      continue;
    }
    if (sha256_hex(bytes) == entry.sha256) out.push_back(library);
  }
  return out;
}

}  // namespace fieldsync::rollout
