// OfficeRegistry: the offices HQ serves and the hash of each office's bearer token.
//
// Kept in one JSON file beside HQ's replica (0600, replaced atomically on every change). HQ never
// stores a token, only its BLAKE2b-256 hash; `add` returns the token once, to hand to the office.
// The running server sees `add` and `revoke` made by another process: lookups reload the file
// when it changed. Thread-safe.
#pragma once

#include <filesystem>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fieldsync {

struct OfficeEntry {
  std::string code;
  std::string token_hash;  // hex
  std::string added;       // UTC time
  std::string revoked;     // UTC time, empty while active
};

class OfficeRegistry {
 public:
  explicit OfficeRegistry(std::filesystem::path file);

  // Registers `code` (ISO 3166-1 alpha-3) and returns its new token. A revoked office may be
  // added again (with a new token); an active one is Error(already_exists).
  std::string add(const std::string& code);
  // Revokes the office's token: Error(not_found) for an unknown or already revoked office.
  void revoke(const std::string& code);
  std::vector<OfficeEntry> list();
  // The office whose active token this is, or nullopt.
  std::optional<std::string> office_for_token(std::string_view token);

 private:
  void load_if_changed();
  void save();

  std::filesystem::path file_;
  std::filesystem::file_time_type loaded_at_{};
  std::vector<OfficeEntry> offices_;
  std::mutex mutex_;
};

}  // namespace fieldsync
