#include "core/record_state.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/json_text.hpp"

namespace fieldsync {
namespace {

MergePolicy policy_of(const DataType* type, const std::string& field) {
  if (type == nullptr || field == kDeletedField) return MergePolicy::lww;
  return type->merge_policy(field);
}

bool is_creation(const Record& record, const std::string& field, const FieldState& state) {
  if (field == kDeletedField || state.heads.size() != 1 || !state.replaced.empty()) return false;
  const FieldWrite& head = state.heads.front();
  if (head.version.hlc != record.created || head.version.replica != record.creator ||
      head.author != record.created_by || head.value.is_null()) {
    return false;
  }
  const auto it = record.fields.find(field);
  return it != record.fields.end() && *it == head.value;
}

// The time of the latest write of any field but the tombstone.
FieldVersion latest_field_write(const Record& record) {
  FieldVersion latest;
  for (const auto& [field, state] : record.state) {
    if (field != kDeletedField && !state.heads.empty()) latest = std::max(latest, latest_head(state).version);
  }
  return latest;
}

}  // namespace

bool written_by_several_replicas(const Record& record) {
  for (const auto& [field, state] : record.state) {
    for (const auto& head : state.heads) {
      if (head.version.replica != record.creator) return true;
    }
  }
  return false;
}

Record identity_of(const RecordChange& change) {
  Record record;
  record.id = change.id;
  record.type = change.type;
  record.office = change.office;
  record.schema_version = change.schema_version;
  record.created = change.created.hlc;
  record.creator = change.created.replica;
  record.created_by = change.created_by;
  return record;
}

std::optional<Record> record_as_created(const RecordChange& change, const DataType* type) {
  Record record = identity_of(change);
  for (const auto& [field, state] : change.fields) {
    if (field == kDeletedField || state.heads.size() != 1 || !state.replaced.empty()) return std::nullopt;
    const FieldWrite& head = state.heads.front();
    if (head.version != change.created || head.author != change.created_by) return std::nullopt;
    nlohmann::json value = resolved_value(state, policy_of(type, field));
    // A value the policy shows otherwise (a set given unsorted) is kept as a state: not this.
    if (value.is_null() || value != head.value) return std::nullopt;
    record.fields[field] = std::move(value);
  }
  record.updated = record.created;
  record.deleted = false;
  return record;
}

FieldState creation_state(const Record& record, const nlohmann::json& value) {
  return initial_state(FieldWrite{FieldVersion{record.created, record.creator}, value, record.created_by});
}

void resolve_record(Record& record, const DataType* type) {
  record.fields = nlohmann::json::object();
  record.versions.clear();
  record.updated = record.created;
  for (const auto& [field, state] : record.state) {
    if (state.heads.empty()) continue;
    const FieldVersion& version = latest_head(state).version;
    record.versions[field] = version;
    record.updated = std::max(record.updated, version.hlc);
    if (field == kDeletedField) continue;
    nlohmann::json value = resolved_value(state, policy_of(type, field));
    if (!value.is_null()) record.fields[field] = std::move(value);
  }
  record.deleted = false;
  if (auto it = record.state.find(kDeletedField); it != record.state.end() && !it->second.heads.empty()) {
    const FieldWrite& tombstone = latest_head(it->second);
    record.deleted = tombstone.value == true && !(tombstone.version < latest_field_write(record));
  }
}

std::vector<Conflict> conflicts_of(const Record& record, const DataType* type) {
  std::vector<Conflict> out;
  for (const auto& [field, state] : record.state) {
    if (field == kDeletedField || !has_conflict(state, policy_of(type, field))) continue;
    Conflict conflict{record.id, record.type, field, latest_head(state), {}, {}};
    conflict.others.assign(state.heads.begin(), state.heads.end() - 1);
    out.push_back(std::move(conflict));
  }
  // Revived: the tombstone says deleted, yet a field was written after it.
  if (auto it = record.state.find(kDeletedField); it != record.state.end() && !it->second.heads.empty()) {
    const FieldWrite& tombstone = latest_head(it->second);
    if (tombstone.value == true && !record.deleted) {
      const FieldVersion edit = latest_field_write(record);
      Conflict conflict{record.id, record.type, kDeletedField, FieldWrite{edit, false, ""}, {tombstone}, {}};
      out.push_back(std::move(conflict));
    }
  }
  // Merged values that break a rule of the type. Only writes of several replicas can: each one's
  // own were checked where they were made (which also spares a bulk of new records the check).
  if (type != nullptr && !record.deleted && written_by_several_replicas(record)) {
    for (auto& issue : type->check(record.fields)) {
      const bool named = std::any_of(out.begin(), out.end(), [&](const Conflict& c) { return c.field == issue.field; });
      if (issue.field.empty() || named) continue;
      Conflict conflict{record.id, record.type, issue.field, {}, {}, std::move(issue.message)};
      if (auto state = record.state.find(conflict.field); state != record.state.end() && !state->second.heads.empty()) {
        conflict.shown = latest_head(state->second);
      }
      out.push_back(std::move(conflict));
    }
  }
  return out;
}

// field -> {"old", "new"} for every field whose shown value differs, and the tombstone.
nlohmann::json describe_changes(const Record& before, const Record& after) {
  nlohmann::json changes = nlohmann::json::object();
  auto value = [](const Record& r, const std::string& field) {
    auto it = r.fields.find(field);
    return it == r.fields.end() ? nlohmann::json(nullptr) : *it;
  };
  for (const auto& [field, state] : after.state) {
    if (field == kDeletedField) continue;
    const nlohmann::json old_value = value(before, field);
    const nlohmann::json new_value = value(after, field);
    if (old_value != new_value) changes[field] = {{"old", old_value}, {"new", new_value}};
  }
  if (before.deleted != after.deleted) changes[kDeletedField] = {{"old", before.deleted}, {"new", after.deleted}};
  return changes;
}

std::string stored_states(const Record& record) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& [field, state] : record.state) {
    if (!is_creation(record, field, state)) out[field] = field_state_to_json(state);
  }
  return json_text(out);
}

void load_states(Record& record, const nlohmann::json& stored) {
  record.state.clear();
  if (!stored.is_object()) throw Error(Errc::storage, "the field states of a record are not a JSON object", "record " + record.id);
  for (const auto& [field, json] : stored.items()) record.state[field] = field_state_from_json(json, field);
  for (const auto& [field, value] : record.fields.items()) {
    if (!record.state.count(field)) record.state[field] = creation_state(record, value);
  }
  record.versions.clear();
  for (const auto& [field, state] : record.state) {
    if (!state.heads.empty()) record.versions[field] = latest_head(state).version;
  }
}

}  // namespace fieldsync
