#include "sync/rollout/plugin_manifest.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/data_type.hpp"
#include "core/error.hpp"
#include "core/json_input.hpp"
#include "core/plugin_host.hpp"
#include "sync/rollout/signature.hpp"

namespace fieldsync::rollout {
namespace {

bool is_lower_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

}  // namespace

bool is_plugin_name(std::string_view name) {
  if (name.empty() || name.size() > 64 || name[0] < 'a' || name[0] > 'z') return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'; });
}

std::string PluginManifest::file_name() const { return name + "-" + std::to_string(version) + ".so"; }

std::string manifest_text(const PluginManifest& m) {
  return nlohmann::json{{"name", m.name},
                        {"version", m.version},
                        {"api_version", m.api_version},
                        {"platform", m.platform},
                        {"sha256", m.sha256},
                        {"size", m.size},
                        {"description", m.description},
                        {"published", m.published}}
      .dump();
}

PluginManifest parse_manifest(std::string_view text, const std::string& what) {
  nlohmann::json json;
  try {
    json = parse_json_input(text, what);
  } catch (const Error& e) {
    throw Error(Errc::plugin, what + ": its manifest is not JSON: " + e.what());
  }
  auto refuse = [&](const std::string& why) { throw Error(Errc::plugin, what + ": its manifest " + why); };
  if (!json.is_object()) refuse("is not an object");
  auto text_field = [&](const char* key) {
    const auto it = json.find(key);
    if (it == json.end() || !it->is_string()) refuse(std::string("has no text \"") + key + "\"");
    return it->get<std::string>();
  };
  auto number_field = [&](const char* key) {
    const auto it = json.find(key);
    if (it == json.end() || !it->is_number_integer() || it->get<std::int64_t>() < 0) {
      refuse(std::string("has no whole number \"") + key + "\"");
    }
    return it->get<std::int64_t>();
  };
  PluginManifest m;
  m.name = text_field("name");
  if (!is_plugin_name(m.name)) refuse("names no data type (\"" + m.name + "\"): lower-case letters, digits and _");
  const std::int64_t version = number_field("version");
  if (version < 1 || version > 1'000'000) refuse("has a version out of range");
  m.version = static_cast<int>(version);
  const std::int64_t api = number_field("api_version");
  if (api > 1'000'000) refuse("has an API version out of range");
  m.api_version = static_cast<std::uint32_t>(api);
  m.platform = text_field("platform");
  m.sha256 = text_field("sha256");
  if (m.sha256.size() != 64 || !is_lower_hex(m.sha256)) refuse("has no SHA-256 (64 lower-case hex digits)");
  m.size = static_cast<std::uint64_t>(number_field("size"));
  m.description = text_field("description");
  m.published = number_field("published");
  return m;
}

void check_loadable_here(const PluginManifest& m, const std::string& what) {
  if (m.platform != plugin_platform()) {
    throw Error(Errc::plugin, what + ": built for platform " + m.platform + ", this is " + plugin_platform());
  }
  if (m.api_version != kPluginApiVersion) {
    throw Error(Errc::plugin, what + ": plugin API version " + std::to_string(m.api_version) + ", this fieldsync expects " +
                                  std::to_string(kPluginApiVersion));
  }
}

void check_library_matches(const PluginManifest& m, std::string_view library, const std::string& what) {
  if (library.size() != m.size) {
    throw Error(Errc::plugin, what + ": the library is " + std::to_string(library.size()) + " bytes, its manifest says " +
                                  std::to_string(m.size) + " (cut short or altered)");
  }
  if (sha256_hex(library) != m.sha256) {
    throw Error(Errc::plugin, what + ": hash mismatch — the library's SHA-256 is not the one HQ signed (altered)");
  }
}

}  // namespace fieldsync::rollout
