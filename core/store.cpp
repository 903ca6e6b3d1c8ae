#include "core/store.hpp"

#include <sqlite3.h>

#include <iterator>

#include "core/error.hpp"
#include "core/store_schema.hpp"
#include "core/tuning.hpp"

namespace fieldsync {

// ---- Query ----

Query::Query(Store& store, sqlite3_stmt* statement) : store_(store), statement_(statement) {}

Query::~Query() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

Query& Query::bind(int index, std::string_view text) {
  store_.check(sqlite3_bind_text(statement_, index, text.data(), static_cast<int>(text.size()),
                                 SQLITE_TRANSIENT),
               "bind text");
  return *this;
}

Query& Query::bind(int index, std::int64_t value) {
  store_.check(sqlite3_bind_int64(statement_, index, value), "bind integer");
  return *this;
}

Query& Query::bind(int index, double value) {
  store_.check(sqlite3_bind_double(statement_, index, value), "bind real");
  return *this;
}

Query& Query::bind_null(int index) {
  store_.check(sqlite3_bind_null(statement_, index), "bind null");
  return *this;
}

bool Query::step() {
  const int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  store_.check(rc, sqlite3_sql(statement_));
  return false;
}

void Query::run() {
  while (step()) {
  }
}

bool Query::is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }

std::int64_t Query::integer(int column) const { return sqlite3_column_int64(statement_, column); }

double Query::real(int column) const { return sqlite3_column_double(statement_, column); }

std::string Query::text(int column) const {
  const auto* bytes = reinterpret_cast<const char*>(sqlite3_column_text(statement_, column));
  if (bytes == nullptr) return {};
  return std::string(bytes, static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
}

// ---- Store ----

Store::Store(const std::filesystem::path& file, Mode mode) : file_(file) {
  std::error_code ec;
  const bool exists = std::filesystem::exists(file, ec);
  if (mode == Mode::open_existing && !exists) {
    throw Error(Errc::not_initialized, "no replica store here", file.string());
  }
  if (mode == Mode::create_new && exists) {
    throw Error(Errc::already_exists, "a replica store already exists here", file.string());
  }
  // NOMUTEX: a Store belongs to one thread (see store.hpp), so SQLite's own locking is waste.
  const int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX |
                    (mode == Mode::create_new ? SQLITE_OPEN_CREATE : 0);
  const int rc = sqlite3_open_v2(file.c_str(), &db_, flags, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(Errc::storage, "cannot open the store: " + message, file.string());
  }
  try {
    configure();
    migrate();
  } catch (...) {
    for (auto& [sql, statement] : statements_) sqlite3_finalize(statement);
    statements_.clear();
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

Store::~Store() {
  for (auto& [sql, statement] : statements_) sqlite3_finalize(statement);
  sqlite3_close(db_);
}

void Store::check(int rc, std::string_view what) const {
  if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
  std::string message = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  throw Error(Errc::storage, "SQLite failed (" + message + ") in: " + std::string(what),
              file_.string());
}

void Store::configure() {
  check(sqlite3_busy_timeout(db_, tuning::kStoreBusyTimeoutMillis), "busy timeout");
  exec("PRAGMA journal_mode=WAL;");
  exec("PRAGMA synchronous=FULL;");
  exec("PRAGMA foreign_keys=ON;");
}

void Store::exec(std::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (rc != SQLITE_OK) {
    const std::string detail = message ? message : sqlite3_errstr(rc);
    sqlite3_free(message);
    throw Error(Errc::storage, "SQLite failed (" + detail + ")", file_.string());
  }
}

Query Store::query(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* statement = nullptr;
    check(sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                             &statement, nullptr),
          sql);
    it = statements_.emplace(std::string(sql), statement).first;
  }
  return Query(*this, it->second);
}

int Store::schema_version() {
  Query q = query("PRAGMA user_version");
  q.step();
  return static_cast<int>(q.integer(0));
}

void Store::migrate() {
  constexpr int latest = static_cast<int>(std::size(store_schema::kMigrations));
  static_assert(latest == Store::kSchemaVersion, "one migration script per schema version");
  Transaction transaction(*this);
  const int current = schema_version();
  if (current > latest) {
    throw Error(Errc::storage,
                "the store was written by a newer fieldsync (store schema " + std::to_string(current) +
                    ", this program knows up to " + std::to_string(latest) + ")",
                file_.string());
  }
  for (int version = current; version < latest; ++version) {
    exec(store_schema::kMigrations[version]);
  }
  if (current != latest) exec("PRAGMA user_version=" + std::to_string(latest));
  transaction.commit();
}

std::optional<std::string> Store::meta(std::string_view key) {
  Query q = query("SELECT value FROM meta WHERE key = ?1");
  q.bind(1, key);
  if (!q.step()) return std::nullopt;
  return q.text(0);
}

void Store::set_meta(std::string_view key, std::string_view value) {
  Query q = query("INSERT INTO meta(key, value) VALUES(?1, ?2) "
                  "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
  q.bind(1, key).bind(2, value).run();
}

// ---- Transaction ----

Store::Transaction::Transaction(Store& store) : store_(store) { store_.exec("BEGIN IMMEDIATE"); }

Store::Transaction::~Transaction() {
  if (!done_) sqlite3_exec(store_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
}

void Store::Transaction::commit() {
  store_.exec("COMMIT");
  done_ = true;
}

}  // namespace fieldsync
