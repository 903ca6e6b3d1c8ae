// Store: the SQLite file is set up for power cuts and migrated on open.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "core/error.hpp"
#include "core/store.hpp"
#include "test_support.hpp"

namespace fieldsync {
namespace {

TEST(Store, CreatesAFileInWalModeWithFullSync) {
  TempDir dir;
  Store store(dir.path() / "s.db", Store::Mode::create_new);
  {
    Query q = store.query("PRAGMA journal_mode");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.text(0), "wal");
  }
  {
    Query q = store.query("PRAGMA synchronous");
    ASSERT_TRUE(q.step());
    EXPECT_EQ(q.integer(0), 2);  // FULL
  }
  EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
}

TEST(Store, RefusesToOpenAMissingStoreOrCreateOverAnExistingOne) {
  TempDir dir;
  try {
    Store store(dir.path() / "missing.db", Store::Mode::open_existing);
    FAIL() << "opened a store that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::not_initialized);
  }
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "missing.db"));
  { Store created(dir.path() / "s.db", Store::Mode::create_new); }
  try {
    Store again(dir.path() / "s.db", Store::Mode::create_new);
    FAIL() << "created over an existing store";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::already_exists);
  }
}

TEST(Store, MetaSurvivesReopen) {
  TempDir dir;
  {
    Store store(dir.path() / "s.db", Store::Mode::create_new);
    store.set_meta("office", "NER");
    store.set_meta("office", "AFG");
  }
  Store store(dir.path() / "s.db", Store::Mode::open_existing);
  EXPECT_EQ(store.meta("office"), "AFG");
  EXPECT_EQ(store.meta("nothing"), std::nullopt);
}

TEST(Store, TransactionRollsBackUnlessCommitted) {
  TempDir dir;
  Store store(dir.path() / "s.db", Store::Mode::create_new);
  {
    Store::Transaction t(store);
    store.set_meta("k", "uncommitted");
  }
  EXPECT_EQ(store.meta("k"), std::nullopt);
  {
    Store::Transaction t(store);
    store.set_meta("k", "committed");
    t.commit();
  }
  EXPECT_EQ(store.meta("k"), "committed");
}

TEST(Store, RefusesAStoreFromANewerProgram) {
  TempDir dir;
  { Store store(dir.path() / "s.db", Store::Mode::create_new); }
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open((dir.path() / "s.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  try {
    Store store(dir.path() / "s.db", Store::Mode::open_existing);
    FAIL() << "opened a store of a newer schema";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::storage);
    EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos);
  }
}

TEST(Store, MigratesAnEmptyFileToTheCurrentSchema) {
  TempDir dir;
  {
    sqlite3* db = nullptr;  // a store at schema version 0: an empty SQLite file
    ASSERT_EQ(sqlite3_open((dir.path() / "s.db").c_str(), &db), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db, "CREATE TABLE unrelated(x)", nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_close(db);
  }
  Store store(dir.path() / "s.db", Store::Mode::open_existing);
  EXPECT_EQ(store.schema_version(), Store::kSchemaVersion);
  Query q = store.query("SELECT count(*) FROM sqlite_master WHERE name IN ('records', 'outbox', 'history', 'meta')");
  ASSERT_TRUE(q.step());
  EXPECT_EQ(q.integer(0), 4);
}

TEST(Store, StorageErrorsNameTheStatement) {
  TempDir dir;
  Store store(dir.path() / "s.db", Store::Mode::create_new);
  try {
    store.query("SELECT * FROM no_such_table");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::storage);
    EXPECT_NE(std::string(e.what()).find("no_such_table"), std::string::npos);
  }
}

}  // namespace
}  // namespace fieldsync
