#include "sync/rollout/plugin_catalogue.hpp"

#include <algorithm>
#include <map>

#include <nlohmann/json.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/json_input.hpp"
#include "sync/rollout/plugin_manifest.hpp"

namespace fieldsync::rollout {

const CatalogueEntry* Catalogue::find(const std::string& name, int version) const {
  for (const auto& entry : plugins) {
    if (entry.name == name && entry.version == version) return &entry;
  }
  return nullptr;
}

std::vector<CatalogueEntry> Catalogue::current() const {
  std::map<std::string, CatalogueEntry> newest;
  for (const auto& entry : plugins) {
    if (entry.withdrawn) continue;
    auto [it, added] = newest.emplace(entry.name, entry);
    if (!added && entry.version > it->second.version) it->second = entry;
  }
  std::vector<CatalogueEntry> out;
  for (auto& [name, entry] : newest) out.push_back(std::move(entry));
  return out;
}

std::string catalogue_text(const Catalogue& catalogue) {
  nlohmann::json plugins = nlohmann::json::array();
  for (const auto& e : catalogue.plugins) {
    plugins.push_back({{"name", e.name}, {"version", e.version}, {"sha256", e.sha256}, {"withdrawn", e.withdrawn}});
  }
  return nlohmann::json{{"version", catalogue.version},
                        {"issued", catalogue.issued},
                        {"expires", catalogue.expires},
                        {"plugins", std::move(plugins)}}
      .dump();
}

Catalogue parse_catalogue(std::string_view text, const std::string& what) {
  nlohmann::json json;
  try {
    json = parse_json_input(text, what);
  } catch (const Error& e) {
    throw Error(Errc::plugin, what + " is not JSON: " + e.what());
  }
  auto refuse = [&](const std::string& why) { throw Error(Errc::plugin, what + " " + why); };
  auto whole = [&](const nlohmann::json& object, const char* key) {
    const auto it = object.find(key);
    if (it == object.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0) {
      refuse(std::string("has no whole number \"") + key + "\"");
    }
    return it->get<std::int64_t>();
  };
  if (!json.is_object()) refuse("is not an object");
  Catalogue c;
  c.version = static_cast<std::uint64_t>(whole(json, "version"));
  c.issued = whole(json, "issued");
  c.expires = whole(json, "expires");
  const auto plugins = json.find("plugins");
  if (plugins == json.end() || !plugins->is_array()) refuse("has no list \"plugins\"");
  for (const auto& item : *plugins) {
    if (!item.is_object()) refuse("lists a plugin that is not an object");
    CatalogueEntry e;
    const auto name = item.find("name");
    if (name == item.end() || !name->is_string() || !is_plugin_name(name->get<std::string>())) {
      refuse("lists a plugin without a data type's name");
    }
    e.name = name->get<std::string>();
    const std::int64_t version = whole(item, "version");
    if (version < 1 || version > 1'000'000) refuse("lists " + e.name + " with a version out of range");
    e.version = static_cast<int>(version);
    const auto sha = item.find("sha256");
    if (sha == item.end() || !sha->is_string() || sha->get_ref<const std::string&>().size() != 64) {
      refuse("lists " + e.name + " without a SHA-256");
    }
    e.sha256 = sha->get<std::string>();
    const auto withdrawn = item.find("withdrawn");
    if (withdrawn == item.end() || !withdrawn->is_boolean()) refuse("lists " + e.name + " without \"withdrawn\"");
    e.withdrawn = withdrawn->get<bool>();
    c.plugins.push_back(std::move(e));
  }
  return c;
}

void check_fresh(const Catalogue& offered, std::string_view offered_text, const std::optional<Catalogue>& seen,
                 std::string_view seen_text, std::int64_t now, const std::string& what) {
  if (seen && offered.version < seen->version) {
    throw Error(Errc::plugin, what + ": version " + std::to_string(offered.version) + " is older than version " +
                                  std::to_string(seen->version) + " already seen (a replayed catalogue: refused)");
  }
  if (seen && offered.version == seen->version && offered_text != seen_text) {
    throw Error(Errc::plugin, what + ": version " + std::to_string(offered.version) +
                                  " differs from the catalogue of that version already seen (refused)");
  }
  if (offered.expires <= now) {
    throw Error(Errc::plugin, what + ": expired on " + format_utc_seconds(offered.expires) +
                                  " (a stale catalogue: refused until HQ issues a fresh one)");
  }
}

}  // namespace fieldsync::rollout
