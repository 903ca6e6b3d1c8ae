// Records set aside: outbox entries HQ refused for their own sake. Without this, one record HQ
// will never take (the same id imported by two offices, a type HQ does not publish) would hold
// back every later page of the outbox, for good.
#include "core/replica.hpp"

#include "core/store.hpp"

namespace fieldsync {

void Replica::set_aside(const std::vector<SetAsideRecord>& records) {
  if (records.empty()) return;
  Store::Transaction transaction(*store_);
  for (const auto& record : records) {
    store_->query(
              "INSERT INTO set_aside(record_id, last_hlc, code, reason, at_millis) VALUES(?1, ?2, ?3, ?4, ?5) "
              "ON CONFLICT(record_id) DO UPDATE SET last_hlc = excluded.last_hlc, code = excluded.code, "
              "reason = excluded.reason, at_millis = excluded.at_millis")
        .bind(1, record.record_id)
        .bind(2, static_cast<std::int64_t>(record.last_hlc))
        .bind(3, record.code)
        .bind(4, record.reason)
        .bind(5, record.at_millis)
        .run();
  }
  transaction.commit();
}

std::vector<SetAsideRecord> Replica::set_aside_records() {
  // A row whose outbox entry moved on (written since) or is gone (acknowledged) is no longer set
  // aside: only the ones the join still finds.
  Query q = store_->query(
      "SELECT s.record_id, s.last_hlc, s.code, s.reason, s.at_millis FROM set_aside s "
      "JOIN outbox o ON o.record_id = s.record_id AND o.last_hlc = s.last_hlc ORDER BY s.at_millis, s.record_id");
  std::vector<SetAsideRecord> out;
  while (q.step()) {
    out.push_back(SetAsideRecord{q.text(0), static_cast<Hlc>(q.integer(1)), q.text(2), q.text(3), q.integer(4)});
  }
  return out;
}

std::size_t Replica::send_set_aside_again() {
  const std::size_t count = set_aside_records().size();
  Store::Transaction transaction(*store_);
  store_->exec("DELETE FROM set_aside");
  transaction.commit();
  return count;
}

}  // namespace fieldsync
