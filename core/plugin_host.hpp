// Finds and loads data-type plugins with Boost.DLL.
//
// load_directory() scans a folder for shared libraries; each one is checked before use: the
// file must be a loadable library, export `fieldsync_plugin_api_version` equal to the host's
// kPluginApiVersion, and export the factory alias. A library that fails any check is reported
// in failures() and skipped: one bad file never stops the command.
//
// Thread-safe: find() and require() may run on many threads while another loads or replaces.
//
// Lifetime: every DataType handed out holds its library loaded (the shared_ptr shares ownership
// of the boost::dll::shared_library). Libraries are never unloaded while a DataType lives.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <vector>

#include "core/data_type.hpp"

namespace fieldsync {

struct PluginFailure {
  std::filesystem::path file;
  std::string reason;  // "not a loadable library: …", "plugin API version 7, host expects 1", …
};

struct LoadedPlugin {
  std::shared_ptr<const DataType> type;
  std::filesystem::path file;
};

// The platform a plugin library must be built for to load here: system, processor and C++ library
// ("linux-x86_64-libstdc++"), as a bundle's manifest names it (C++ types cross the boundary).
std::string plugin_platform();

class PluginHost {
 public:
  PluginHost() = default;
  PluginHost(const PluginHost&) = delete;
  PluginHost& operator=(const PluginHost&) = delete;

  // Loads every library (*.so) in `dir`, in name order. A missing folder is not an error.
  // When two libraries provide the same type name, the higher schema_version wins; on a tie the
  // one loaded first (earlier folder) stays.
  void load_directory(const std::filesystem::path& dir);

  // Loads one library file; returns false and records a failure when it cannot be used.
  bool load_file(const std::filesystem::path& file);

  // The type named `name`, or nullptr.
  std::shared_ptr<const DataType> find(const std::string& name) const;
  // Like find(), but throws Error(not_found) naming the types that are installed.
  std::shared_ptr<const DataType> require(const std::string& name) const;

  // Copies: another thread may load or replace plugins meanwhile.
  std::map<std::string, LoadedPlugin> types() const;
  std::vector<PluginFailure> failures() const;

  // Takes every type and failure of `loaded` in place of this host's own, at once: a process that
  // learns of new or withdrawn plugins (HQ after a publish, a laptop after an update) loads the
  // new set aside, then swaps it in. A DataType handed out before keeps its library loaded.
  void replace(PluginHost&& loaded);

  // The folders a replica at `home` loads from: `home/plugins`, then $FIELDSYNC_PLUGIN_PATH
  // (colon-separated), then the build's plugin folder.
  static std::vector<std::filesystem::path> default_directories(const std::filesystem::path& home);

 private:
  void add_failure(PluginFailure failure);

  // Readers (find, on HQ's checking threads and its sync) share it; loading and replace() take it
  // alone.
  mutable std::shared_mutex mutex_;
  std::map<std::string, LoadedPlugin> types_;
  std::vector<PluginFailure> failures_;
};

}  // namespace fieldsync
