// Replica: one office's copy of the data, on one SQLite file, usable fully offline.
//
// Every write (add, edit, delete) is validated by the record's data-type plugin, stamped with
// the replica's hybrid logical clock per field, recorded in the history and queued in the outbox
// of unsent changes — all in one transaction, so a power cut leaves either all of it or none.
// A rejected write throws Error and leaves the replica exactly as it was.
//
// Records are owned by an office: this replica writes only its own office's records.
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.hpp"
#include "core/plugin_host.hpp"
#include "core/record.hpp"
#include "core/merge.hpp"

namespace fieldsync {

class Store;
class FieldValueChecker;

// One record to add in a batch (import).
struct NewRecord {
  std::optional<std::string> id;  // keep this id (any UUID); a new UUIDv7 when absent
  std::string type;
  nlohmann::json fields;
  std::string where;  // how to name it in an error: "line 12"
  // True when `fields` came from a JSON parser, which already refused invalid UTF-8: spares the
  // import a second scan of every text.
  bool utf8_checked = false;
};

// A NewRecord after validation and normalization, ready to be written (or rejected).
struct PreparedRecord {
  std::optional<std::string> id;  // canonical UUID when the input had one
  std::string type;
  int schema_version = 0;
  std::string fields_json;     // the normalized fields as canonical JSON text
  std::optional<Error> error;  // why it cannot be added
};

enum class AddOutcome { added, already_present, rejected };

struct AddResult {
  AddOutcome outcome = AddOutcome::rejected;
  std::string id;                // the record's id (empty when rejected before one was known)
  std::optional<Error> error;    // why it was rejected
};

// Unsent local changes, a page at a time, and how to acknowledge them once HQ has stored them.
struct OutboxMark {
  std::string record_id;
  Hlc last_hlc = 0;  // the newest local write of the record when the page was read
  std::size_t bytes = 0;  // about how much of its JSON the record is (see outbox_page)
};
using OutgoingSink = std::function<void(OutgoingChange&&)>;

struct OutboxPage {
  std::vector<RecordChange> changes;
  std::vector<OutboxMark> marks;
  bool more = false;  // further records wait after this page
};

// What applying remote changes did.
struct ApplySummary {
  std::size_t records_changed = 0;
  std::size_t records_added = 0;
  std::size_t conflicts_opened = 0;
};

// Changes HQ serves to one office: records changed after `cursor`, in change order.
struct FeedPage {
  std::vector<RecordChange> changes;
  std::int64_t next_cursor = 0;
  bool more = false;
};

class Replica {
 public:
  // The store's file name inside a replica home.
  static constexpr const char* kStoreFile = "replica.db";

  // Creates a new replica for `office` at `home` (the folder may exist, the store must not).
  static void create(const std::filesystem::path& home, const std::string& office);

  // Opens the replica at `home`. Throws Error(not_initialized) when there is none.
  // `types` must outlive the Replica.
  Replica(const std::filesystem::path& home, const PluginHost& types);
  ~Replica();
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  const std::string& office() const { return office_; }
  const std::string& replica_id() const { return replica_id_; }
  const std::filesystem::path& home() const { return home_; }

  // The person recorded in the history as author of local writes (default: $FIELDSYNC_USER or
  // $USER, else "unknown").
  void set_author(std::string author) { author_ = std::move(author); }

  // Adds one record of this office. Throws Error(validation) naming every broken rule.
  Record add(const std::string& type, nlohmann::json fields, std::optional<std::string> id = {});

  // Adds many records in one transaction. A rejected record does not stop the others; a record
  // whose id is already here is left alone (already_present), so a batch can be re-run.
  std::vector<AddResult> add_batch(std::vector<NewRecord> batch);

  // The two halves of add_batch, so an import can check the next batch on another thread while
  // this one is written. prepare() validates and normalizes with the type's plugin and touches
  // neither the store nor the clock: it may run on another thread while this Replica writes.
  PreparedRecord prepare(NewRecord record) const;
  std::vector<AddResult> add_prepared(std::vector<PreparedRecord> batch);

  // Changes some fields: `patch` maps field -> new value, or null to remove the field.
  // Only fields whose canonical value changes get a new version.
  Record edit(const std::string& id, const nlohmann::json& patch);

  // Deletes a record: a tombstone with its own version; the fields stay for the history.
  Record remove(const std::string& id);

  // ---- sync (see DESIGN.md, Sync protocol) ----

  // Up to `max_records` records with unsent local changes, oldest first; with `max_bytes`, also
  // no more than about that much of their JSON (at least one record).
  // With `after`, the page starts after that record of an earlier page (the next page, read while
  // the one before is still on its way to HQ).
  // With `sink`, each change is handed to it as it is read (see OutgoingChange) and the page
  // holds none: a sync encodes a page of thousands of records without holding them as objects.
  OutboxPage outbox_page(std::size_t max_records, std::size_t max_bytes = 0, const OutboxMark* after = nullptr,
                         const OutgoingSink& sink = {});
  // HQ stored these: clears them from the outbox, except records written again since.
  void acknowledge(const std::vector<OutboxMark>& marks);

  // Records HQ refused for their own sake, set aside in one transaction: outbox_page skips each
  // while its outbox entry stays as it was refused (`last_hlc`), so the rest of the outbox goes;
  // a later local write of it sends it again. Nothing of the record itself changes.
  void set_aside(const std::vector<SetAsideRecord>& records);
  // Those still set aside (not written since), oldest refusal first.
  std::vector<SetAsideRecord> set_aside_records();
  // Puts every set-aside record back in the outbox's way (HQ may accept them now: a type
  // published since, an office moved). Returns how many.
  std::size_t send_set_aside_again();

  // Merges changes from another replica into this one, in one transaction. Observes every
  // version seen, so later local writes are newer than anything merged.
  //
  // Everything a change carries is checked first (see change_check.hpp), and when anything is
  // wrong it throws and neither the store, the cursor, the outbox nor the clock changes:
  //   - every version well-formed, not before tuning::kOldestVersionMillis and not past
  //     `newest_allowed` (default: this replica's corrected clock + kMaxClockAheadMillis; a laptop
  //     passes HQ's reported time + the margin) — Error(invalid_input);
  //   - a tombstone write is true or false; a version already known here names the same write
  //     (one version, one value) — Error(invalid_input);
  //   - with `check`, every new write's value passes its field's schema (losing concurrent
  //     writes too), and every changed record still passes its type's checks — Error(validation).
  struct ApplyOptions {
    bool check = false;
    std::optional<std::int64_t> cursor;  // stored as the new pull cursor in the same transaction
    std::optional<Hlc> newest_allowed;
    // HQ: the replica that pushed the changes. What HQ then holds exactly as that replica sent
    // it is not fed back to it (its other laptops still get it).
    std::string pushed_by;
    // A laptop: the pushed page HQ answered it stored, cleared from the outbox in the same
    // transaction (see acknowledge).
    std::vector<OutboxMark> acknowledged;
    // HQ: by index into the changes, those check_as_new vouched for. Their type check is not run
    // again when the record is indeed new here.
    std::vector<bool> checked_as_new;
    // HQ: by index into the changes, those it found not in the store under the lock it holds
    // across apply() (the first change of each such id only): apply() does not look again.
    std::vector<bool> known_absent;
  };
  ApplySummary apply(const std::vector<RecordChange>& changes, const ApplyOptions& options);
  // The type checks of the changes that are records as created (one write per field, by its
  // creator), as apply() runs them on a new record: the type's, by its plugin. Reads nothing
  // from the store, so HQ runs it outside its store lock, on `threads` threads for a big page;
  // apply() then checks only what it could not vouch for.
  struct AsNewChecks {
    std::vector<bool> vouched;  // by index: passes every check of a new record
    // By index: the rules its values break, as a new record (apply() would refuse it if it is
    // new here; a record HQ already holds is merged, and apply() decides).
    std::map<std::size_t, std::vector<FieldIssue>> broken;
  };
  AsNewChecks check_as_new(const std::vector<RecordChange>& changes, unsigned threads) const;
  // apply() with check, cursor and newest_allowed only.
  ApplySummary apply_changes(const std::vector<RecordChange>& changes, bool check,
                             std::optional<std::int64_t> cursor = std::nullopt,
                             std::optional<Hlc> newest_allowed = std::nullopt);

  // ---- records of a type that waited for its plugin ----

  // Checks, once, the records stored here while no plugin of their type was loaded, for each type
  // whose plugin now is (installed since: the CLI calls this when it opens the replica, and sync
  // and watch after installing a plugin). A record that breaks its type's rules is kept and
  // synced as it is, and listed by record_issues() until a write makes it pass: nothing is
  // dropped. Returns what was found, per type checked (empty when none waited).
  std::vector<WaitingCheck> check_waiting_records();
  // The records found breaking their type's rules so, oldest check first.
  std::vector<RecordIssues> record_issues();
  std::optional<RecordIssues> record_issues(const std::string& id);

  // The sync log `status` shows: a sync that finished (everything sent and received), or one that
  // failed and why, at `at_millis` (Unix milliseconds).
  void note_sync_finished(std::int64_t at_millis);
  void note_sync_failed(std::int64_t at_millis, const std::string& reason);

  // The pull cursor this replica last stored (0 before the first pull).
  std::int64_t pull_cursor();

  // HQ: the records of `office` and of HQ changed after `cursor`, at most `max_records` and, with
  // `max_bytes`, about that much of their JSON (at least one record). With `for_replica`, what
  // that replica pushed and HQ holds exactly as it sent it is left out (it has it). With `sink`,
  // the changes go to it as they are read, as outbox_page's do, and the page holds none.
  FeedPage feed_page(const std::string& office, std::int64_t cursor, std::size_t max_records,
                     const std::string& for_replica = "", std::size_t max_bytes = 0, const OutgoingSink& sink = {});

  // Open conflicts, oldest record first.
  std::vector<Conflict> conflicts();
  // Settles a conflict with `value` (a local edit replacing every concurrent write, which syncs
  // like any edit). For the tombstone field, value true deletes the record again, false keeps it.
  Record resolve_conflict(const std::string& id_or_prefix, const std::string& field, const nlohmann::json& value);

  // The clock, for the sync layer to correct by HQ's time (see Clock::set_offset_millis).
  Clock& clock() { return clock_; }
  const Clock& clock() const { return clock_; }
  // Persists the clock offset (milliseconds to add to this laptop's wall clock).
  void set_clock_offset(std::int64_t offset_millis);
  // After HQ said this replica's clock runs ahead (its writes would win every conflict): every
  // unsent write of this replica stamped after `limit` gets the time it was really made, keeping
  // their order: `offset_millis` is the new offset (HQ's clock minus this laptop's wall clock),
  // and as those writes were stamped with the offset in effect until now, each moves by the
  // difference (corrected once, never twice). The new offset is then in effect and persisted.
  // No other replica has seen those versions, so they may change. The clock restarts from
  // `limit` or the newest version already sent, whichever is later. Returns how many versions
  // changed.
  std::size_t restamp_unsent(Hlc limit, std::int64_t offset_millis);

  // The full id of the record `id_or_prefix` names (a whole UUID, or a unique prefix of at
  // least 8 characters). Throws Error(not_found) or Error(invalid_input) when ambiguous.
  std::string resolve_id(const std::string& id_or_prefix);

  std::optional<Record> find(const std::string& id);
  // The office a record here belongs to, without reading the record.
  std::optional<std::string> office_of(const std::string& id);
  // The same for many ids in one statement (HQ checks a page's owners): id -> office of those
  // that are here; an id absent from the result is not.
  std::unordered_map<std::string, std::string> offices_of(const std::vector<std::string>& ids);
  Record get(const std::string& id_or_prefix);
  std::vector<Record> list(const ListFilter& filter);
  std::vector<HistoryEntry> history(const std::string& id_or_prefix);
  ReplicaStatus status();

  // The record's one-line summary from its plugin, or a plain one when the type is not installed.
  std::string summary(const Record& record) const;

  const PluginHost& types() const { return types_; }

 private:
  void insert_row(const Record& record, const std::string& fields_json, const std::string& states_json);
  void insert_new(const Record& record, const std::string& fields_json);
  void insert_record(const Record& record);
  void write_history(const Record& record, const FieldVersion& version, const std::string& author,
                     const std::string& origin, const std::string& action, const nlohmann::json& changes);
  void queue_outbox(const std::string& record_id, const std::vector<std::string>& fields, Hlc hlc);
  void save_record(const Record& record);
  // HQ: `fields` of `record` changed (store_schema::kWholeRecord: all of them); `origin`, when
  // not empty, is the replica that holds them exactly as HQ does now (see store_schema.hpp, feed).
  void note_changed(const Record& record, const std::vector<std::string>& fields, const std::string& origin = "");
  // note_changed(record, {kWholeRecord}, origin) for many new records in one statement: a first
  // push page is thousands, and a statement each costs more than its row.
  void note_created(const std::vector<std::string>& ids, const std::string& origin);
  void clear_outbox(const std::vector<OutboxMark>& marks);
  // The conflicts table's rows for `record`: replaced, or (a record just inserted) added.
  void refresh_conflicts(const Record& record);
  void note_conflicts(const Record& record);
  RecordChange change_of(const Record& record, const std::optional<std::vector<std::string>>& fields) const;
  // The record `id`'s change to send (`fields`, or nullopt for all of them); nothing when there is
  // no such record.
  std::optional<OutgoingChange> outgoing_change(const std::string& id, const std::optional<std::vector<std::string>>& fields);
  void persist_clock();
  Record require_writable(const std::string& id_or_prefix);
  // One local change of `values` (field -> value, null: removed). With `schema_version`, the
  // record is at that version after it (the values came through its plugin, migrated); without,
  // it stays at its own (a deletion).
  Record write_fields(Record record, const std::map<std::string, nlohmann::json>& values,
                      std::optional<int> schema_version = std::nullopt);
  // write_fields of what `fields` (the record's whole fields at `type`'s version, checked) changes
  // of what the record shows, and of `settled` (a conflict's field) even when its value stays.
  Record write_edit(Record record, const nlohmann::json& fields, const DataType& type, const std::string& settled = "");
  bool is_hq() const { return office_ == "HQ"; }
  // check_waiting_records' bookkeeping (replica_waiting.cpp): the types apply() stored records of
  // without their plugin; whether any record is listed as breaking its rules; and a record
  // written again checked again (its row goes when it passes, or is deleted).
  void note_waiting_types(const std::set<std::string>& types);
  bool any_record_issues();
  void check_again(const Record& record, const DataType* type);
  // The per-field schema check of `type` (built once per type, on first use).
  const FieldValueChecker& value_checker(const DataType& type);

  std::filesystem::path home_;
  const PluginHost& types_;
  std::unique_ptr<Store> store_;
  Clock clock_;
  std::string office_;
  std::string replica_id_;
  std::string author_;
  // By type name and schema version: HQ reloads a type when a newer version is published.
  std::map<std::pair<std::string, int>, std::unique_ptr<FieldValueChecker>> value_checkers_;
};

}  // namespace fieldsync
