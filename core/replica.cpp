#include "core/replica.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include "core/change_check.hpp"
#include "core/error.hpp"
#include "core/json_walk.hpp"
#include "core/record_json.hpp"
#include "core/record_state.hpp"
#include "core/store.hpp"
#include "core/text.hpp"
#include "core/tuning.hpp"
#include "core/uuid.hpp"

namespace fieldsync {
namespace {

constexpr const char* kRecordColumns =
    "id, type, office, schema_version, fields, states, deleted, created_hlc, updated_hlc, creator, created_by";

bool is_office_code(const std::string& office) {
  if (office == "HQ") return true;
  return office.size() == 3 &&
         std::all_of(office.begin(), office.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

std::string default_author() {
  for (const char* variable : {"FIELDSYNC_USER", "USER", "LOGNAME"}) {
    const char* value = std::getenv(variable);
    if (value != nullptr && *value != '\0' && text::is_valid_utf8(value)) return value;
  }
  return "unknown";
}

Record read_record(const Query& q) {
  Record record;
  record.id = q.text(0);
  record.type = q.text(1);
  record.office = q.text(2);
  record.schema_version = static_cast<int>(q.integer(3));
  record.fields = nlohmann::json::parse(q.text(4));
  record.deleted = q.integer(6) != 0;
  record.created = static_cast<Hlc>(q.integer(7));
  record.updated = static_cast<Hlc>(q.integer(8));
  record.creator = q.text(9);
  record.created_by = q.text(10);
  load_states(record, nlohmann::json::parse(q.text(5)));
  return record;
}

// Every string value of a record (top level and inside arrays), for search. Iterative.
void collect_text(const nlohmann::json& value, std::string& out) {
  json_walk::for_each_text(value, [&out](const std::string& text, bool is_key, const std::string&) {
    if (!is_key) {
      out += text;
      out += '\n';
    }
    return true;
  });
}

// "1 rule", "3 rules". (Built before the issues are moved into the Error.)
std::string count_rules(std::size_t n) { return std::to_string(n) + (n == 1 ? " rule" : " rules"); }

bool is_field_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

void Replica::create(const std::filesystem::path& home, const std::string& office) {
  if (!is_office_code(office)) {
    throw Error(Errc::invalid_input,
                "office code '" + office + "' is not valid: use an ISO 3166-1 alpha-3 code such as NER, AFG, SOM, PSE (or HQ)");
  }
  std::error_code ec;
  std::filesystem::create_directories(home / "plugins", ec);
  if (ec) throw Error(Errc::storage, "cannot create the replica folder: " + ec.message(), home.string());
  Store store(home / kStoreFile, Store::Mode::create_new);
  Store::Transaction transaction(store);
  store.set_meta("office", office);
  store.set_meta("replica_id", uuid::random_hex(8));
  store.set_meta("clock", "0");
  store.set_meta("role", office == "HQ" ? "hq" : "field");
  transaction.commit();
}

Replica::Replica(const std::filesystem::path& home, const PluginHost& types)
    : home_(home), types_(types), author_(default_author()) {
  try {
    store_ = std::make_unique<Store>(home / kStoreFile, Store::Mode::open_existing);
  } catch (const Error& e) {
    if (e.code() != Errc::not_initialized) throw;
    throw Error(Errc::not_initialized, "no replica here: run `fieldsync init --office CODE` first", home.string());
  }
  auto office = store_->meta("office");
  auto replica_id = store_->meta("replica_id");
  auto clock = store_->meta("clock");
  if (!office || !replica_id || !clock) {
    throw Error(Errc::not_initialized, "the replica store is incomplete (init did not finish): remove it and run `fieldsync init` again", store_->file().string());
  }
  office_ = *office;
  replica_id_ = *replica_id;
  clock_ = Clock(std::stoull(*clock));
  if (auto offset = store_->meta("clock_offset")) clock_.set_offset_millis(std::stoll(*offset));
}

Replica::~Replica() = default;

void Replica::persist_clock() { store_->set_meta("clock", std::to_string(clock_.last())); }

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

void Replica::insert_row(const Record& record, const std::string& fields_json, const std::string& states_json) {
  Query q = store_->query("INSERT INTO records(id, type, office, schema_version, fields, states, creator, created_by, "
                          "deleted, created_hlc, updated_hlc) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)");
  q.bind(1, record.id)
      .bind(2, record.type)
      .bind(3, record.office)
      .bind(4, std::int64_t{record.schema_version})
      .bind(5, fields_json)
      .bind(6, states_json)
      .bind(7, record.creator)
      .bind(8, record.created_by)
      .bind(9, std::int64_t{record.deleted ? 1 : 0})
      .bind(10, static_cast<std::int64_t>(record.created))
      .bind(11, static_cast<std::int64_t>(record.updated))
      .run();
}

void Replica::insert_new(const Record& record, const std::string& fields_json) {
  // Every field as created: nothing in `states`, no history row (see store_schema.hpp).
  insert_row(record, fields_json, "{}");
  Query outbox = store_->query("INSERT INTO outbox(record_id, fields, last_hlc) VALUES(?1, NULL, ?2)");
  outbox.bind(1, record.id).bind(2, static_cast<std::int64_t>(record.created)).run();
  if (is_hq()) {
    std::vector<std::string> fields;
    const nlohmann::json parsed = nlohmann::json::parse(fields_json);
    for (const auto& [field, value] : parsed.items()) fields.push_back(field);
    note_changed(record, fields);
  }
}

void Replica::insert_record(const Record& record) {
  insert_row(record, record.fields.dump(), stored_states(record));
  refresh_conflicts(record);
}

void Replica::refresh_conflicts(const Record& record) {
  store_->query("DELETE FROM conflicts WHERE record_id = ?1").bind(1, record.id).run();
  for (const auto& conflict : conflicts_of(record, types_.find(record.type).get())) {
    store_->query("INSERT INTO conflicts(record_id, field) VALUES(?1, ?2)").bind(1, record.id).bind(2, conflict.field).run();
  }
}

void Replica::note_changed(const Record& record, const std::vector<std::string>& fields) {
  if (!is_hq()) return;
  for (const auto& field : fields) {
    // REPLACE drops the field's old row; AUTOINCREMENT numbers the new one after every other.
    store_->query("INSERT OR REPLACE INTO feed(record_id, field) VALUES(?1, ?2)").bind(1, record.id).bind(2, field).run();
  }
}

void Replica::save_record(const Record& record) {
  Query q = store_->query("UPDATE records SET schema_version = ?2, fields = ?3, states = ?4, deleted = ?5, "
                          "updated_hlc = ?6 WHERE id = ?1");
  q.bind(1, record.id)
      .bind(2, std::int64_t{record.schema_version})
      .bind(3, record.fields.dump())
      .bind(4, stored_states(record))
      .bind(5, std::int64_t{record.deleted ? 1 : 0})
      .bind(6, static_cast<std::int64_t>(record.updated))
      .run();
  refresh_conflicts(record);
}

void Replica::write_history(const Record& record, const FieldVersion& version, const std::string& author,
                            const std::string& origin, const std::string& action, const nlohmann::json& changes) {
  Query q = store_->query("INSERT INTO history(record_id, hlc, replica, office, author, origin, action, changes) "
                          "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
  q.bind(1, record.id)
      .bind(2, static_cast<std::int64_t>(version.hlc))
      .bind(3, version.replica)
      .bind(4, record.office)  // only the owning office writes a record
      .bind(5, author)
      .bind(6, origin)
      .bind(7, action)
      .bind(8, changes.dump())
      .run();
}

void Replica::queue_outbox(const std::string& record_id, const std::vector<std::string>& fields, Hlc hlc) {
  std::optional<nlohmann::json> listed = nlohmann::json(fields);
  {
    Query q = store_->query("SELECT fields FROM outbox WHERE record_id = ?1");
    q.bind(1, record_id);
    if (q.step()) {
      if (q.is_null(0)) {
        listed.reset();  // never sent: the whole record goes out anyway
      } else {
        std::vector<std::string> merged = nlohmann::json::parse(q.text(0)).get<std::vector<std::string>>();
        merged.insert(merged.end(), fields.begin(), fields.end());
        std::sort(merged.begin(), merged.end());
        merged.erase(std::unique(merged.begin(), merged.end()), merged.end());
        listed = nlohmann::json(merged);
      }
    }
  }
  Query q = store_->query("INSERT INTO outbox(record_id, fields, last_hlc) VALUES(?1, ?2, ?3) "
                          "ON CONFLICT(record_id) DO UPDATE SET fields = excluded.fields, last_hlc = excluded.last_hlc");
  q.bind(1, record_id);
  if (listed) {
    q.bind(2, listed->dump());
  } else {
    q.bind_null(2);
  }
  q.bind(3, static_cast<std::int64_t>(hlc)).run();
}

// Writes new values of some fields (null: remove) as one local change: each field's state is
// written over, the record resolved again, and the change recorded, queued and fed.
Record Replica::write_fields(Record record, const std::map<std::string, nlohmann::json>& values) {
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
  if (auto type = types_.find(record.type)) record.schema_version = type->schema_version();
  resolve_record(record, types_.find(record.type).get());
  save_record(record);
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
  nlohmann::json fields = record.schema_version < type->schema_version()
                              ? type->migrate(record.fields, record.schema_version)
                              : record.fields;
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

  std::map<std::string, nlohmann::json> values;
  for (const auto& [field, old_value] : record.fields.items()) {
    if (!fields.contains(field)) values[field] = nullptr;
  }
  for (const auto& [field, new_value] : fields.items()) {
    auto it = record.fields.find(field);
    if (it == record.fields.end() || *it != new_value) values[field] = new_value;
  }
  if (values.empty()) return record;  // nothing changed: no version, no history, nothing to send
  Record written = write_fields(std::move(record), values);
  transaction.commit();
  return written;
}

Record Replica::remove(const std::string& id_or_prefix) {
  Store::Transaction transaction(*store_);
  Record record = write_fields(require_writable(id_or_prefix), {{kDeletedField, true}});
  transaction.commit();
  return record;
}

std::string Replica::resolve_id(const std::string& id_or_prefix) {
  if (auto canonical = uuid::canonical(id_or_prefix)) return *canonical;
  std::string prefix = id_or_prefix;
  std::transform(prefix.begin(), prefix.end(), prefix.begin(), [](unsigned char c) { return std::tolower(c); });
  const bool looks_like_id = prefix.size() >= tuning::kMinIdPrefix && prefix.size() < 36 &&
                             std::all_of(prefix.begin(), prefix.end(), [](char c) {
                               return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-';
                             });
  if (!looks_like_id) {
    throw Error(Errc::invalid_input, "'" + id_or_prefix + "' is not a record id (a UUID, or its first 8 or more characters)");
  }
  Query q = store_->query("SELECT id FROM records WHERE id >= ?1 AND id < ?1 || '~' ORDER BY id LIMIT 2");
  q.bind(1, prefix);
  std::vector<std::string> matches;
  while (q.step()) matches.push_back(q.text(0));
  if (matches.empty()) throw Error(Errc::not_found, "no record with this id", "record " + id_or_prefix);
  if (matches.size() > 1) {
    throw Error(Errc::invalid_input, "more than one record starts with '" + id_or_prefix + "': give more of the id");
  }
  return matches.front();
}

std::optional<Record> Replica::find(const std::string& id) {
  Query q = store_->query(std::string("SELECT ") + kRecordColumns + " FROM records WHERE id = ?1");
  q.bind(1, id);
  if (!q.step()) return std::nullopt;
  return read_record(q);
}

Record Replica::get(const std::string& id_or_prefix) {
  const std::string id = resolve_id(id_or_prefix);
  auto record = find(id);
  if (!record) throw Error(Errc::not_found, "no record with this id", "record " + id);
  return *record;
}

std::vector<Record> Replica::list(const ListFilter& filter) {
  std::string sql = std::string("SELECT ") + kRecordColumns + " FROM records WHERE 1";
  if (filter.type) sql += " AND type = ?1";
  if (!filter.include_deleted) sql += " AND deleted = 0";
  if (filter.changed_since_millis) sql += " AND updated_hlc >= ?2";
  int next = 3;
  struct Bound {
    int index;
    std::string text;
    std::optional<std::int64_t> integer;
    std::optional<double> real;
  };
  std::vector<Bound> bounds;
  for (const auto& [field, raw_value] : filter.where) {
    if (!is_field_name(field)) {
      throw Error(Errc::invalid_input, "--where: '" + field + "' is not a field name");
    }
    require_valid_utf8(nlohmann::json(raw_value), "--where " + field);
    Bound bound{next, text::normalize(raw_value), std::nullopt, std::nullopt};
    if (field == "office" || field == "type" || field == "id") {
      sql += " AND " + field + " = ?" + std::to_string(next);
      next += 1;
    } else {
      std::int64_t integer = 0;
      const auto& s = bound.text;
      if (auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), integer); ec == std::errc() && ptr == s.data() + s.size()) {
        bound.integer = integer;
      } else {
        char* end = nullptr;
        const double real = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size()) bound.real = real;
      }
      const std::string i = std::to_string(next);
      sql += " AND EXISTS (SELECT 1 FROM json_each(records.fields, ?" + i + ") WHERE value = ?" +
             std::to_string(next + 1) + " OR value = ?" + std::to_string(next + 2) + ")";
      next += 3;
    }
    bounds.push_back(std::move(bound));
  }
  sql += " ORDER BY created_hlc DESC, id";

  Query q = store_->query(sql);
  if (filter.type) q.bind(1, *filter.type);
  if (filter.changed_since_millis) {
    q.bind(2, static_cast<std::int64_t>(make_hlc(static_cast<std::uint64_t>(std::max<std::int64_t>(0, *filter.changed_since_millis)), 0)));
  }
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    const Bound& b = bounds[i];
    const std::string& field = filter.where[i].first;
    if (field == "office" || field == "type" || field == "id") {
      q.bind(b.index, b.text);
      continue;
    }
    q.bind(b.index, "$." + field);
    if (b.integer) {
      q.bind(b.index + 1, *b.integer);
    } else if (b.real) {
      q.bind(b.index + 1, *b.real);
    } else {
      q.bind_null(b.index + 1);
    }
    q.bind(b.index + 2, b.text);
  }

  std::optional<std::string> needle;
  if (filter.search) {
    require_valid_utf8(nlohmann::json(*filter.search), "--search");
    needle = text::fold_for_search(text::trim(*filter.search));
  }
  std::vector<Record> out;
  while (q.step()) {
    Record record = read_record(q);
    if (needle && !needle->empty()) {
      std::string haystack;
      collect_text(record.fields, haystack);
      if (text::fold_for_search(haystack).find(*needle) == std::string::npos) continue;
    }
    out.push_back(std::move(record));
    if (filter.limit != 0 && out.size() >= filter.limit) break;
  }
  return out;
}

std::vector<HistoryEntry> Replica::history(const std::string& id_or_prefix) {
  const Record record = get(id_or_prefix);
  const std::string& id = record.id;
  Query q = store_->query("SELECT hlc, replica, office, author, origin, action, changes FROM history "
                          "WHERE record_id = ?1 ORDER BY seq");
  q.bind(1, id);
  std::vector<HistoryEntry> out;
  HistoryEntry creation;
  creation.hlc = record.created;
  creation.replica = record.creator;
  creation.office = record.office;  // only the owning office creates its records
  creation.author = record.created_by;
  creation.origin = record.creator == replica_id_ ? "local" : "remote";
  creation.action = "create";
  out.push_back(std::move(creation));
  while (q.step()) {
    HistoryEntry entry;
    entry.hlc = static_cast<Hlc>(q.integer(0));
    entry.replica = q.text(1);
    entry.office = q.text(2);
    entry.author = q.text(3);
    entry.origin = q.text(4);
    entry.action = q.text(5);
    entry.changes = nlohmann::json::parse(q.text(6));
    out.push_back(std::move(entry));
  }
  // The created values: today's fields with every later change rolled back, newest first.
  nlohmann::json fields = record.fields;
  for (std::size_t i = out.size(); i-- > 1;) {
    for (const auto& [field, change] : out[i].changes.items()) {
      if (field.starts_with('_')) continue;  // the tombstone is not a field
      const nlohmann::json& old_value = change.at("old");
      if (old_value.is_null()) {
        fields.erase(field);
      } else {
        fields[field] = old_value;
      }
    }
  }
  for (const auto& [field, value] : fields.items()) out[0].changes[field] = {{"old", nullptr}, {"new", value}};
  return out;
}

ReplicaStatus Replica::status() {
  ReplicaStatus status;
  status.office = office_;
  status.replica_id = replica_id_;
  status.clock = clock_.last();
  {
    Query q = store_->query("SELECT type, sum(deleted = 0), sum(deleted) FROM records GROUP BY type ORDER BY type");
    while (q.step()) {
      TypeCount count{q.text(0), q.integer(1), q.integer(2)};
      status.records += count.live;
      status.deleted_records += count.deleted;
      status.by_type.push_back(std::move(count));
    }
  }
  // A never-sent record (fields NULL) sends every field.
  Query q = store_->query(
      "SELECT count(*), coalesce(sum(CASE WHEN o.fields IS NULL THEN (SELECT count(*) FROM json_each(r.fields)) "
      "ELSE json_array_length(o.fields) END), 0) FROM outbox o JOIN records r ON r.id = o.record_id");
  q.step();
  status.pending_records = q.integer(0);
  status.pending_changes = q.integer(1);
  return status;
}

std::string Replica::summary(const Record& record) const {
  if (auto type = types_.find(record.type)) {
    try {
      return type->summary(record.fields);
    } catch (const std::exception&) {
      // A plugin that cannot summarise one record must not stop a listing.
    }
  }
  return "(" + record.type + ": no plugin installed to describe it)";
}

}  // namespace fieldsync
