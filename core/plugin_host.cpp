// PluginHost: loads data-type plugins with Boost.DLL and checks each one before use.
//
// Order of checks per file (see STYLE.md, "the safe plugin pattern"): refuse a file cut short
// (dlopen() would crash on it), load the library, read its API version, refuse a mismatch before any plugin function runs, then call the factory at our
// door (its exceptions become a PluginFailure) and check the name it gives. Nothing from
// Boost.DLL or from a plugin escapes load_file()/load_directory().
#include "core/plugin_host.hpp"

#include <link.h>  // ElfW: the ELF headers of this machine's word size

#include <algorithm>
#include <mutex>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>

#include <boost/dll/shared_library.hpp>

namespace fieldsync {
namespace {

namespace fs = std::filesystem;

constexpr const char* kApiVersionSymbol = "fieldsync_plugin_api_version";
constexpr const char* kFactoryAlias = "fieldsync_create_data_type";

// Owns a plugin's library and the DataType it made. Members are destroyed in reverse order, so
// `type` (whose code and vtable live in the library) goes before `lib` unloads.
struct PluginHolder {
  boost::dll::shared_library lib;
  std::unique_ptr<DataType> type;
};

// A plugin that passed every check, with the answers it gave while we were still at the door.
struct OpenedPlugin {
  std::shared_ptr<PluginHolder> holder;
  std::string name;
  int schema_version = 0;
};

// Thrown inside open_plugin() to stop at the first failed check; never leaves this file.
struct Refusal {
  std::string reason;
};

bool is_valid_type_name(std::string_view name) {
  if (name.empty() || name.front() < 'a' || name.front() > 'z') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// "libfoo.so", "libfoo.so.1": what a plugin folder may hold besides other files we ignore.
bool looks_like_library(const fs::path& file) {
  const std::string name = file.filename().string();
  return name.ends_with(".so") || name.find(".so.") != std::string::npos;
}

// Boost.DLL wraps dlerror() as "…failed (dlerror system message: PATH: REASON): …"; keep only
// REASON, since the failure already names the file.
std::string load_error_reason(const std::string& what, const fs::path& file) {
  constexpr std::string_view kMarker = "(dlerror system message: ";
  const auto start = what.find(kMarker);
  if (start == std::string::npos) return what;
  const auto end = what.rfind(')');
  std::string reason = what.substr(start + kMarker.size(),
                                   end > start ? end - start - kMarker.size() : std::string::npos);
  // dlerror() names the path as dlopen() got it (Boost.DLL may have prefixed "./").
  const auto colon = reason.find(": ");
  if (colon != std::string::npos && reason.substr(0, colon).ends_with(file.filename().string())) {
    reason.erase(0, colon + 2);
  }
  return reason;
}

// dlopen() maps a library's segments straight from the file. When the file is cut short (an
// interrupted copy), glibc maps the missing part anyway and the first touch kills the process
// with SIGBUS instead of failing (checked on Debian 12, glibc 2.36). So before dlopen() we check
// that everything the ELF headers point at lies inside the file. Returns why not, or nullopt;
// anything that is not a native ELF file passes through for dlopen() to describe.
std::optional<std::string> truncation_problem(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  ElfW(Ehdr) header{};
  in.read(reinterpret_cast<char*>(&header), sizeof header);
  const auto header_bytes = static_cast<std::size_t>(in.gcount());
  constexpr unsigned char kNativeClass = sizeof(void*) == 8 ? ELFCLASS64 : ELFCLASS32;
  constexpr unsigned char kNativeData =
      std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;
  if (header_bytes < EI_NIDENT || std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
      header.e_ident[EI_CLASS] != kNativeClass || header.e_ident[EI_DATA] != kNativeData) {
    return std::nullopt;
  }
  std::error_code ec;
  const std::uint64_t size = fs::file_size(file, ec);
  if (ec) return std::nullopt;

  std::uint64_t needed = sizeof header;
  const auto need = [&needed](std::uint64_t offset, std::uint64_t length) {
    // Saturating: a garbage offset near 2^64 must not wrap around to look small.
    const std::uint64_t end = length > UINT64_MAX - offset ? UINT64_MAX : offset + length;
    needed = std::max(needed, end);
  };
  if (header_bytes == sizeof header) {
    need(header.e_phoff, std::uint64_t{header.e_phnum} * header.e_phentsize);
    need(header.e_shoff, std::uint64_t{header.e_shnum} * header.e_shentsize);
    if (needed <= size && header.e_phentsize == sizeof(ElfW(Phdr))) {
      in.seekg(static_cast<std::streamoff>(header.e_phoff));
      for (unsigned i = 0; i < header.e_phnum; ++i) {
        ElfW(Phdr) segment{};
        if (!in.read(reinterpret_cast<char*>(&segment), sizeof segment)) break;
        if (segment.p_type == PT_LOAD || segment.p_type == PT_DYNAMIC) {
          need(segment.p_offset, segment.p_filesz);
        }
      }
    }
  }
  if (needed <= size) return std::nullopt;
  return "the file is cut short (" + std::to_string(size) + " bytes; its ELF headers describe " +
         std::to_string(needed) + ")";
}

OpenedPlugin open_plugin(const fs::path& file) {
  if (auto problem = truncation_problem(file)) throw Refusal{"not a loadable library: " + *problem};

  auto holder = std::make_shared<PluginHolder>();
  // rtld_now: a missing symbol shows now, as a refusal, not later as a crash mid-command.
  // rtld_local: two plugins' symbols never resolve against each other.
  try {
    holder->lib.load(file, boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_now);
  } catch (const std::exception& e) {
    throw Refusal{"not a loadable library: " + load_error_reason(e.what(), file)};
  }

  // The version comes first: a plugin built against another interface must not run any code.
  if (!holder->lib.has(kApiVersionSymbol)) {
    throw Refusal{std::string("no ") + kApiVersionSymbol + " symbol: not a FieldSync plugin"};
  }
  const std::uint32_t api_version = holder->lib.get<const std::uint32_t>(kApiVersionSymbol);
  if (api_version != kPluginApiVersion) {
    throw Refusal{"plugin API version " + std::to_string(api_version) +
                  ", this fieldsync expects " + std::to_string(kPluginApiVersion)};
  }

  if (!holder->lib.has(kFactoryAlias)) {
    throw Refusal{std::string("no ") + kFactoryAlias + " factory: not a FieldSync plugin"};
  }
  DataTypeFactory& factory = holder->lib.get_alias<DataTypeFactory>(kFactoryAlias);

  // The first calls into plugin code: anything they throw is caught here, at our door.
  std::string name;
  int schema_version = 0;
  try {
    holder->type = factory();
    if (!holder->type) throw Refusal{"the plugin's factory returned no data type"};
    name = holder->type->name();
    schema_version = holder->type->schema_version();
  } catch (const Refusal&) {
    throw;
  } catch (const std::exception& e) {
    throw Refusal{std::string("the plugin failed to start: ") + e.what()};
  } catch (...) {
    throw Refusal{"the plugin failed to start: unknown exception"};
  }
  if (!is_valid_type_name(name)) {
    throw Refusal{"invalid data type name '" + name +
                  "': a name is lowercase letters, digits and '_', starting with a letter"};
  }
  return {std::move(holder), std::move(name), schema_version};
}

}  // namespace

bool PluginHost::load_file(const fs::path& file) {
  OpenedPlugin plugin;
  try {
    plugin = open_plugin(file);
  } catch (const Refusal& refusal) {
    add_failure({file, refusal.reason});
    return false;
  } catch (const std::exception& e) {
    add_failure({file, std::string("cannot load plugin: ") + e.what()});
    return false;
  } catch (...) {
    add_failure({file, "cannot load plugin: unknown exception"});
    return false;
  }

  // Aliasing constructor: callers see the DataType, while the shared_ptr owns the holder and so
  // keeps the library loaded for as long as any copy lives.
  std::shared_ptr<const DataType> type(plugin.holder, plugin.holder->type.get());
  std::unique_lock lock(mutex_);
  const auto existing = types_.find(plugin.name);
  if (existing == types_.end()) {
    types_.emplace(plugin.name, LoadedPlugin{std::move(type), file});
    return true;
  }
  int existing_version = 0;
  try {
    existing_version = existing->second.type->schema_version();
  } catch (...) {
    existing_version = -1;  // it answered when loaded; a plugin that now throws loses the tie
  }
  if (plugin.schema_version > existing_version) {
    existing->second = LoadedPlugin{std::move(type), file};
  }
  // Otherwise an equal or older version of a type we already have: a valid plugin that loses to
  // the one loaded first, not a failure. Its library unloads when the last copy of `type` goes.
  return true;
}

void PluginHost::load_directory(const fs::path& dir) {
  std::vector<fs::path> files;
  std::error_code ec;
  fs::directory_iterator it(dir, ec);
  if (ec) {
    // A folder that does not exist is normal (no plugin installed there yet).
    if (ec != std::errc::no_such_file_or_directory) {
      add_failure({dir, "cannot read plugin folder: " + ec.message()});
    }
    return;
  }
  for (const fs::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) break;
    std::error_code type_ec;
    if (it->is_regular_file(type_ec) && looks_like_library(it->path())) files.push_back(it->path());
  }
  if (ec) add_failure({dir, "cannot read plugin folder: " + ec.message()});

  std::sort(files.begin(), files.end());
  for (const auto& file : files) load_file(file);
}

void PluginHost::add_failure(PluginFailure failure) {
  std::unique_lock lock(mutex_);
  failures_.push_back(std::move(failure));
}

void PluginHost::replace(PluginHost&& loaded) {
  std::map<std::string, LoadedPlugin> types;
  std::vector<PluginFailure> failures;
  {
    std::unique_lock theirs(loaded.mutex_);
    types = std::move(loaded.types_);
    failures = std::move(loaded.failures_);
  }
  std::unique_lock lock(mutex_);
  types_.swap(types);
  failures_ = std::move(failures);
  // `types` now holds the old set: its libraries unload as the last DataType of each goes.
}

std::map<std::string, LoadedPlugin> PluginHost::types() const {
  std::shared_lock lock(mutex_);
  return types_;
}

std::vector<PluginFailure> PluginHost::failures() const {
  std::shared_lock lock(mutex_);
  return failures_;
}

std::shared_ptr<const DataType> PluginHost::find(const std::string& name) const {
  std::shared_lock lock(mutex_);
  const auto it = types_.find(name);
  return it == types_.end() ? nullptr : it->second.type;
}

std::shared_ptr<const DataType> PluginHost::require(const std::string& name) const {
  if (auto type = find(name)) return type;
  std::string installed;
  for (const auto& [type_name, plugin] : types()) {
    installed += (installed.empty() ? "" : ", ") + type_name;
  }
  throw Error(Errc::not_found, "unknown data type '" + name + "' (installed: " +
                                   (installed.empty() ? std::string("none") : installed) + ")");
}

std::string plugin_platform() { return FIELDSYNC_PLUGIN_PLATFORM; }

std::vector<fs::path> PluginHost::default_directories(const fs::path& home) {
  std::vector<fs::path> dirs{home / "plugins"};
  if (const char* env = std::getenv("FIELDSYNC_PLUGIN_PATH")) {
    std::string_view rest(env);
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const std::string_view entry = rest.substr(0, colon);
      if (!entry.empty()) dirs.emplace_back(entry);
      if (colon == std::string_view::npos) break;
      rest.remove_prefix(colon + 1);
    }
  }
#ifdef FIELDSYNC_BUILD_PLUGIN_DIR
  dirs.emplace_back(FIELDSYNC_BUILD_PLUGIN_DIR);
#endif
  return dirs;
}

}  // namespace fieldsync
