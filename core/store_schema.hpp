// The store's tables, one SQL script per schema version. Internal to core/store.cpp.
//
// Version 1:
//   meta      key/value settings: office, replica id, role (field or hq), persisted clock, the
//             pull cursor.
//   records   one row per record: its fields as a person sees them (canonical JSON), the
//             tombstone flag, and `states`: what is known of each field written since the record
//             was created (see record_state.hpp). A field still as created is not in `states`,
//             which keeps a freshly imported record small.
//   outbox    one row per record with unsent local writes: `fields`, the JSON list of fields to
//             send, or NULL for a record never sent (all of it); `last_hlc`, the newest local
//             write, so an acknowledgement only clears what was sent before it.
//   history   every applied change after creation: who, which replica and office, when, old and
//             new values. The creation itself is the record's (created_hlc, creator, created_by);
//             its values are the current fields with every later change rolled back, so an
//             import writes one row per record, not a copy of it in the history too.
//   conflicts the fields (of records) where concurrent writes wait for a person.
//   feed      HQ only: one row per field of every record, numbered by its latest change (a
//             field's row is renumbered when it changes again), so an office pulls the fields
//             changed after its cursor and a cursor never skips a field it has not received.
//
// Version 2 (issue 11: the feed does not echo a replica's own pushes, and costs a row per record):
//   feed.origin  the replica whose push made the row's latest change, when HQ's state of the
//                field(s) after merging it is exactly what that replica sent: it already holds
//                it, so its pulls skip the row. NULL when HQ holds more than the pusher sent (a
//                concurrent write merged in), or for HQ's own writes: everybody pulls it.
//   outbox_by_time  the outbox in the order it is sent: a page is read without sorting the
//                whole outbox (100,000 rows after an import) for each page.
//   feed.field   '*' names every field of the record (a record created or received whole): one
//                row instead of one per field. A later change of one field adds that field's row.
//
// Version 3 (per-record refusals: one record HQ refuses no longer holds back the outbox):
//   set_aside    records of the outbox HQ refused for their own sake (another office's id, a type
//                HQ does not publish, values its type forbids), with HQ's reason: not sent again
//                while the record stays as it was refused (`last_hlc` is the outbox's when HQ
//                refused it). A local edit moves the outbox past it and the record goes again.
//
// Version 4 (records of a type waiting for its plugin are checked once it arrives):
//   waiting_types  the types of records stored here while no plugin of theirs was loaded: when
//                  one is loaded, its records are checked once (Replica::check_waiting_records)
//                  and the row goes.
//   record_issues  the records that broke their type's rules when checked so, with the rules
//                  (JSON [{field, rule, message}]): kept, synced, shown by `status` and `show`
//                  until a write makes them pass (or deletes them).
#pragma once

namespace fieldsync::store_schema {

inline constexpr const char* kVersion1 = R"SQL(
CREATE TABLE meta(
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE records(
  id             TEXT PRIMARY KEY,
  type           TEXT NOT NULL,
  office         TEXT NOT NULL,
  schema_version INTEGER NOT NULL,
  fields         TEXT NOT NULL,
  creator        TEXT NOT NULL,
  created_by     TEXT NOT NULL,
  states         TEXT NOT NULL DEFAULT '{}',
  deleted        INTEGER NOT NULL DEFAULT 0,
  created_hlc    INTEGER NOT NULL,
  updated_hlc    INTEGER NOT NULL
);
CREATE INDEX records_by_type ON records(type, created_hlc);

CREATE TABLE outbox(
  record_id TEXT PRIMARY KEY,
  fields    TEXT,
  last_hlc  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE history(
  seq       INTEGER PRIMARY KEY,
  record_id TEXT NOT NULL,
  hlc       INTEGER NOT NULL,
  replica   TEXT NOT NULL,
  office    TEXT NOT NULL,
  author    TEXT NOT NULL,
  origin    TEXT NOT NULL CHECK (origin IN ('local', 'remote')),
  action    TEXT NOT NULL CHECK (action IN ('edit', 'delete', 'revive')),
  changes   TEXT NOT NULL
);
CREATE INDEX history_by_record ON history(record_id, seq);

CREATE TABLE conflicts(
  record_id TEXT NOT NULL,
  field     TEXT NOT NULL,
  PRIMARY KEY(record_id, field)
) WITHOUT ROWID;

CREATE TABLE feed(
  seq       INTEGER PRIMARY KEY AUTOINCREMENT,
  record_id TEXT NOT NULL,
  field     TEXT NOT NULL,
  UNIQUE(record_id, field)
);
)SQL";

inline constexpr const char* kVersion2 = R"SQL(
ALTER TABLE feed ADD COLUMN origin TEXT;
CREATE INDEX outbox_by_time ON outbox(last_hlc, record_id);
)SQL";

inline constexpr const char* kVersion3 = R"SQL(
CREATE TABLE set_aside(
  record_id TEXT PRIMARY KEY,
  last_hlc  INTEGER NOT NULL,
  code      TEXT NOT NULL,
  reason    TEXT NOT NULL,
  at_millis INTEGER NOT NULL
) WITHOUT ROWID;
)SQL";

inline constexpr const char* kVersion4 = R"SQL(
CREATE TABLE waiting_types(
  type TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE record_issues(
  record_id TEXT PRIMARY KEY,
  type      TEXT NOT NULL,
  issues    TEXT NOT NULL,
  at_millis INTEGER NOT NULL
) WITHOUT ROWID;
)SQL";
// The feed field that stands for every field of its record (see version 2).
inline constexpr const char* kWholeRecord = "*";

// Scripts in order: kMigrations[i] takes the store from version i to i + 1.
inline constexpr const char* kMigrations[] = {kVersion1, kVersion2, kVersion3, kVersion4};

}  // namespace fieldsync::store_schema
