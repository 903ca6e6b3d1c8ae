// Merging changes from another replica (a pulled page on a laptop, a pushed page at HQ): every
// change checked first, then merged field by field (core/merge) and written in one transaction.
#include "core/replica.hpp"

#include <algorithm>

#include "core/change_check.hpp"
#include "core/error.hpp"
#include "core/json_text.hpp"
#include "core/record_json.hpp"
#include "core/record_state.hpp"
#include "core/store.hpp"
#include "core/store_schema.hpp"
#include "core/uuid.hpp"

namespace fieldsync {
namespace {

Hlc newest_version(const RecordChange& change) {
  Hlc newest = change.created.hlc;
  for (const auto& [field, state] : change.fields) {
    for (const auto& head : state.heads) newest = std::max(newest, head.version.hlc);
    for (const auto& version : state.replaced) newest = std::max(newest, version.hlc);
  }
  return newest;
}

// A record is one type of one office whatever replica speaks of it: a change saying otherwise is
// refused.
void require_same_identity(const Record& local, const RecordChange& change) {
  if (local.type != change.type || local.office != change.office) {
    throw Error(Errc::invalid_input,
                "the change says this is a " + change.type + " of office " + change.office + ", but it is a " +
                    local.type + " of office " + local.office,
                "record " + change.id);
  }
}

// The same record created on two replicas — one import file, whose lines name their ids, read on
// two laptops of an office — is two concurrent creations, not an error: refusing it would hold
// back every later page of the second laptop for good. The earlier creation version is the
// record's on every replica, whatever order the two arrive in (the least of two is the same
// either way), and every field write of both stays, merged as any concurrent writes are.
void adopt_earlier_creation(Record& record, const RecordChange& change) {
  if (!(change.created < FieldVersion{record.created, record.creator})) return;
  record.created = change.created.hlc;
  record.creator = change.created.replica;
  record.created_by = change.created_by;
}

}  // namespace

const FieldValueChecker& Replica::value_checker(const DataType& type) {
  auto& checker = value_checkers_[{type.name(), type.schema_version()}];
  if (!checker) checker = std::make_unique<FieldValueChecker>(type.schema());
  return *checker;
}

ApplySummary Replica::apply_changes(const std::vector<RecordChange>& changes, bool check,
                                    std::optional<std::int64_t> cursor, std::optional<Hlc> newest_allowed) {
  ApplyOptions options;
  options.check = check;
  options.cursor = cursor;
  options.newest_allowed = newest_allowed;
  return apply(changes, options);
}

ApplySummary Replica::apply(const std::vector<RecordChange>& changes, const ApplyOptions& options) {
  const bool check = options.check;
  const std::optional<Hlc>& newest_allowed = options.newest_allowed;
  // First every change as it stands, before the store or the clock is touched: a bad version
  // observed, even by a change refused later, would date every later write of this replica.
  const Hlc allowed = newest_allowed ? *newest_allowed : newest_allowed_at(clock_.wall_millis() + clock_.offset_millis());
  Hlc newest_seen = 0;
  for (const auto& change : changes) {
    const std::string where = "record " + change.id;
    if (uuid::canonical(change.id) != change.id) throw Error(Errc::invalid_input, "the record id is not a lower-case UUID", where);
    if (change.fields.empty()) throw Error(Errc::invalid_input, "the change carries no field", where);
    const VersionVerdict verdict = check_versions(change, allowed);
    if (verdict.fault == VersionFault::ahead) {
      throw Error(Errc::invalid_input, verdict.message + ", ahead of the clock it is checked against (" +
                                           format_hlc_time(allowed) + " at most)", where);
    }
    if (verdict.fault != VersionFault::none) throw Error(Errc::invalid_input, verdict.message, where);
    if (auto issues = check_tombstones(change); !issues.empty()) {
      throw Error(Errc::invalid_input, "the tombstone of the record holds a value", where, std::move(issues));
    }
    newest_seen = std::max(newest_seen, newest_version(change));
  }

  ApplySummary summary;
  std::vector<std::string> created_whole;  // HQ: new records held whole by their pusher (feed rows)
  std::set<std::string> waiting_types;     // of records stored without their plugin
  Store::Transaction transaction(*store_);
  clear_outbox(options.acknowledged);
  const bool listed_issues = any_record_issues();  // records that broke their rules: written, checked again
  for (std::size_t index = 0; index < changes.size(); ++index) {
    const RecordChange& change = changes[index];
    const std::string where = "record " + change.id;
    auto type = types_.find(change.type);
    if (!type) waiting_types.insert(change.type);
    // check_as_new already ran, outside the store lock, every check a new record needs.
    const bool vouched = index < options.checked_as_new.size() && options.checked_as_new[index];
    const bool absent = index < options.known_absent.size() && options.known_absent[index];
    auto existing = absent ? std::nullopt : find(change.id);
    // A new record as created, its values already checked (or HQ's, not checked here): stored
    // from its fields alone (record_as_created), as the rest of this loop would store it.
    if (!existing && (vouched || !check)) {
      if (const auto created = record_as_created(change, type.get())) {
        insert_row(*created, json_text(created->fields), "{}");
        ++summary.records_added;
        if (is_hq()) created_whole.push_back(change.id);
        continue;
      }
    }
    Record record;
    std::vector<std::string> changed;
    if (!existing) {
      record = identity_of(change);
    } else {
      require_same_identity(*existing, change);
      record = *existing;
      adopt_earlier_creation(record, change);
    }
    for (const auto& [field, state] : change.fields) {
      const FieldState& known = record.state[field];
      for (const auto& head : state.heads) {
        const auto same = std::find_if(known.heads.begin(), known.heads.end(),
                                       [&](const FieldWrite& w) { return w.version == head.version; });
        if (same != known.heads.end()) {
          // One version names one write: a re-send is fine, another value under it is not.
          if (*same != head) {
            throw Error(Errc::invalid_input,
                        "field '" + field + "' of record " + change.id + " already holds version (" +
                            std::to_string(head.version.hlc) + ", \"" + head.version.replica +
                            "\") with another value: one version names one value",
                        where, {FieldIssue{field, "version_reused", "this version was stored with another value"}});
          }
          continue;
        }
        // A new write, shown or not: it is stored, so its value must be one the field may hold.
        // The one write of a field of a new record is what the record shows, which the type's
        // check below covers whole: checked here only when the record shows something else.
        if (!existing && state.heads.size() == 1) continue;
        if (check && type && field != kDeletedField) {
          auto issues = value_checker(*type).check(field, head.value);
          if (!issues.empty()) {
            const std::string message = "a write of field '" + field + "' of the " + change.type + " record breaks " +
                                        std::to_string(issues.size()) + (issues.size() == 1 ? " rule" : " rules");
            throw Error(Errc::validation, message, where, std::move(issues));
          }
        }
      }
    }
    if (!existing) {
      record.state = change.fields;
      for (const auto& [field, state] : change.fields) changed.push_back(field);
    } else {
      for (const auto& [field, state] : change.fields) {
        if (merge_field(record.state[field], state)) changed.push_back(field);
      }
      if (changed.empty()) continue;  // nothing new: a duplicate, or what we sent coming back
      record.schema_version = std::max(record.schema_version, change.schema_version);
    }
    resolve_record(record, type.get());
    if (check && type && !(vouched && !existing)) {
      for (const auto& [field, state] : change.fields) {
        if (field == kDeletedField || state.heads.size() != 1 || existing) continue;
        const auto shown = record.fields.find(field);
        if (shown != record.fields.end() && *shown == state.heads.front().value) continue;
        auto issues = value_checker(*type).check(field, state.heads.front().value);
        if (!issues.empty()) {
          const std::string message = "a write of field '" + field + "' of the " + change.type + " record breaks " +
                                      std::to_string(issues.size()) + (issues.size() == 1 ? " rule" : " rules");
          throw Error(Errc::validation, message, where, std::move(issues));
        }
      }
      // Several replicas' valid writes may together break a rule (one moved the start of an
      // activity, another its end): that is a conflict for a person, which conflicts_of names,
      // not a refusal that would hold back the second replica's every page. A record one
      // replica alone wrote that breaks a rule is refused.
      // A record written under an older version of its type is checked as that version's
      // migration reads it (offices upgrade one by one: an office still on the old version keeps
      // syncing); under a newer one than HQ's, refused.
      auto issues = existing && written_by_several_replicas(record)
                        ? std::vector<FieldIssue>{}
                        : type->check(fields_for_type(*type, record.fields, record.schema_version, where));
      if (!issues.empty()) {
        // The count first: the issues are moved into the Error.
        const std::string message = "the " + record.type + " record would break " + std::to_string(issues.size()) +
                                    (issues.size() == 1 ? " rule" : " rules");
        throw Error(Errc::validation, message, where, std::move(issues));
      }
    }
    const std::size_t conflicts_before = existing ? conflicts_of(*existing, type.get()).size() : 0;
    if (existing) {
      save_record(record);
      const FieldWrite* newest = nullptr;
      for (const auto& field : changed) {
        const FieldWrite& head = latest_head(record.state[field]);
        if (newest == nullptr || newest->version < head.version) newest = &head;
      }
      const std::string action = existing->deleted == record.deleted ? "edit" : record.deleted ? "delete" : "revive";
      write_history(record, newest->version, newest->author, "remote", action, describe_changes(*existing, record));
      if (listed_issues) check_again(record, type.get());
      ++summary.records_changed;
    } else {
      insert_record(record);
      ++summary.records_added;
    }
    const std::size_t conflicts_after = conflicts_of(record, type.get()).size();
    if (conflicts_after > conflicts_before) summary.conflicts_opened += conflicts_after - conflicts_before;
    if (is_hq()) {
      // The pusher already holds a field as HQ now does when merging it added nothing to what it
      // sent: its own pulls skip it (store_schema.hpp, feed). A new record is held whole.
      if (!existing) {
        note_changed(record, {store_schema::kWholeRecord}, options.pushed_by);
      } else {
        std::vector<std::string> held, more;
        for (const auto& field : changed) (record.state[field] == change.fields.at(field) ? held : more).push_back(field);
        note_changed(record, held, options.pushed_by);
        note_changed(record, more);
      }
    }
  }
  note_created(created_whole, options.pushed_by);
  note_waiting_types(waiting_types);
  if (options.cursor) store_->set_meta("pull_cursor", std::to_string(*options.cursor));
  // Only now, with every change checked and written: the clock moves past what was merged, and
  // goes back if the commit fails (the next write must not save a clock nothing here justifies).
  const Hlc clock_before = clock_.last();
  clock_.observe(newest_seen);
  try {
    persist_clock();
    transaction.commit();
  } catch (...) {
    clock_.restart_at(clock_before);
    throw;
  }
  return summary;
}

std::int64_t Replica::pull_cursor() { return std::stoll(store_->meta("pull_cursor").value_or("0")); }

}  // namespace fieldsync
