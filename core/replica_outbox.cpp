// The outbox: a replica's unsent local changes, read a page at a time, and cleared once HQ has
// stored them.
#include "core/replica.hpp"

#include <algorithm>

#include "core/error.hpp"
#include "core/store.hpp"

namespace fieldsync {

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

namespace {

// The columns both readers of a record as created select, in this order after its test.
constexpr const char* kCreatedColumns =
    "r.states = '{}' AND r.deleted = 0, r.fields, r.type, r.office, r.schema_version, r.created_hlc, r.creator, r.created_by";

// A record still as created, from kCreatedColumns starting at `column` (past the test): the
// change without fields and its stored values, spliced as they are (see OutgoingChange).
OutgoingChange created_change(Query& q, int column, std::string id) {
  OutgoingChange out;
  out.change = RecordChange{std::move(id), q.text(column + 1), q.text(column + 2), static_cast<int>(q.integer(column + 3)),
                            FieldVersion{static_cast<Hlc>(q.integer(column + 4)), q.text(column + 5)},
                            q.text(column + 6), {}};
  out.created_values = q.text(column);
  return out;
}

}  // namespace

std::optional<OutgoingChange> Replica::outgoing_change(const std::string& id,
                                                      const std::optional<std::vector<std::string>>& fields) {
  if (!fields) {
    // No state after creation (`states` is '{}' and no tombstone): every field is as created.
    static const std::string sql = std::string("SELECT ") + kCreatedColumns + " FROM records r WHERE r.id = ?1";
    Query q = store_->query(sql);
    q.bind(1, id);
    if (!q.step()) return std::nullopt;
    if (q.integer(0) != 0) return created_change(q, 1, id);
  }
  auto record = find(id);
  if (!record) return std::nullopt;
  return OutgoingChange{change_of(*record, fields), {}};
}

OutboxPage Replica::outbox_page(std::size_t max_records, std::size_t max_bytes, const OutboxMark* after,
                                const OutgoingSink& sink) {
  OutboxPage page;
  // One walk of the outbox in send order, each record read by the same join that sizes it: a
  // record never sent whose fields are all as created (the whole of a first push) goes out from
  // this row alone. Looking each one up again by its id costs two more probes of an index of
  // random UUIDs (larger than SQLite's cache after an import): most of a push's reading time.
  // The size of a record's JSON is about that of its stored fields and states: enough to bound a
  // page without encoding it twice.
  static const std::string sql =
      std::string("SELECT o.record_id, o.fields, o.last_hlc, length(r.fields) + length(r.states), o.fields IS NULL AND ") +
      kCreatedColumns +
      " FROM outbox o JOIN records r ON r.id = o.record_id WHERE (o.last_hlc, o.record_id) > (?2, ?3) "
      "AND NOT EXISTS (SELECT 1 FROM set_aside s WHERE s.record_id = o.record_id AND s.last_hlc = o.last_hlc) "
      "ORDER BY o.last_hlc, o.record_id LIMIT ?1";
  Query q = store_->query(sql);
  q.bind(1, static_cast<std::int64_t>(max_records + 1));
  q.bind(2, after ? static_cast<std::int64_t>(after->last_hlc) : std::int64_t{-1}).bind(3, after ? after->record_id : std::string());
  std::size_t bytes = 0;
  while (q.step()) {
    const auto size = static_cast<std::size_t>(q.integer(3));
    if (page.marks.size() == max_records || (max_bytes != 0 && !page.marks.empty() && bytes + size > max_bytes)) {
      page.more = true;
      break;
    }
    bytes += size;
    std::string id = q.text(0);
    std::optional<std::vector<std::string>> fields;
    if (!q.is_null(1)) fields = nlohmann::json::parse(q.text(1)).get<std::vector<std::string>>();
    if (sink && q.integer(4) != 0) {
      sink(created_change(q, 5, id));
    } else {
      // Edited since created, or deleted: the record's whole state, read by id.
      auto record = find(id);
      if (!record) throw Error(Errc::internal, "the outbox names a record that is not in the store", "record " + id);
      if (sink) {
        sink(OutgoingChange{change_of(*record, fields), {}});
      } else {
        page.changes.push_back(change_of(*record, fields));
      }
    }
    page.marks.push_back(OutboxMark{std::move(id), static_cast<Hlc>(q.integer(2)), size});
  }
  return page;
}

void Replica::acknowledge(const std::vector<OutboxMark>& marks) {
  Store::Transaction transaction(*store_);
  clear_outbox(marks);
  transaction.commit();
}

void Replica::clear_outbox(const std::vector<OutboxMark>& marks) {
  if (marks.empty()) return;
  Hlc sent = std::stoull(store_->meta("sent_clock").value_or("0"));
  // A record HQ stored is no longer set aside (refused once, accepted since: edited, or HQ
  // changed). Looked for only when anything is set aside: a first push acknowledges 100,000.
  bool forget_set_aside = false;
  {
    Query any = store_->query("SELECT EXISTS (SELECT 1 FROM set_aside)");
    forget_set_aside = any.step() && any.integer(0) != 0;
  }
  for (const auto& mark : marks) {
    if (forget_set_aside) store_->query("DELETE FROM set_aside WHERE record_id = ?1").bind(1, mark.record_id).run();
    sent = std::max(sent, mark.last_hlc);
    // A record written again while the page was on its way stays queued (with all its fields).
    store_->query("DELETE FROM outbox WHERE record_id = ?1 AND last_hlc <= ?2")
        .bind(1, mark.record_id)
        .bind(2, static_cast<std::int64_t>(mark.last_hlc))
        .run();
  }
  // The newest version HQ has from us: a clock restarted after a skew must stay past it.
  store_->set_meta("sent_clock", std::to_string(sent));
}

}  // namespace fieldsync
