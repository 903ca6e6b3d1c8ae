// What a replica holds, in canonical forms two replicas can be compared by, for convergence
// tests: every record with every field's state and its conflicts (as the Replica reads them), and
// the rows of the records table (as the store keeps them, byte for byte).
#pragma once

#include <sqlite3.h>

#include <filesystem>
#include <map>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "core/record_json.hpp"
#include "core/replica.hpp"

namespace fieldsync {

// Every record a replica holds of `offices`: the record with every field's version, every field's
// full state, and its open conflicts.
inline nlohmann::json holdings(Replica& replica, const std::set<std::string>& offices) {
  ListFilter all;
  all.include_deleted = true;
  std::map<std::string, nlohmann::json> by_id;
  for (const Record& record : replica.list(all)) {
    if (!offices.count(record.office)) continue;
    nlohmann::json json = record_to_json(record, /*with_versions=*/true);
    nlohmann::json states = nlohmann::json::object();
    for (const auto& [field, state] : record.state) states[field] = field_state_to_json(state);
    json["states"] = states;
    json["created_hlc"] = record.created;
    json["creator"] = record.creator;
    json["created_by"] = record.created_by;
    by_id[record.id] = json;
  }
  for (const Conflict& conflict : replica.conflicts()) {
    auto it = by_id.find(conflict.record_id);
    if (it == by_id.end()) continue;
    nlohmann::json others = nlohmann::json::array();
    for (const auto& w : conflict.others) others.push_back({w.version.hlc, w.version.replica, w.value});
    it->second["conflicts"][conflict.field] = {{"shown", {conflict.shown.version.hlc, conflict.shown.version.replica,
                                                          conflict.shown.value}},
                                               {"others", others}};
  }
  return nlohmann::json(by_id);
}

// The rows of the records table for `offices`, as stored: byte for byte what the replica keeps.
inline std::map<std::string, std::string> record_rows(const std::filesystem::path& db_file, const std::set<std::string>& offices) {
  std::map<std::string, std::string> rows;
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    rows["<error>"] = "cannot open " + db_file.string();
    return rows;
  }
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT * FROM records ORDER BY id", -1, &st, nullptr) != SQLITE_OK) {
    rows["<error>"] = std::string("cannot read records: ") + sqlite3_errmsg(db);
  } else {
    int office_column = -1;
    for (int c = 0; c < sqlite3_column_count(st); ++c) {
      if (std::string(sqlite3_column_name(st, c)) == "office") office_column = c;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
      const auto text = [st](int c) {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st, c))) : std::string("<null>");
      };
      if (office_column >= 0 && !offices.count(text(office_column))) continue;
      std::string row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) row += std::string(sqlite3_column_name(st, c)) + "=" + text(c) + " | ";
      rows[text(0)] = row;
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

// The first difference between two holdings or row maps, named by record (and field); "" if equal.
inline std::string first_difference(const nlohmann::json& a, const std::string& a_name, const nlohmann::json& b,
                             const std::string& b_name) {
  for (const auto& [id, record] : a.items()) {
    if (!b.contains(id)) return "record " + id + " only on " + a_name + ": " + record.dump();
    if (b[id] == record) continue;
    std::string where = "record " + id + " differs between " + a_name + " and " + b_name;
    if (record.is_object() && b[id].is_object()) {
      for (const auto& [key, value] : record.items()) {
        if (b[id].contains(key) && b[id][key] == value) continue;
        if (value.is_object() && b[id].contains(key) && b[id][key].is_object()) {
          for (const auto& [field, v] : value.items()) {
            if (!b[id][key].contains(field) || b[id][key][field] != v) {
              return where + " in " + key + "." + field + ":\n    " + a_name + ": " + v.dump() + "\n    " + b_name + ": " +
                     (b[id][key].contains(field) ? b[id][key][field].dump() : "(absent)");
            }
          }
          for (const auto& [field, v] : b[id][key].items()) {
            if (!value.contains(field)) return where + " in " + key + "." + field + ": only " + b_name + " has " + v.dump();
          }
        }
        return where + " in " + key + ":\n    " + a_name + ": " + value.dump() + "\n    " + b_name + ": " +
               (b[id].contains(key) ? b[id][key].dump() : "(absent)");
      }
      for (const auto& [key, value] : b[id].items()) {
        if (!record.contains(key)) return where + ": only " + b_name + " has " + key + " = " + value.dump();
      }
    }
    return where + ":\n    " + a_name + ": " + record.dump() + "\n    " + b_name + ": " + b[id].dump();
  }
  for (const auto& [id, record] : b.items()) {
    if (!a.contains(id)) return "record " + id + " only on " + b_name + ": " + record.dump();
  }
  return "";
}

}  // namespace fieldsync
