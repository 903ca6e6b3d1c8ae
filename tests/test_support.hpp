// Helpers shared by the tests: temporary folders, the shared data, running the real binaries.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

namespace fieldsync {

// A fresh folder under the system's temp dir, removed with everything in it at scope exit.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "fieldsync-test-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline void write_file(const std::filesystem::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
}

inline std::filesystem::path shared_activities() {
  return std::filesystem::path(FIELDSYNC_SHARED_DATA_DIR) / "activities.jsonl";
}

}  // namespace fieldsync

#include <sqlite3.h>

#include <vector>

namespace fieldsync {

// Every row of every table of the store, and its schema, as text: two equal snapshots mean the
// store is unchanged. The tables are read from sqlite_master, so a table added later is covered
// without touching this. Rows are sorted by all their columns; blobs are shown in hex and NULL
// is told apart from the text "NULL". For an HQ home (replica.db beside offices.json) the office
// list is part of HQ's state too, so it is appended.
inline std::string snapshot_store(const std::filesystem::path& db_file) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return "<cannot open " + db_file.string() + ">";
  }
  // Appends the rows of `sql`, one line each; false if it does not prepare.
  const auto dump = [db, &out](const std::string& sql) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) return false;
    static constexpr char kHex[] = "0123456789abcdef";
    while (sqlite3_step(st) == SQLITE_ROW) {
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        switch (sqlite3_column_type(st, c)) {
          case SQLITE_NULL: out += "<null>"; break;
          case SQLITE_BLOB: {
            const auto* bytes = static_cast<const unsigned char*>(sqlite3_column_blob(st, c));
            out += "x'";
            for (int i = 0; i < sqlite3_column_bytes(st, c); ++i) {
              out += kHex[bytes[i] >> 4];
              out += kHex[bytes[i] & 0xf];
            }
            out += '\'';
            break;
          }
          default: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
            out.append(text, static_cast<std::size_t>(sqlite3_column_bytes(st, c)));
          }
        }
        out += '|';
      }
      out += '\n';
    }
    sqlite3_finalize(st);
    return true;
  };

  out += "== sqlite_master\n";
  dump("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name");
  std::vector<std::string> tables;
  {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", -1, &st,
                           nullptr) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        tables.emplace_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)));
      }
    }
    sqlite3_finalize(st);
  }
  if (tables.empty()) out += "<no tables>\n";
  for (const std::string& table : tables) {
    std::string quoted = "\"";
    for (char ch : table) quoted += ch == '"' ? std::string("\"\"") : std::string(1, ch);
    quoted += '"';
    int columns = 0;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, ("SELECT * FROM " + quoted).c_str(), -1, &st, nullptr) == SQLITE_OK) {
      columns = sqlite3_column_count(st);
    }
    sqlite3_finalize(st);
    std::string order;
    for (int c = 1; c <= columns; ++c) order += (c == 1 ? " ORDER BY " : ", ") + std::to_string(c);
    out += "== " + table + "\n";
    if (!dump("SELECT * FROM " + quoted + order)) out += "<cannot read " + table + ">\n";
  }
  sqlite3_close(db);

  const std::filesystem::path offices = db_file.parent_path() / "offices.json";
  if (std::error_code ec; std::filesystem::exists(offices, ec)) {
    out += "== offices.json\n" + read_file(offices) + "\n";
  }
  return out;
}

// One number from a SQL query on the store (opened read-only).
inline long long query_count(const std::filesystem::path& db_file, const std::string& sql) {
  sqlite3* db = nullptr;
  long long value = -1;
  if (sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW) {
      value = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return value;
}

}  // namespace fieldsync
