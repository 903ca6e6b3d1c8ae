// From field states to the record a person sees, and the compact form the store keeps.
//
// Internal to core. resolve_record() is the only place that turns states into values, so the
// field replica and HQ show the same record for the same states.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/data_type.hpp"
#include "core/record.hpp"

namespace fieldsync {

// Recomputes record.fields, deleted, versions and updated from record.state, with the merge
// policies of `type` (lww for every field when the type's plugin is not installed).
//
// A record is deleted when its tombstone's latest write says so and no field was written after
// that: an edit newer than the delete revives the record (and is a conflict, see conflicts_of).
void resolve_record(Record& record, const DataType* type);

// The fields a person must look at, by `type`'s policies, and those whose merged values break a
// rule of `type` (see Conflict::broken_rule).
std::vector<Conflict> conflicts_of(const Record& record, const DataType* type);

// True when a replica other than the record's creator wrote one of its current values: the only
// way its values can break a rule of its type, each replica's own writes being checked there.
bool written_by_several_replicas(const Record& record);

// field -> {"old": value, "new": value} for every field whose shown value differs between the
// two, and kDeletedField when the record was deleted or revived: what the history keeps.
nlohmann::json describe_changes(const Record& before, const Record& after);

// Store form. A field whose state is still its creation write (version (created, creator),
// author created_by, value fields[f]) is not stored: a fresh record costs nothing extra. The
// rest: field -> field_state_to_json.
std::string stored_states(const Record& record);
// Rebuilds record.state from record.fields and the stored form, then resolves versions.
void load_states(Record& record, const nlohmann::json& stored);

// The record `change` creates, before any field: id, type, office, schema version, creation.
Record identity_of(const RecordChange& change);

// The record `change` makes when it is a record's creation and nothing else — every field one
// write at the creation's version and author, replacing nothing, each value as `type`'s policy
// shows it, none null, no tombstone — with its fields resolved; nullopt otherwise. Such a record
// stores no state beyond its fields ('{}', see stored_states) and has no conflict: what a first
// push or pull is made of, written without building field states to resolve and drop again.
std::optional<Record> record_as_created(const RecordChange& change, const DataType* type);

// The state of one field as created: one write, replacing nothing.
FieldState creation_state(const Record& record, const nlohmann::json& value);

}  // namespace fieldsync
