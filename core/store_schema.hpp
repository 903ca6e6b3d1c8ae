// The store's tables, one SQL script per schema version. Internal to core/store.cpp.
//
// Version 1 (the field replica):
//   meta      key/value settings: office, replica id, persisted clock.
//   records   one row per record: current fields (canonical JSON) and the tombstone flag. Every
//             field's version is (created_hlc, creator) unless `versions` says otherwise: it maps
//             field -> [hlc, replica] only for fields written after creation (and "_deleted" for
//             the tombstone), which keeps a freshly imported record small. A field removed by an
//             edit keeps its version there with no value.
//   outbox    one row per record with unsent local writes. `base` NULL: a new record never sent,
//             every field is new. Otherwise `base` maps each unsent field to the version its
//             first unsent write replaced (null for a field the record did not have). The changes
//             to send are the record's current values of those fields; `base` lets the receiver
//             tell a concurrent write from a later one.
//   history   every applied change after creation: who, which replica and office, when, old and
//             new values. The creation itself is the record's (created_hlc, creator, created_by);
//             its values are the current fields with every later change rolled back, so an
//             import writes one row per record, not a copy of it in the history too.
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
  versions       TEXT NOT NULL DEFAULT '{}',
  deleted        INTEGER NOT NULL DEFAULT 0,
  created_hlc    INTEGER NOT NULL,
  updated_hlc    INTEGER NOT NULL
);
CREATE INDEX records_by_type ON records(type, created_hlc);

CREATE TABLE outbox(
  record_id TEXT PRIMARY KEY,
  base      TEXT,
  first_hlc INTEGER NOT NULL
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
)SQL";

// Scripts in order: kMigrations[i] takes the store from version i to i + 1.
inline constexpr const char* kMigrations[] = {kVersion1};

}  // namespace fieldsync::store_schema
