// The Replica's local writes: add (one, or a batch as import does), edit, delete. Each is validated
// by its type's plugin, stamped, and lands in the tables (replica_rows.cpp) in one transaction.
#include "core/replica.hpp"

#include <algorithm>

#include "core/change_check.hpp"
#include "core/error.hpp"
#include "core/record_json.hpp"
#include "core/record_state.hpp"
#include "core/store.hpp"
#include "core/text.hpp"
#include "core/tuning.hpp"
#include "core/uuid.hpp"

namespace fieldsync {
namespace {

std::string count_rules(std::size_t n) { return std::to_string(n) + (n == 1 ? " rule" : " rules"); }


}  // namespace

PreparedRecord Replica::prepare(NewRecord item) const {
  PreparedRecord prepared;
  prepared.type = item.type;
  try {
    if (item.id) {
      prepared.id = uuid::canonical(*item.id);
      if (!prepared.id) {
        throw Error(Errc::invalid_input, "the id '" + *item.id + "' is not a UUID", item.where,
                    {FieldIssue{"id", "uuid", "must be a UUID like 0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"}});
      }
    }
    const std::string where = !item.where.empty() ? item.where
                              : prepared.id       ? "record " + *prepared.id
                                                  : "new " + item.type;
    auto type = types_.require(item.type);
    if (!item.fields.is_object()) {
      throw Error(Errc::invalid_input, "the record's fields must be a JSON object", where);
    }
    if (!item.utf8_checked) require_valid_utf8(item.fields, where);
    const nlohmann::json fields = type->normalize(std::move(item.fields));
    auto issues = type->check(fields);
    if (!issues.empty()) {
      const std::string message = "the " + item.type + " record breaks " + count_rules(issues.size());
      throw Error(Errc::validation, message, where, std::move(issues));
    }
    prepared.schema_version = type->schema_version();
    prepared.fields_json = fields.dump();
  } catch (const Error& e) {
    if (e.code() == Errc::storage || e.code() == Errc::internal) throw;
    prepared.error = e;
  }
  return prepared;
}

// Writes new values of some fields (null: remove) as one local change: each field's state is
// written over, the record resolved again, and the change recorded, queued and fed.
Record Replica::write_fields(Record record, const std::map<std::string, nlohmann::json>& values,
                             std::optional<int> schema_version) {
  const Record before = record;
  const Hlc hlc = clock_.now();
  const FieldVersion version{hlc, replica_id_};
  std::vector<std::string> fields;
  for (const auto& [field, value] : values) {
    auto it = record.state.find(field);
    const FieldState current = it == record.state.end() ? FieldState{} : it->second;
    record.state[field] = write_over(current, FieldWrite{version, value, author_});
    fields.push_back(field);
  }
  if (schema_version) record.schema_version = *schema_version;
  const auto type = types_.find(record.type);
  resolve_record(record, type.get());
  save_record(record);
  if (any_record_issues()) check_again(record, type.get());
  const std::string action = before.deleted == record.deleted ? "edit" : record.deleted ? "delete" : "revive";
  write_history(record, version, author_, "local", action, describe_changes(before, record));
  queue_outbox(record.id, fields, hlc);
  note_changed(record, fields);
  persist_clock();
  return record;
}

Record Replica::add(const std::string& type, nlohmann::json fields, std::optional<std::string> id) {
  std::vector<NewRecord> batch;
  batch.push_back(NewRecord{std::move(id), type, std::move(fields), ""});
  AddResult result = std::move(add_batch(std::move(batch)).front());
  if (result.outcome == AddOutcome::rejected) throw *result.error;
  if (result.outcome == AddOutcome::already_present) {
    throw Error(Errc::already_exists, "a record with this id is already here", "record " + result.id);
  }
  return *find(result.id);
}

std::vector<AddResult> Replica::add_batch(std::vector<NewRecord> batch) {
  std::vector<PreparedRecord> prepared;
  prepared.reserve(batch.size());
  for (auto& item : batch) prepared.push_back(prepare(std::move(item)));
  return add_prepared(std::move(prepared));
}

std::vector<AddResult> Replica::add_prepared(std::vector<PreparedRecord> batch) {
  std::vector<AddResult> results;
  results.reserve(batch.size());
  Store::Transaction transaction(*store_);
  for (auto& item : batch) {
    AddResult result;
    if (item.id) {
      result.id = *item.id;
      // A record already here is left alone, valid or not: re-running an import changes nothing.
      Query exists = store_->query("SELECT 1 FROM records WHERE id = ?1");
      exists.bind(1, *item.id);
      if (exists.step()) {
        result.outcome = AddOutcome::already_present;
        results.push_back(std::move(result));
        continue;
      }
    }
    if (item.error) {
      result.outcome = AddOutcome::rejected;
      result.error = std::move(item.error);
      results.push_back(std::move(result));
      continue;
    }
    const Hlc hlc = clock_.now();
    Record record;
    record.id = item.id ? *item.id : uuid::v7(hlc_millis(hlc));
    record.type = std::move(item.type);
    record.office = office_;
    record.schema_version = item.schema_version;
    // Every field's version is the creation version (created, creator): nothing to spell out.
    record.created = record.updated = hlc;
    record.creator = replica_id_;
    record.created_by = author_;
    insert_new(record, item.fields_json);
    result.id = record.id;
    result.outcome = AddOutcome::added;
    results.push_back(std::move(result));
  }
  persist_clock();
  transaction.commit();
  return results;
}

Record Replica::require_writable(const std::string& id_or_prefix) {
  Record record = get(id_or_prefix);
  if (record.office != office_) {
    throw Error(Errc::invalid_input,
                "this record belongs to office " + record.office + "; office " + office_ + " cannot change it",
                "record " + record.id);
  }
  if (record.deleted) {
    throw Error(Errc::invalid_input, "this record is deleted", "record " + record.id);
  }
  return record;
}

Record Replica::edit(const std::string& id_or_prefix, const nlohmann::json& patch) {
  Store::Transaction transaction(*store_);
  Record record = require_writable(id_or_prefix);
  const std::string where = "record " + record.id;
  if (!patch.is_object() || patch.empty()) {
    throw Error(Errc::invalid_input, "an edit needs at least one field=value", where);
  }
  require_valid_utf8(patch, where);
  auto type = types_.find(record.type);
  if (!type) {
    throw Error(Errc::not_found, "the data type '" + record.type + "' is not installed here, so its records cannot be edited",
                where);
  }
  // A record written under an older version of its plugin is migrated first (the migration is
  // part of this edit); one written under a newer version is refused, kept as it is.
  nlohmann::json fields = fields_for_type(*type, record.fields, record.schema_version, where);
  for (const auto& [field, value] : patch.items()) {
    if (value.is_null()) {
      fields.erase(field);
    } else {
      fields[field] = value;
    }
  }
  fields = type->normalize(std::move(fields));
  auto issues = type->check(fields);
  if (!issues.empty()) {
    const std::string message = "the edit breaks " + count_rules(issues.size()) + " of " + record.type;
    throw Error(Errc::validation, message, where, std::move(issues));
  }
  Record written = write_edit(std::move(record), fields, *type);
  transaction.commit();
  return written;
}

Record Replica::write_edit(Record record, const nlohmann::json& fields, const DataType& type, const std::string& settled) {
  std::map<std::string, nlohmann::json> values;
  for (const auto& [field, old_value] : record.fields.items()) {
    if (!fields.contains(field)) values[field] = nullptr;
  }
  for (const auto& [field, new_value] : fields.items()) {
    auto it = record.fields.find(field);
    if (it == record.fields.end() || *it != new_value) values[field] = new_value;
  }
  if (!settled.empty()) values[settled] = fields.contains(settled) ? fields[settled] : nlohmann::json(nullptr);
  if (values.empty()) return record;  // nothing changed: no version, no history, nothing to send
  return write_fields(std::move(record), values, type.schema_version());
}

Record Replica::remove(const std::string& id_or_prefix) {
  Store::Transaction transaction(*store_);
  Record record = write_fields(require_writable(id_or_prefix), {{kDeletedField, true}});
  transaction.commit();
  return record;
}

}  // namespace fieldsync
