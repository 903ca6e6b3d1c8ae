// The Replica's reads: finding a record by id or prefix, listing with filters and search, its
// history, the replica's status, a record's one-line summary.
#include "core/replica.hpp"

#include <algorithm>
#include <charconv>

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


bool is_field_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

}  // namespace

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

std::optional<std::string> Replica::office_of(const std::string& id) {
  Query q = store_->query("SELECT office FROM records WHERE id = ?1");
  q.bind(1, id);
  if (!q.step()) return std::nullopt;
  return q.text(0);
}

std::unordered_map<std::string, std::string> Replica::offices_of(const std::vector<std::string>& ids) {
  std::unordered_map<std::string, std::string> out;
  if (ids.empty()) return out;
  Query q = store_->query("SELECT r.id, r.office FROM json_each(?1) j JOIN records r ON r.id = j.value");
  q.bind(1, nlohmann::json(ids).dump());
  while (q.step()) out.emplace(q.text(0), q.text(1));
  return out;
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
      "ELSE json_array_length(o.fields) END), 0) FROM outbox o JOIN records r ON r.id = o.record_id "
      "WHERE NOT EXISTS (SELECT 1 FROM set_aside s WHERE s.record_id = o.record_id AND s.last_hlc = o.last_hlc)");
  q.step();
  status.pending_records = q.integer(0);
  status.pending_changes = q.integer(1);
  {
    Query aside = store_->query(
        "SELECT count(*) FROM set_aside s JOIN outbox o ON o.record_id = s.record_id AND o.last_hlc = s.last_hlc");
    aside.step();
    status.set_aside_records = aside.integer(0);
  }
  {
    Query issues = store_->query("SELECT count(*) FROM record_issues");
    issues.step();
    status.records_breaking_rules = issues.integer(0);
  }
  auto millis = [&](const char* key) -> std::optional<std::int64_t> {
    const auto value = store_->meta(key);
    if (!value) return std::nullopt;
    return std::stoll(*value);
  };
  status.last_sync_millis = millis("last_sync");
  status.last_failure_millis = millis("last_sync_failure");
  status.last_failure = store_->meta("last_sync_failure_reason").value_or("");
  return status;
}

std::string Replica::summary(const Record& record) const {
  if (auto type = types_.find(record.type)) {
    try {
      // An older record reads as its migration does; a newer one as it is (the plugin's summary
      // leaves out what it does not know).
      if (record.schema_version < type->schema_version()) {
        return type->summary(fields_for_type(*type, record.fields, record.schema_version, ""));
      }
      return type->summary(record.fields);
    } catch (const std::exception&) {
      // A plugin that cannot summarise one record must not stop a listing.
    }
  }
  return "(a " + record.type + " record, waiting for its plugin: kept and synced as it is)";
}

}  // namespace fieldsync
