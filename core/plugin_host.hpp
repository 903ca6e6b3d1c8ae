// Finds and loads data-type plugins with Boost.DLL.
//
// load_directory() scans a folder for shared libraries; each one is checked before use: the
// file must be a loadable library, export `fieldsync_plugin_api_version` equal to the host's
// kPluginApiVersion, and export the factory alias. A library that fails any check is reported
// in failures() and skipped: one bad file never stops the command.
//
// Lifetime: every DataType handed out holds its library loaded (the shared_ptr shares ownership
// of the boost::dll::shared_library). Libraries are never unloaded while a DataType lives.
#pragma once

#include <filesystem>
#include <map>
#include <memory>
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

class PluginHost {
 public:
  PluginHost() = default;

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

  const std::map<std::string, LoadedPlugin>& types() const { return types_; }
  const std::vector<PluginFailure>& failures() const { return failures_; }

  // The folders a replica at `home` loads from: `home/plugins`, then $FIELDSYNC_PLUGIN_PATH
  // (colon-separated), then the build's plugin folder.
  static std::vector<std::filesystem::path> default_directories(const std::filesystem::path& home);

 private:
  std::map<std::string, LoadedPlugin> types_;
  std::vector<PluginFailure> failures_;
};

}  // namespace fieldsync
