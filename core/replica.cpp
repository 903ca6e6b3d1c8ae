// Replica: creating one, opening it, its clock. Writes, reads and the sync side live in the
// replica_*.cpp files beside this one (one role each); replica_rows.cpp writes the tables.
#include "core/replica.hpp"

#include <algorithm>
#include <cstdlib>

#include "core/change_check.hpp"
#include "core/error.hpp"
#include "core/store.hpp"
#include "core/text.hpp"
#include "core/uuid.hpp"

namespace fieldsync {
namespace {

bool is_office_code(const std::string& office) {
  if (office == "HQ") return true;
  return office.size() == 3 &&
         std::all_of(office.begin(), office.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::string default_author() {
  for (const char* variable : {"FIELDSYNC_USER", "USER", "LOGNAME"}) {
    const char* value = std::getenv(variable);
    if (value != nullptr && *value != '\0' && text::is_valid_utf8(value)) return value;
  }
  return "unknown";
}

}  // namespace

void Replica::create(const std::filesystem::path& home, const std::string& office) {
  if (!is_office_code(office)) {
    throw Error(Errc::invalid_input,
                "office code '" + office + "' is not valid: use an ISO 3166-1 alpha-3 code such as NER, AFG, SOM, PSE (or HQ)");
  }
  std::error_code ec;
  std::filesystem::create_directories(home / "plugins", ec);
  if (ec) throw Error(Errc::storage, "cannot create the replica folder: " + ec.message(), home.string());
  Store store(home / kStoreFile, Store::Mode::create_new);
  Store::Transaction transaction(store);
  store.set_meta("office", office);
  store.set_meta("replica_id", uuid::random_hex(8));
  store.set_meta("clock", "0");
  store.set_meta("role", office == "HQ" ? "hq" : "field");
  transaction.commit();
}

Replica::Replica(const std::filesystem::path& home, const PluginHost& types)
    : home_(home), types_(types), author_(default_author()) {
  try {
    store_ = std::make_unique<Store>(home / kStoreFile, Store::Mode::open_existing);
  } catch (const Error& e) {
    if (e.code() != Errc::not_initialized) throw;
    throw Error(Errc::not_initialized, "no replica here: run `fieldsync init --office CODE` first", home.string());
  }
  auto office = store_->meta("office");
  auto replica_id = store_->meta("replica_id");
  auto clock = store_->meta("clock");
  if (!office || !replica_id || !clock) {
    throw Error(Errc::not_initialized, "the replica store is incomplete (init did not finish): remove it and run `fieldsync init` again", store_->file().string());
  }
  office_ = *office;
  replica_id_ = *replica_id;
  clock_ = Clock(std::stoull(*clock));
  if (auto offset = store_->meta("clock_offset")) clock_.set_offset_millis(std::stoll(*offset));
}

Replica::~Replica() = default;

void Replica::persist_clock() {
  // Another process (watch beside an add) may have stored a later clock since this one read it:
  // the stored clock only moves forward, or a replica opened next could stamp a write older than
  // one already made.
  store_->query(
            "INSERT INTO meta(key, value) VALUES('clock', ?1) ON CONFLICT(key) DO UPDATE SET "
            "value = CAST(max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER)) AS TEXT)")
      .bind(1, std::to_string(clock_.last()))
      .run();
}

// One transaction each: the log is small, and a failure must be recorded even when the store has
// just refused something else.
void Replica::note_sync_finished(std::int64_t at_millis) {
  Store::Transaction transaction(*store_);
  store_->set_meta("last_sync", std::to_string(at_millis));
  transaction.commit();
}

void Replica::note_sync_failed(std::int64_t at_millis, const std::string& reason) {
  Store::Transaction transaction(*store_);
  store_->set_meta("last_sync_failure", std::to_string(at_millis));
  store_->set_meta("last_sync_failure_reason", reason);
  transaction.commit();
}

}  // namespace fieldsync
