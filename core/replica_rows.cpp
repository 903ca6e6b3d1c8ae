// How a record's change lands in the replica's tables: its row, the conflicts it holds, its
// history, the outbox of unsent changes and (at HQ) the feed the offices pull. Shared by local
// writes and merged remote changes.
#include "core/replica.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/json_text.hpp"
#include "core/record_state.hpp"
#include "core/store.hpp"
#include "core/store_schema.hpp"

namespace fieldsync {

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
  if (is_hq()) note_changed(record, {store_schema::kWholeRecord});
}

void Replica::insert_record(const Record& record) {
  insert_row(record, json_text(record.fields), stored_states(record));
  note_conflicts(record);  // a new record has no conflict rows to drop
}

void Replica::refresh_conflicts(const Record& record) {
  store_->query("DELETE FROM conflicts WHERE record_id = ?1").bind(1, record.id).run();
  note_conflicts(record);
}

void Replica::note_conflicts(const Record& record) {
  for (const auto& conflict : conflicts_of(record, types_.find(record.type).get())) {
    store_->query("INSERT INTO conflicts(record_id, field) VALUES(?1, ?2)").bind(1, record.id).bind(2, conflict.field).run();
  }
}

void Replica::note_changed(const Record& record, const std::vector<std::string>& fields, const std::string& origin) {
  if (!is_hq()) return;
  for (const auto& field : fields) {
    // REPLACE drops the field's old row; AUTOINCREMENT numbers the new one after every other.
    Query q = store_->query("INSERT OR REPLACE INTO feed(record_id, field, origin) VALUES(?1, ?2, ?3)");
    q.bind(1, record.id).bind(2, field);
    if (origin.empty()) {
      q.bind_null(3);
    } else {
      q.bind(3, origin);
    }
    q.run();
  }
}

void Replica::note_created(const std::vector<std::string>& ids, const std::string& origin) {
  if (!is_hq() || ids.empty()) return;
  Query q = store_->query(
      "INSERT OR REPLACE INTO feed(record_id, field, origin) SELECT value, ?2, ?3 FROM json_each(?1) ORDER BY key");
  q.bind(1, nlohmann::json(ids).dump()).bind(2, store_schema::kWholeRecord);
  if (origin.empty()) {
    q.bind_null(3);
  } else {
    q.bind(3, origin);
  }
  q.run();
}

void Replica::save_record(const Record& record) {
  // The creation too: two replicas may have created the record (core/replica_apply.cpp, adopt_earlier_creation).
  Query q = store_->query("UPDATE records SET schema_version = ?2, fields = ?3, states = ?4, deleted = ?5, "
                          "updated_hlc = ?6, created_hlc = ?7, creator = ?8, created_by = ?9 WHERE id = ?1");
  q.bind(1, record.id)
      .bind(2, std::int64_t{record.schema_version})
      .bind(3, json_text(record.fields))
      .bind(4, stored_states(record))
      .bind(5, std::int64_t{record.deleted ? 1 : 0})
      .bind(6, static_cast<std::int64_t>(record.updated))
      .bind(7, static_cast<std::int64_t>(record.created))
      .bind(8, record.creator)
      .bind(9, record.created_by)
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

}  // namespace fieldsync
