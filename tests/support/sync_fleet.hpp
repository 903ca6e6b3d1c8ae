// A fleet of field laptops of several offices, each a real `fieldsync` home enrolled with a real
// HQ through a FaultProxy of its own (so the faults and bytes of one laptop's sync are told apart
// from another's), with a RecordBook of everything each laptop wrote. The fault and kill tests
// drive it, then settle() syncs everyone cleanly and check_fleet() checks the end state against
// the book: converged byte for byte, nothing lost, nothing duplicated, outboxes empty, stores
// intact. Every command is the real binary; every wait is bounded.
#pragma once

#include <sqlite3.h>

#include <functional>
#include <memory>
#include <random>
#include <stdexcept>

#include "../hq_fixture.hpp"
#include "fault_proxy.hpp"
#include "spawned_process.hpp"

namespace fieldsync::testing {

// How long one `fieldsync sync` may run before the test kills it and fails: a sync here moves a
// few hundred records and takes well under a second, ten times that under ASan.
inline constexpr auto kSyncBound = std::chrono::seconds(30);

// The environment of every `fieldsync sync` the fleet runs: pages of 40 records
// (FIELDSYNC_SYNC_PAGE_RECORDS, read by SyncOptions::from_environment), so a sync of a few hundred
// records crosses many page boundaries and a fault or a kill lands between pages as well as
// inside one. Without it a page holds up to 5,000 records and every sync here is one page.
inline std::map<std::string, std::string> sync_environment() { return {{"FIELDSYNC_SYNC_PAGE_RECORDS", "40"}}; }

// A random UUID (version 4 layout) from the test's generator: reproducible ids.
inline std::string random_uuid(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  const std::uint64_t a = rng(), b = rng();
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) id += '-';
    const std::uint64_t word = i < 16 ? a : b;
    int nibble = static_cast<int>((word >> (4 * (i % 16))) & 0xf);
    if (i == 12) nibble = 4;                   // version 4
    if (i == 16) nibble = 8 | (nibble & 0x3);  // RFC 4122 variant
    id += kHex[nibble];
  }
  return id;
}

// The real activities of ../shared/data (Arabic), and distinct variants of them made as
// variants.py makes them: the description's words shuffled, the title its first words, plus a tag
// so no two records are alike.
class ActivitySource {
 public:
  ActivitySource() {
    std::ifstream in(shared_activities());
    std::string line;
    while (std::getline(in, line)) {
      nlohmann::json row = nlohmann::json::parse(line);
      real_.push_back({{"id", row["id"]}, {"fields", row["fields"]}});
    }
    if (real_.empty()) throw std::runtime_error("no activities in " + shared_activities().string());
  }
  std::size_t real_count() const { return real_.size(); }
  const nlohmann::json& real(std::size_t i) const { return real_.at(i % real_.size()); }

  // An import line {"id", "fields"}: a variant of real record `i`, tagged `tag`.
  nlohmann::json variant(std::size_t i, const std::string& tag, std::mt19937_64& rng) const {
    nlohmann::json fields = real(i)["fields"];
    std::vector<std::string> words;
    std::istringstream description(fields.value("description", fields["title"].get<std::string>()));
    for (std::string w; description >> w;) words.push_back(w);
    std::shuffle(words.begin(), words.end(), rng);
    std::string text, title;
    for (std::size_t w = 0; w < words.size(); ++w) {
      text += (w ? " " : "") + words[w];
      if (w < 8) title += (w ? " " : "") + words[w];
    }
    fields["description"] = text;
    fields["title"] = title + " — " + tag;
    fields["participants"] = 5 + static_cast<int>(rng() % 496);
    return {{"id", random_uuid(rng)}, {"fields", fields}};
  }

 private:
  std::vector<nlohmann::json> real_;
};

// Field edits a field officer makes, in French and Arabic; `n` makes each one unique. One of the
// French titles spells "é" decomposed (e + U+0301), which the replica stores NFC-normalized.
inline std::vector<std::string> random_edit(std::mt19937_64& rng, std::size_t n) {
  static const std::vector<std::string> titles = {
      "Atelier régional sur la sécurité alimentaire à Niamey",
      "Re\xcc\x81" "union de coordination a\xcc\x80 Tillabe\xcc\x81" "ri avec les e\xcc\x81" "coles",
      "ورشة عمل إقليمية حول الأمن الغذائي في نيامي",
      "اجتماع تنسيقي مع الشركاء في كابول",
      "Formation des enseignants : « lire et écrire » à Zinder"};
  static const std::vector<std::string> places = {"Niamey", "Kaboul", "Tillabéri", "هرات", "Zinder", "مزار شريف"};
  static const std::vector<std::string> statuses = {"planned", "ongoing", "implemented", "cancelled"};
  static const std::vector<std::string> institutions = {"IOFS", "SESRIC", "ISESCO", "WFP", "UNICEF", "منظمة التعاون"};
  std::vector<std::string> args;
  switch (rng() % 5) {
    case 0: args.push_back("title=" + titles[rng() % titles.size()] + " (" + std::to_string(n) + ")"); break;
    case 1: args.push_back("place=" + places[rng() % places.size()]); break;
    case 2: args.push_back("status=" + statuses[rng() % statuses.size()]); break;
    case 3:
      args.push_back("institutions=" + institutions[rng() % institutions.size()] + "," +
                     institutions[rng() % institutions.size()]);
      break;
    default: args.push_back("participants=" + std::to_string(rng() % 1000)); break;
  }
  if (rng() % 3 == 0) args.push_back("participants=" + std::to_string(rng() % 1000));
  return args;
}

// One laptop: its home, its office, and the proxy it reaches HQ through.
struct Laptop {
  std::string name;
  std::string office;
  std::filesystem::path home;
  std::unique_ptr<FaultProxy> proxy;

  RunResult run(std::vector<std::string> args, const std::string& input = {}) const {
    args.insert(args.begin(), {"--home", home.string()});
    return run_fieldsync(args, {}, input);
  }
  // A command that must succeed, with --json: its parsed output. Throws with its stderr if not.
  nlohmann::json json(std::vector<std::string> args, const std::string& input = {}) const {
    args.push_back("--json");
    const RunResult r = run(args, input);
    if (r.exit_code != 0) {
      throw std::runtime_error(name + ": fieldsync " + args[0] + " exited " + std::to_string(r.exit_code) + ": " + r.err);
    }
    return nlohmann::json::parse(r.out);
  }
  std::filesystem::path store() const { return home / "replica.db"; }
};

// A new laptop of `office`: `fieldsync init`, a proxy to HQ at `hq_port`, `fieldsync enroll`
// with the proxy's address (HQ's certificate names 127.0.0.1, so TLS checks out through it).
inline Laptop make_laptop(const std::filesystem::path& dir, const std::string& name, const std::string& office,
                          std::uint16_t hq_port, const std::filesystem::path& ca_file, const std::string& token) {
  Laptop laptop{name, office, dir / name, std::make_unique<FaultProxy>(hq_port)};
  laptop.json({"init", "--office", office});
  laptop.json({"enroll", "--hq", laptop.proxy->url(), "--ca", ca_file.string(), "--token", token});
  return laptop;
}

// The port of an "https://127.0.0.1:PORT" address.
inline std::uint16_t port_of(const std::string& url) {
  return static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1)));
}

// What every laptop wrote, from the record each write printed (add/edit/delete --json). A record
// written by one laptop only must end, everywhere, as that laptop's last write left it; one that
// another laptop wrote too ("contended") must only be the same everywhere.
struct ExpectedRecord {
  std::string office;
  std::string writer;
  nlohmann::json fields;
  bool deleted = false;
  bool contended = false;
};

class RecordBook {
 public:
  void wrote(const Laptop& by, const nlohmann::json& record) {
    const std::string id = record.at("id");
    auto [it, created] = records_.try_emplace(id);
    ExpectedRecord& e = it->second;
    if (created) {
      e.office = by.office;
      e.writer = by.name;
    } else if (e.writer != by.name) {
      e.contended = true;
    }
    e.fields = record.at("fields");
    e.deleted = record.at("deleted").get<bool>();
  }
  const std::map<std::string, ExpectedRecord>& records() const { return records_; }
  // Ids `laptop` created, not deleted, written by it alone: what it may edit with a known result.
  std::vector<std::string> own_live(const Laptop& laptop) const {
    std::vector<std::string> out;
    for (const auto& [id, e] : records_) {
      if (e.writer == laptop.name && !e.deleted && !e.contended) out.push_back(id);
    }
    return out;
  }
  // Ids of `office` written by another laptop than `laptop`, not deleted.
  std::vector<std::string> others_live(const Laptop& laptop) const {
    std::vector<std::string> out;
    for (const auto& [id, e] : records_) {
      if (e.office == laptop.office && e.writer != laptop.name && !e.deleted) out.push_back(id);
    }
    return out;
  }

 private:
  std::map<std::string, ExpectedRecord> records_;
};

// Imports `lines` (import lines) on `laptop` and books each record as the laptop then shows it.
inline void import_and_book(const Laptop& laptop, const std::vector<nlohmann::json>& lines, RecordBook& book,
                            const std::filesystem::path& scratch) {
  const auto file = scratch / (laptop.name + "-import.jsonl");
  {
    std::ofstream out(file, std::ios::binary);
    for (const auto& line : lines) out << line.dump() << "\n";
  }
  const nlohmann::json result = laptop.json({"import", "activity", file.string()});
  if (result.at("added").get<std::size_t>() != lines.size()) {
    throw std::runtime_error(laptop.name + ": import added " + result.dump());
  }
  std::set<std::string> ids;
  for (const auto& line : lines) ids.insert(line.at("id").get<std::string>());
  for (const auto& record : laptop.json({"list", "--deleted"})) {
    if (ids.count(record.at("id").get<std::string>())) book.wrote(laptop, record);
  }
}

// Every row of `sql` (one '|'-joined line each) from the store, opened read-only.
inline std::vector<std::string> store_rows(const std::filesystem::path& db_file, const std::string& sql,
                                           const std::string& param = {}) {
  sqlite3* db = nullptr;
  std::vector<std::string> rows;
  if (sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    return {"<cannot open " + db_file.string() + ">"};
  }
  sqlite3_busy_timeout(db, 10'000);
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
    rows.push_back(std::string("<cannot prepare: ") + sqlite3_errmsg(db) + ">");
  } else {
    if (!param.empty()) sqlite3_bind_text(st, 1, param.c_str(), -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::string row;
      for (int c = 0; c < sqlite3_column_count(st); ++c) {
        const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
        row += text ? std::string(text, static_cast<std::size_t>(sqlite3_column_bytes(st, c))) : "<null>";
        row += '|';
      }
      rows.push_back(std::move(row));
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rows;
}

// One `fieldsync sync --json` of a laptop, watched while it runs.
struct SyncOutcome {
  RunResult result;
  FaultStats before, after;  // the laptop's proxy, around the sync
  bool killed = false;       // the test killed it (see run_sync)
  bool stalled = false;      // a stall fired during it
  std::size_t faults() const {
    return (after.cuts - before.cuts) + (after.stalls - before.stalls) + (after.truncations - before.truncations);
  }
  std::size_t bytes() const { return (after.bytes_up - before.bytes_up) + (after.bytes_down - before.bytes_down); }
};

// Decides, while a sync runs, whether to SIGKILL it now: given the time since it started and its
// proxy's counts since then.
using KillPoint = std::function<bool(std::chrono::milliseconds elapsed, const FaultStats& delta)>;

inline FaultStats stats_delta(const FaultStats& now, const FaultStats& then) {
  FaultStats d;
  d.connections = now.connections - then.connections;
  d.cuts = now.cuts - then.cuts;
  d.stalls = now.stalls - then.stalls;
  d.truncations = now.truncations - then.truncations;
  d.bytes_up = now.bytes_up - then.bytes_up;
  d.bytes_down = now.bytes_down - then.bytes_down;
  d.refused = now.refused - then.refused;
  return d;
}

// Runs `fieldsync sync --json` on `laptop`. A stall leaves the client waiting for its own request
// timeout (minutes, and no option shortens it), so a sync whose connection stalled is killed
// `stall_grace` after the stall fired — a laptop dying mid-sync is a fault the product must take
// too. `kill_point`, if given, may kill it at any other moment. A sync still running at
// kSyncBound is killed and reported as hung (killed_at_bound in the outcome's result).
inline SyncOutcome run_sync(const Laptop& laptop, std::chrono::milliseconds stall_grace, const KillPoint& kill_point = {},
                            bool* hung = nullptr) {
  SyncOutcome outcome;
  outcome.before = laptop.proxy->stats();
  SpawnedProcess child({FIELDSYNC_CLI, "--home", laptop.home.string(), "sync", "--json"}, sync_environment(),
                       laptop.home / "sync.out", laptop.home / "sync.err");
  const auto started = std::chrono::steady_clock::now();
  std::optional<std::chrono::steady_clock::time_point> stalled_at;
  while (child.running()) {
    const auto now = std::chrono::steady_clock::now();
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(now - started);
    if (elapsed >= kSyncBound) break;
    const FaultStats delta = stats_delta(laptop.proxy->stats(), outcome.before);
    if (delta.stalls > 0 && !stalled_at) stalled_at = now;
    if ((stalled_at && now - *stalled_at >= stall_grace) || (kill_point && kill_point(elapsed, delta))) {
      outcome.killed = child.kill(SIGKILL);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  outcome.result = child.wait(std::chrono::seconds(5));
  if (hung) *hung = child.killed_at_bound() || (!outcome.killed && std::chrono::steady_clock::now() - started >= kSyncBound);
  outcome.stalled = stalled_at.has_value();
  outcome.after = laptop.proxy->stats();
  return outcome;
}

// What a failed sync must print: a JSON error on stderr with a code and a message.
inline std::string unclear_failure(const RunResult& r) {
  try {
    const nlohmann::json e = nlohmann::json::parse(r.err);
    if (e.at("error").at("message").get<std::string>().empty()) return "an empty error message";
    if (e.at("error").at("code").get<std::string>().empty()) return "an empty error code";
    return {};
  } catch (const std::exception& ex) {
    return std::string("stderr is not a JSON error (") + ex.what() + "): " + r.err;
  }
}

// Clean syncs of every laptop, pass after pass, until a whole pass moves nothing (each exits 0
// with nothing sent or received), at most `max_passes`. Returns what went wrong, if anything.
inline std::vector<std::string> settle(const std::vector<Laptop*>& laptops, int max_passes = 6) {
  for (Laptop* l : laptops) l->proxy->set_plan(FaultPlan{});
  for (int pass = 0; pass < max_passes; ++pass) {
    bool quiet = true;
    for (Laptop* l : laptops) {
      bool hung = false;
      const SyncOutcome s = run_sync(*l, std::chrono::milliseconds(0), {}, &hung);
      if (s.result.exit_code != 0) {
        return {l->name + ": a clean sync failed (exit " + std::to_string(s.result.exit_code) + (hung ? ", hung" : "") +
                "): " + s.result.err};
      }
      const nlohmann::json summary = nlohmann::json::parse(s.result.out);
      if (summary.at("sent") != 0 || summary.at("received") != 0) quiet = false;
    }
    if (quiet) return {};
  }
  return {"still not quiet after " + std::to_string(max_passes) + " passes of clean syncs"};
}

// The records a home holds, deleted ones too, as `fieldsync list` shows them: id -> the JSON of
// office, type, fields and tombstone, byte for byte.
inline std::map<std::string, std::string> listed_records(const std::filesystem::path& home) {
  const RunResult r = run_fieldsync({"--home", home.string(), "list", "--deleted", "--json"});
  if (r.exit_code != 0) throw std::runtime_error("fieldsync list on " + home.string() + ": " + r.err);
  std::map<std::string, std::string> out;
  for (const auto& rec : nlohmann::json::parse(r.out)) {
    out[rec.at("id")] = nlohmann::json{{"office", rec.at("office")}, {"type", rec.at("type")}, {"fields", rec.at("fields")},
                                       {"deleted", rec.at("deleted")}}
                            .dump();
  }
  return out;
}

// The end state, against the book. Every problem found, in words (empty: all is well).
inline std::vector<std::string> check_fleet(const std::vector<Laptop*>& laptops, const std::filesystem::path& hq_home,
                                            const RecordBook& book) {
  std::vector<std::string> problems;
  const auto hq_store = hq_home / "replica.db";
  // Stores intact.
  std::vector<std::pair<std::string, std::filesystem::path>> stores = {{"HQ", hq_store}};
  for (Laptop* l : laptops) stores.emplace_back(l->name, l->store());
  for (const auto& [name, db] : stores) {
    const auto check = store_rows(db, "PRAGMA integrity_check");
    if (check != std::vector<std::string>{"ok|"}) problems.push_back(name + ": integrity_check: " + check.front());
    // A change applied twice would show as the same history entry twice.
    for (const auto& row : store_rows(db, "SELECT record_id, hlc, replica, action, count(*) FROM history "
                                          "GROUP BY record_id, hlc, replica, action, changes HAVING count(*) > 1")) {
      problems.push_back(name + ": a change is in the history more than once: " + row);
    }
  }
  // Outboxes empty.
  for (Laptop* l : laptops) {
    const nlohmann::json status = l->json({"status"});
    if (status.at("pending_records") != 0 || status.value("pending_changes", 0) != 0) {
      problems.push_back(l->name + ": outbox not empty after clean syncs: " + status.dump());
    }
  }
  // HQ holds each record once: exactly the book's, each as its only writer left it.
  const auto at_hq = listed_records(hq_home);
  for (const auto& [id, e] : book.records()) {
    const auto it = at_hq.find(id);
    if (it == at_hq.end()) {
      problems.push_back("lost: " + id + " (written by " + e.writer + ") is not at HQ");
      continue;
    }
    const nlohmann::json held = nlohmann::json::parse(it->second);
    if (held.at("office") != e.office) problems.push_back(id + ": at HQ under office " + held.at("office").dump());
    if (!e.contended && (held.at("fields") != e.fields || held.at("deleted") != e.deleted)) {
      problems.push_back("a write lost: " + id + " at HQ is " + it->second + ", but " + e.writer + " last wrote " +
                         nlohmann::json{{"fields", e.fields}, {"deleted", e.deleted}}.dump());
    }
  }
  for (const auto& [id, json] : at_hq) {
    if (!book.records().count(id)) problems.push_back("HQ holds a record nobody wrote: " + id + " " + json);
  }
  const long long hq_rows = query_count(hq_store, "SELECT count(*) FROM records");
  if (hq_rows != static_cast<long long>(book.records().size())) {
    problems.push_back("HQ holds " + std::to_string(hq_rows) + " records, " + std::to_string(book.records().size()) +
                       " were written");
  }
  // Every laptop of an office: the office's records exactly as HQ holds them, shown and stored
  // byte for byte, and its conflicts the same as its office's other laptops'.
  static const std::string kRecordRows =
      "SELECT id, type, office, schema_version, fields, creator, created_by, states, deleted, created_hlc, updated_hlc "
      "FROM records WHERE office = ?1 ORDER BY id";
  static const std::string kConflictRows =
      "SELECT c.record_id, c.field FROM conflicts c JOIN records r ON r.id = c.record_id WHERE r.office = ?1 "
      "ORDER BY 1, 2";
  std::map<std::string, std::vector<std::string>> hq_rows_of, conflicts_of;
  std::map<std::string, std::string> conflicts_seen_on;
  for (Laptop* l : laptops) {
    if (!hq_rows_of.count(l->office)) hq_rows_of[l->office] = store_rows(hq_store, kRecordRows, l->office);
    std::map<std::string, std::string> expected;
    for (const auto& [id, json] : at_hq) {
      if (nlohmann::json::parse(json).at("office") == l->office) expected[id] = json;
    }
    const auto held = listed_records(l->home);
    for (const auto& [id, json] : expected) {
      const auto it = held.find(id);
      if (it == held.end()) {
        problems.push_back(l->name + " lacks " + id + " of its office");
      } else if (it->second != json) {
        problems.push_back(l->name + " diverges on " + id + ": " + it->second + " here, " + json + " at HQ");
      }
    }
    for (const auto& [id, json] : held) {
      if (!expected.count(id)) problems.push_back(l->name + " holds " + id + ", not one of its office's at HQ: " + json);
    }
    const auto rows = store_rows(l->store(), kRecordRows, l->office);
    if (rows != hq_rows_of[l->office]) {
      std::size_t differ = 0;
      while (differ < rows.size() && differ < hq_rows_of[l->office].size() && rows[differ] == hq_rows_of[l->office][differ]) ++differ;
      problems.push_back(l->name + ": stored records differ from HQ's (row " + std::to_string(differ) + "): " +
                         (differ < rows.size() ? rows[differ] : "<none>") + " here, " +
                         (differ < hq_rows_of[l->office].size() ? hq_rows_of[l->office][differ] : "<none>") + " at HQ");
    }
    const auto conflicts = store_rows(l->store(), kConflictRows, l->office);
    if (!conflicts_of.count(l->office)) {
      conflicts_of[l->office] = conflicts;
      conflicts_seen_on[l->office] = l->name;
    } else if (conflicts != conflicts_of[l->office]) {
      problems.push_back(l->name + ": " + std::to_string(conflicts.size()) + " open conflicts, " +
                         conflicts_seen_on[l->office] + " has " + std::to_string(conflicts_of[l->office].size()));
    }
  }
  return problems;
}

// The problems as one message, the first `limit` in full.
inline std::string describe(const std::vector<std::string>& problems, std::size_t limit = 15) {
  std::string out = std::to_string(problems.size()) + " problems:";
  for (std::size_t i = 0; i < problems.size() && i < limit; ++i) out += "\n  - " + problems[i];
  return out;
}

// The seed of a test run: `variable` from the environment, or `fallback`.
inline std::uint64_t seed_from_env(const char* variable, std::uint64_t fallback) {
  const char* value = std::getenv(variable);
  return value != nullptr && *value != '\0' ? std::stoull(value) : fallback;
}

}  // namespace fieldsync::testing
