#include "sync/office_registry.hpp"

#include <sodium.h>

#include <algorithm>
#include <ctime>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/json_input.hpp"
#include "core/uuid.hpp"

namespace fieldsync {
namespace {

std::string hash_token(std::string_view token) {
  unsigned char digest[crypto_generichash_BYTES];
  crypto_generichash(digest, sizeof digest, reinterpret_cast<const unsigned char*>(token.data()), token.size(), nullptr, 0);
  char hex[2 * sizeof digest + 1];
  sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
  return hex;
}

std::string utc_now() { return format_utc_seconds(std::time(nullptr)); }

bool is_office_code(const std::string& code) {
  return code.size() == 3 && std::all_of(code.begin(), code.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

}  // namespace

OfficeRegistry::OfficeRegistry(std::filesystem::path file) : file_(std::move(file)) {
  if (sodium_init() < 0) throw Error(Errc::internal, "libsodium could not start");
}

void OfficeRegistry::load_if_changed() {
  std::error_code ec;
  const auto stamp = std::filesystem::last_write_time(file_, ec);
  if (ec) {
    offices_.clear();  // no file yet: no office
    loaded_at_ = {};
    return;
  }
  if (stamp == loaded_at_ && !offices_.empty()) return;
  std::ifstream in(file_);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json json;
  try {
    json = parse_json_input(text.str(), file_.string());
  } catch (const Error& e) {
    throw Error(Errc::storage, std::string("the office list is not valid JSON: ") + e.what(), file_.string(), e.issues());
  }
  if (!json.is_array()) throw Error(Errc::storage, "the office list is not a JSON array", file_.string());
  std::vector<OfficeEntry> offices;  // replaces the list only once the whole file is read
  for (const auto& item : json) {
    const bool shaped = item.is_object() && std::all_of(item.begin(), item.end(), [](const auto& v) { return v.is_string(); });
    if (!shaped) throw Error(Errc::storage, "an entry of the office list is not an object of texts", file_.string());
    offices.push_back(OfficeEntry{item.value("code", ""), item.value("token_hash", ""), item.value("added", ""),
                                  item.value("revoked", "")});
  }
  offices_ = std::move(offices);
  loaded_at_ = stamp;
}

void OfficeRegistry::save() {
  nlohmann::json json = nlohmann::json::array();
  for (const auto& office : offices_) {
    json.push_back({{"code", office.code}, {"token_hash", office.token_hash}, {"added", office.added}, {"revoked", office.revoked}});
  }
  const std::string text = json.dump(2) + "\n";
  write_file_atomically(file_, text, 0600);
  std::error_code ec;
  loaded_at_ = std::filesystem::last_write_time(file_, ec);
}

std::string OfficeRegistry::add(const std::string& code) {
  if (!is_office_code(code)) {
    throw Error(Errc::invalid_input, "office code '" + code + "' is not an ISO 3166-1 alpha-3 code such as NER, AFG, SOM, PSE");
  }
  std::lock_guard lock(mutex_);
  load_if_changed();
  auto it = std::find_if(offices_.begin(), offices_.end(), [&](const OfficeEntry& o) { return o.code == code; });
  if (it != offices_.end() && it->revoked.empty()) {
    throw Error(Errc::already_exists, "office " + code + " is already enrolled (revoke it first to issue a new token)");
  }
  const std::string token = uuid::random_hex(32);
  OfficeEntry entry{code, hash_token(token), utc_now(), ""};
  if (it != offices_.end()) {
    *it = entry;
  } else {
    offices_.push_back(entry);
  }
  save();
  return token;
}

void OfficeRegistry::revoke(const std::string& code) {
  std::lock_guard lock(mutex_);
  load_if_changed();
  auto it = std::find_if(offices_.begin(), offices_.end(), [&](const OfficeEntry& o) { return o.code == code; });
  if (it == offices_.end() || !it->revoked.empty()) throw Error(Errc::not_found, "no active office " + code);
  it->revoked = utc_now();
  save();
}

std::vector<OfficeEntry> OfficeRegistry::list() {
  std::lock_guard lock(mutex_);
  load_if_changed();
  return offices_;
}

std::optional<std::string> OfficeRegistry::office_for_token(std::string_view token) {
  if (token.empty()) return std::nullopt;
  const std::string hash = hash_token(token);
  std::lock_guard lock(mutex_);
  load_if_changed();
  for (const auto& office : offices_) {
    // Compare hashes in constant time; a revoked office's token opens nothing.
    if (office.revoked.empty() && office.token_hash.size() == hash.size() &&
        sodium_memcmp(office.token_hash.data(), hash.data(), hash.size()) == 0) {
      return office.code;
    }
  }
  return std::nullopt;
}

}  // namespace fieldsync
