// Files replaced whole or not at all: written to a temporary file beside the target, synced, then
// renamed over it and the folder synced, so a crash or a power cut leaves the old file or the new
// one, never half of one. For the small files around a replica (enrollment, office list, plugin
// bundles and catalogues); the records themselves live in SQLite.
#pragma once

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace fieldsync {

// Replaces `path` with `bytes`, its mode exactly `mode` (whatever the umask).
// Error(storage) naming the file when any step fails; the old file is then left as it was.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes, mode_t mode);

// The whole file; Error(storage) naming it when it cannot be read.
std::string read_whole_file(const std::filesystem::path& path);

}  // namespace fieldsync
