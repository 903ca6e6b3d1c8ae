// The Replica's side of sync: the outbox, applying remote changes, HQ's feed, conflicts.
#include <algorithm>
#include <set>

#include "core/change_check.hpp"
#include "core/error.hpp"
#include "core/record_json.hpp"
#include "core/record_state.hpp"
#include "core/replica.hpp"
#include "core/store.hpp"
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

void require_same_identity(const Record& local, const RecordChange& change) {
  const std::string where = "record " + change.id;
  if (local.type != change.type || local.office != change.office) {
    throw Error(Errc::invalid_input,
                "the change says this is a " + change.type + " of office " + change.office + ", but it is a " +
                    local.type + " of office " + local.office,
                where);
  }
  if (local.created != change.created.hlc || local.creator != change.created.replica) {
    throw Error(Errc::invalid_input, "the change gives another creation version for this record", where);
  }
}

}  // namespace

RecordChange Replica::change_of(const Record& record, const std::optional<std::vector<std::string>>& fields) const {
  RecordChange change{record.id,     record.type, record.office, record.schema_version,
                      FieldVersion{record.created, record.creator}, record.created_by, {}};
  if (!fields) {
    change.fields = record.state;
  } else {
    for (const auto& field : *fields) {
      if (auto it = record.state.find(field); it != record.state.end()) change.fields.insert(*it);
    }
  }
  return change;
}

OutboxPage Replica::outbox_page(std::size_t max_records) {
  OutboxPage page;
  Query q = store_->query("SELECT record_id, fields, last_hlc FROM outbox ORDER BY last_hlc, record_id LIMIT ?1");
  q.bind(1, static_cast<std::int64_t>(max_records + 1));
  std::vector<std::tuple<std::string, std::optional<std::vector<std::string>>, Hlc>> rows;
  while (q.step()) {
    std::optional<std::vector<std::string>> fields;
    if (!q.is_null(1)) fields = nlohmann::json::parse(q.text(1)).get<std::vector<std::string>>();
    rows.emplace_back(q.text(0), std::move(fields), static_cast<Hlc>(q.integer(2)));
  }
  if (rows.size() > max_records) {
    page.more = true;
    rows.resize(max_records);
  }
  for (auto& [id, fields, last_hlc] : rows) {
    auto record = find(id);
    if (!record) throw Error(Errc::internal, "the outbox names a record that is not in the store", "record " + id);
    page.changes.push_back(change_of(*record, fields));
    page.marks.push_back(OutboxMark{id, last_hlc});
  }
  return page;
}

void Replica::acknowledge(const std::vector<OutboxMark>& marks) {
  Store::Transaction transaction(*store_);
  Hlc sent = std::stoull(store_->meta("sent_clock").value_or("0"));
  for (const auto& mark : marks) {
    sent = std::max(sent, mark.last_hlc);
    // A record written again while the page was on its way stays queued (with all its fields).
    store_->query("DELETE FROM outbox WHERE record_id = ?1 AND last_hlc <= ?2")
        .bind(1, mark.record_id)
        .bind(2, static_cast<std::int64_t>(mark.last_hlc))
        .run();
  }
  // The newest version HQ has from us: a clock restarted after a skew must stay past it.
  store_->set_meta("sent_clock", std::to_string(sent));
  transaction.commit();
}

const FieldValueChecker& Replica::value_checker(const DataType& type) {
  auto& checker = value_checkers_[type.name()];
  if (!checker) checker = std::make_unique<FieldValueChecker>(type.schema());
  return *checker;
}

ApplySummary Replica::apply_changes(const std::vector<RecordChange>& changes, bool check,
                                    std::optional<std::int64_t> cursor, std::optional<Hlc> newest_allowed) {
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
  Store::Transaction transaction(*store_);
  for (const auto& change : changes) {
    const std::string where = "record " + change.id;
    auto type = types_.find(change.type);
    auto existing = find(change.id);
    Record record;
    std::vector<std::string> changed;
    if (!existing) {
      record.id = change.id;
      record.type = change.type;
      record.office = change.office;
      record.schema_version = change.schema_version;
      record.created = change.created.hlc;
      record.creator = change.created.replica;
      record.created_by = change.created_by;
    } else {
      require_same_identity(*existing, change);
      record = *existing;
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
    if (check && type) {
      auto issues = type->check(record.fields);
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
      ++summary.records_changed;
    } else {
      insert_record(record);
      ++summary.records_added;
    }
    const std::size_t conflicts_after = conflicts_of(record, type.get()).size();
    if (conflicts_after > conflicts_before) summary.conflicts_opened += conflicts_after - conflicts_before;
    note_changed(record, changed);
  }
  if (cursor) store_->set_meta("pull_cursor", std::to_string(*cursor));
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

FeedPage Replica::feed_page(const std::string& office, std::int64_t cursor, std::size_t max_records) {
  FeedPage page;
  page.next_cursor = cursor;
  // Walk the changed fields in change order until the page holds max_records records. Every
  // field of those records changed after the cursor goes out, so no record arrives in halves,
  // and the new cursor is the last field walked: nothing at or below it is left unsent.
  std::vector<std::string> ids;
  {
    Query q = store_->query(
        "SELECT f.seq, f.record_id FROM feed f JOIN records r ON r.id = f.record_id "
        "WHERE f.seq > ?1 AND (r.office = ?2 OR r.office = 'HQ') ORDER BY f.seq");
    q.bind(1, cursor).bind(2, office);
    while (q.step()) {
      std::string id = q.text(1);
      if (std::find(ids.begin(), ids.end(), id) == ids.end()) {
        if (ids.size() == max_records) {
          page.more = true;
          break;
        }
        ids.push_back(std::move(id));
      }
      page.next_cursor = q.integer(0);
    }
  }
  for (const auto& id : ids) {
    std::vector<std::string> fields;
    Query q = store_->query("SELECT field FROM feed WHERE record_id = ?1 AND seq > ?2");
    q.bind(1, id).bind(2, cursor);
    while (q.step()) fields.push_back(q.text(0));
    if (auto record = find(id)) page.changes.push_back(change_of(*record, fields));
  }
  return page;
}

std::vector<Conflict> Replica::conflicts() {
  std::vector<std::pair<std::string, std::string>> open;
  {
    Query q = store_->query("SELECT record_id, field FROM conflicts ORDER BY record_id, field");
    while (q.step()) open.emplace_back(q.text(0), q.text(1));
  }
  std::vector<Conflict> out;
  for (const auto& [id, field] : open) {
    auto record = find(id);
    if (!record) continue;
    for (auto& conflict : conflicts_of(*record, types_.find(record->type).get())) {
      if (conflict.field == field) out.push_back(std::move(conflict));
    }
  }
  return out;
}

Record Replica::resolve_conflict(const std::string& id_or_prefix, const std::string& field, const nlohmann::json& value) {
  Store::Transaction transaction(*store_);
  Record record = get(id_or_prefix);
  const std::string where = "record " + record.id;
  if (record.office != office_) {
    throw Error(Errc::invalid_input, "this record belongs to office " + record.office + ": its conflicts are settled there", where);
  }
  auto type = types_.find(record.type);
  const auto open = conflicts_of(record, type.get());
  if (std::none_of(open.begin(), open.end(), [&](const Conflict& c) { return c.field == field; })) {
    throw Error(Errc::not_found, "no open conflict on field '" + field + "'", where);
  }
  nlohmann::json settled = value;
  if (field == kDeletedField) {
    if (!value.is_boolean()) throw Error(Errc::invalid_input, "a revived record is settled with true (delete) or false (keep)", where);
  } else {
    if (!type) throw Error(Errc::not_found, "the data type '" + record.type + "' is not installed here", where);
    require_valid_utf8(value, where);
    nlohmann::json fields = record.fields;
    fields[field] = value;
    fields = type->normalize(std::move(fields));
    auto issues = type->check(fields);
    if (!issues.empty()) throw Error(Errc::validation, "the chosen value breaks the rules of " + record.type, where, std::move(issues));
    settled = fields.contains(field) ? fields[field] : nlohmann::json(nullptr);
  }
  Record written = write_fields(std::move(record), {{field, settled}});
  transaction.commit();
  return written;
}

std::size_t Replica::restamp_unsent(Hlc limit, std::int64_t offset_millis) {
  Store::Transaction transaction(*store_);
  const Hlc sent = std::stoull(store_->meta("sent_clock").value_or("0"));
  // The unsent writes were stamped with the offset in effect until now (a sync sets it, and
  // they were made after the last one); they move by the difference only. Adding the whole new
  // offset would correct a second time what that offset had already corrected.
  const std::int64_t shift = offset_millis - clock_.offset_millis();
  const Hlc clock_before = clock_.last();
  const std::int64_t offset_before = clock_.offset_millis();
  clock_.restart_at(std::max(limit, sent));
  clock_.set_offset_millis(offset_millis);
  // A failed restamp leaves the store as it was; the clock too.
  std::size_t restamped = 0;
  try {
    std::vector<std::string> ids;
    {
      Query q = store_->query("SELECT record_id FROM outbox ORDER BY last_hlc");
      while (q.step()) ids.push_back(q.text(0));
    }
    auto shifted = [&](Hlc hlc) {
      const std::int64_t ms = static_cast<std::int64_t>(hlc_millis(hlc)) + shift;
      return make_hlc(static_cast<std::uint64_t>(std::max<std::int64_t>(ms, 1)), hlc_counter(hlc));
    };
    for (const auto& id : ids) {
      auto found = find(id);
      if (!found) continue;
      Record record = std::move(*found);
      auto ours = [&](const FieldVersion& v) { return v.replica == replica_id_; };
      std::vector<FieldVersion> late;  // our versions stamped after `limit`
      std::set<Hlc> kept;              // our other versions in this record: new stamps must not repeat them
      auto sort_in = [&](const FieldVersion& v) {
        if (!ours(v)) return;
        if (v.hlc > limit) {
          late.push_back(v);
        } else {
          kept.insert(v.hlc);
        }
      };
      sort_in(FieldVersion{record.created, record.creator});
      for (const auto& [field, state] : record.state) {
        for (const auto& head : state.heads) sort_in(head.version);
        for (const auto& version : state.replaced) sort_in(version);
      }
      if (late.empty()) continue;
      std::sort(late.begin(), late.end());
      late.erase(std::unique(late.begin(), late.end()), late.end());
      std::map<FieldVersion, FieldVersion> renamed;
      Hlc previous = 0;
      for (const auto& version : late) {
        Hlc next = std::max(shifted(version.hlc), previous + 1);  // same order as before, all distinct
        while (kept.count(next)) ++next;
        renamed[version] = FieldVersion{next, replica_id_};
        previous = next;
      }
      auto rename = [&](FieldVersion& v) {
        if (auto it = renamed.find(v); it != renamed.end()) v = it->second;
      };
      FieldVersion created{record.created, record.creator};
      const bool creation_restamped = renamed.count(created) != 0;
      rename(created);
      for (auto& [field, state] : record.state) {
        for (auto& head : state.heads) rename(head.version);
        for (auto& version : state.replaced) rename(version);
        std::sort(state.heads.begin(), state.heads.end(), [](const FieldWrite& a, const FieldWrite& b) { return a.version < b.version; });
        std::sort(state.replaced.begin(), state.replaced.end());
      }
      record.created = created.hlc;
      resolve_record(record, types_.find(record.type).get());
      save_record(record);
      if (creation_restamped) {
        store_->query("UPDATE records SET created_hlc = ?2 WHERE id = ?1")
            .bind(1, record.id)
            .bind(2, static_cast<std::int64_t>(record.created))
            .run();
      }
      store_->query("UPDATE outbox SET last_hlc = ?2 WHERE record_id = ?1")
          .bind(1, record.id)
          .bind(2, static_cast<std::int64_t>(record.updated))
          .run();
      restamped += renamed.size();
    }
    persist_clock();
    store_->set_meta("clock_offset", std::to_string(offset_millis));
    transaction.commit();
  } catch (...) {
    clock_.restart_at(clock_before);
    clock_.set_offset_millis(offset_before);
    throw;
  }
  return restamped;
}

void Replica::set_clock_offset(std::int64_t offset_millis) {
  clock_.set_offset_millis(offset_millis);
  store_->set_meta("clock_offset", std::to_string(offset_millis));
}

}  // namespace fieldsync
