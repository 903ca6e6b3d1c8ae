// Record, HistoryEntry and the other values the Replica hands out.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/hlc.hpp"
#include "core/merge.hpp"

namespace fieldsync {

// The field name under which a record's tombstone version is kept.
inline constexpr const char* kDeletedField = "_deleted";

struct Record {
  std::string id;        // UUID, lower-case
  std::string type;      // data type name: "activity"
  std::string office;    // owning office: "NER", … or "HQ"
  int schema_version = 0;
  nlohmann::json fields = nlohmann::json::object();  // canonical: normalized, keys sorted
  bool deleted = false;
  // What this replica knows of every field ever written, including removed ones and
  // kDeletedField (the tombstone). `fields`, `deleted`, `versions` and `updated` are resolved
  // from it (see record_state.hpp).
  std::map<std::string, FieldState> state;
  // The latest version of every field in `state`.
  std::map<std::string, FieldVersion> versions;
  Hlc created = 0;
  Hlc updated = 0;
  std::string creator;     // the replica that created the record
  std::string created_by;  // the person who created it
};

// What crosses the wire for one record: its identity and the states of the fields sent (all of
// them for a record the receiver may not have, else the changed ones).
struct RecordChange {
  std::string id;
  std::string type;
  std::string office;
  int schema_version = 0;
  FieldVersion created;
  std::string created_by;
  std::map<std::string, FieldState> fields;
};

// A change read for sending. For a record sent whole whose every field is still as created — what
// a first push or pull carries — `change` comes without fields and `created_values` holds their
// values as the store keeps them (canonical JSON), for an encoder to copy rather than parse and
// print again. Otherwise `change` has the fields sent and `created_values` is empty.
struct OutgoingChange {
  RecordChange change;
  std::string created_values;
};

// A field of a record where concurrent writes wait for a person (policy `review`), a deleted
// record that a concurrent edit revived (field kDeletedField), or a field whose merged value
// breaks a rule of the record's type though every write was valid where it was made (two
// officers moved the start and the end of one activity apart): `broken_rule` says which.
struct Conflict {
  std::string record_id;
  std::string type;
  std::string field;
  FieldWrite shown;                 // the value the record shows now (the latest write)
  std::vector<FieldWrite> others;   // the concurrent writes it won over
  std::string broken_rule;          // "must be on or after start_date (2018-03-10)"; empty otherwise
};

// One applied change, as `fieldsync history` shows it.
struct HistoryEntry {
  Hlc hlc = 0;
  std::string replica;  // replica that made the change
  std::string office;   // that replica's office
  std::string author;   // the person (login) who made it
  std::string origin;   // "local" or "remote"
  std::string action;   // "create", "edit", "delete", "revive"
  // field -> {"old": value or null, "new": value or null}
  nlohmann::json changes = nlohmann::json::object();
};

struct ListFilter {
  std::optional<std::string> type;
  // field=value pairs that must all hold; a set field matches when it contains the value.
  // "office" and "type" name the record's own office and type.
  std::vector<std::pair<std::string, std::string>> where;
  // Only records changed at or after this time (Unix milliseconds).
  std::optional<std::int64_t> changed_since_millis;
  // Text that must appear (case-insensitively, after NFC) in one of the record's text values.
  std::optional<std::string> search;
  bool include_deleted = false;
  std::size_t limit = 0;  // 0: no limit
};

struct TypeCount {
  std::string type;
  std::int64_t live = 0;
  std::int64_t deleted = 0;
};

// A record of the outbox HQ refused for its own sake (another office's id, a type HQ does not
// publish, values its type forbids), set aside so the rest of the outbox still goes: not sent
// again while it stays as it was when refused (see Replica::set_aside).
struct SetAsideRecord {
  std::string record_id;
  Hlc last_hlc = 0;        // the outbox's newest local write of the record when HQ refused it
  std::string code;        // HQ's: forbidden, unknown_type, unknown_version, validation, invalid_input
  std::string reason;      // HQ's words
  std::int64_t at_millis = 0;  // when HQ refused it (Unix milliseconds)
};

// A record that broke its type's rules when its plugin arrived after it (see
// Replica::check_waiting_records): kept and synced as it is, for a person to correct.
struct RecordIssues {
  std::string record_id;
  std::string type;
  std::vector<FieldIssue> issues;
  std::int64_t at_millis = 0;  // when it was checked (Unix milliseconds)
};

// What checking the records of one type that waited for its plugin found.
struct WaitingCheck {
  std::string type;
  int schema_version = 0;     // of the plugin that checked them
  std::size_t checked = 0;    // live records checked
  std::size_t newer = 0;      // written under a newer version than this plugin's: left for it
  std::vector<RecordIssues> broken;  // those that break its rules (also kept in the store)
};

struct ReplicaStatus {
  std::string office;
  std::string replica_id;
  std::int64_t records = 0;          // live records
  std::int64_t deleted_records = 0;  // tombstones
  std::vector<TypeCount> by_type;
  std::int64_t pending_records = 0;  // records with unsent changes
  std::int64_t pending_changes = 0;  // unsent field changes
  std::int64_t set_aside_records = 0;  // refused by HQ, kept here, not in pending_records
  std::int64_t records_breaking_rules = 0;  // found so when their plugin arrived (RecordIssues)
  Hlc clock = 0;
  // The sync log (see Replica::note_sync_finished): when the last sync finished, and the last one
  // that failed (which may be older than the last success), with its reason. Unix milliseconds.
  std::optional<std::int64_t> last_sync_millis;
  std::optional<std::int64_t> last_failure_millis;
  std::string last_failure;
};

}  // namespace fieldsync
