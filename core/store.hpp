// Store: one SQLite file, opened the way a field laptop needs it.
//
// WAL journal, synchronous=FULL (a laptop can lose power mid-write: a committed transaction is on
// disk), foreign keys on, a busy timeout so a second command waits instead of failing. The
// store's own tables are versioned with PRAGMA user_version and migrated on open, inside one
// transaction, so a half-done migration never shows.
//
// Internal to core: only Replica (and tests) use it. Not thread-safe; one Store per thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace fieldsync {

class Store;

// A cached prepared statement in use. Binding indexes start at 1, columns at 0. Resets itself
// (and clears its bindings) when it goes out of scope, so the next user starts clean.
class Query {
 public:
  Query(Store& store, sqlite3_stmt* statement);
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  Query& bind(int index, std::string_view text);
  Query& bind(int index, std::int64_t value);
  Query& bind(int index, double value);
  Query& bind_null(int index);

  // Advances to the next row; false when done. Throws Error(storage) on failure.
  bool step();
  // Runs a statement that returns no rows.
  void run();

  bool is_null(int column) const;
  std::int64_t integer(int column) const;
  double real(int column) const;
  std::string text(int column) const;

 private:
  Store& store_;
  sqlite3_stmt* statement_;
};

class Store {
 public:
  static constexpr int kSchemaVersion = 4;

  enum class Mode { open_existing, create_new };

  // Opens (or, with create_new, creates: the file must not exist) and migrates the store.
  Store(const std::filesystem::path& file, Mode mode);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // A prepared statement for `sql`, compiled once per Store and reused.
  Query query(std::string_view sql);
  // Runs one or more statements with no parameters.
  void exec(std::string_view sql);

  // A transaction that rolls back unless commit() is called. BEGIN IMMEDIATE: a writer takes the
  // write lock up front, so two commands never both read-then-write and deadlock.
  class Transaction {
   public:
    explicit Transaction(Store& store);
    ~Transaction();
    Transaction(const Transaction&) = delete;
    Transaction& operator=(const Transaction&) = delete;
    void commit();

   private:
    Store& store_;
    bool done_ = false;
  };

  std::optional<std::string> meta(std::string_view key);
  void set_meta(std::string_view key, std::string_view value);

  int schema_version();
  const std::filesystem::path& file() const { return file_; }
  sqlite3* handle() const { return db_; }

  // Throws Error(storage) naming `what` with SQLite's message, when rc is an error code.
  void check(int rc, std::string_view what) const;

 private:
  void configure();
  void migrate();

  std::filesystem::path file_;
  sqlite3* db_ = nullptr;
  std::map<std::string, sqlite3_stmt*, std::less<>> statements_;
};

}  // namespace fieldsync
