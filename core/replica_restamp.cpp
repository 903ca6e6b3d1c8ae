// The clock offset HQ's time sets, and stamping unsent writes again when HQ says this laptop's
// clock runs ahead.
#include "core/replica.hpp"

#include <algorithm>
#include <set>

#include "core/error.hpp"
#include "core/record_state.hpp"
#include "core/store.hpp"

namespace fieldsync {

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
