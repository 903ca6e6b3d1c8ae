// HQ's feed: what an office pulls, the records changed after its cursor, in change order.
#include "core/replica.hpp"

#include <algorithm>
#include <optional>
#include <unordered_set>

#include "core/error.hpp"
#include "core/store.hpp"
#include "core/store_schema.hpp"
#include "core/tuning.hpp"

namespace fieldsync {

FeedPage Replica::feed_page(const std::string& office, std::int64_t cursor, std::size_t max_records,
                            const std::string& for_replica, std::size_t max_bytes, const OutgoingSink& sink) {
  FeedPage page;
  page.next_cursor = cursor;
  // Walk the changed fields in change order until the page holds max_records records (or
  // max_bytes of them). Every field of those records changed after the cursor goes out, so no
  // record arrives in halves, and the new cursor is the last row walked: nothing at or below it
  // is left unsent. Rows the asking replica already holds (origin) are walked past, not sent, so
  // its cursor moves over its own pushes; a walk that finds only those stops after a bounded
  // number of rows and says "more".
  std::vector<std::string> ids;
  std::unordered_set<std::string> seen;
  {
    // The record of a row is joined only for rows the asking replica does not hold (the ON
    // clause tests the row first): a first push walks past its own rows, thousands a page, without
    // a probe of the records' index for each. r.id is NULL for a held row.
    Query q = store_->query(
        "SELECT f.seq, f.record_id, r.id IS NULL, r.office, length(r.fields) + length(r.states) FROM feed f "
        "LEFT JOIN records r ON f.origin IS NOT ?2 AND r.id = f.record_id WHERE f.seq > ?1 ORDER BY f.seq");
    q.bind(1, cursor).bind(2, for_replica);  // '' when none: no row's origin is ''
    std::size_t rows = 0, bytes = 0;
    while (q.step()) {
      std::optional<std::size_t> size;  // of a row of this office (or HQ) the replica lacks
      if (q.integer(2) == 0) {
        const std::string owner = q.text(3);
        if (owner != office && owner != "HQ") continue;  // another office's: not walked
        size = static_cast<std::size_t>(q.integer(4));
      }
      if (++rows > tuning::kFeedMaxRowsWalked) {
        page.more = true;
        break;
      }
      if (size) {
        std::string id = q.text(1);
        if (!seen.count(id)) {
          if (ids.size() == max_records || (max_bytes != 0 && !ids.empty() && bytes + *size > max_bytes)) {
            page.more = true;
            break;
          }
          bytes += *size;
          seen.insert(id);
          ids.push_back(std::move(id));
        }
      }
      page.next_cursor = q.integer(0);
    }
  }
  if (!page.more) {
    // Everything of this office after the cursor was walked: the rows after it belong to other
    // offices, so the cursor may jump past them (this replica would walk them again on every
    // sync otherwise). HQ's writes hold the same lock as this read, so no row below the newest
    // can still appear.
    Query q = store_->query("SELECT coalesce(max(seq), 0) FROM feed");
    q.step();
    page.next_cursor = std::max(page.next_cursor, q.integer(0));
  }
  for (const auto& id : ids) {
    std::vector<std::string> fields;
    bool whole = false;
    Query q = store_->query("SELECT field FROM feed WHERE record_id = ?1 AND seq > ?2 AND (origin IS NULL OR origin <> ?3)");
    q.bind(1, id).bind(2, cursor).bind(3, for_replica);
    while (q.step()) {
      std::string field = q.text(0);
      if (field == store_schema::kWholeRecord) whole = true;
      fields.push_back(std::move(field));
    }
    const std::optional<std::vector<std::string>> sent = whole ? std::nullopt : std::optional(std::move(fields));
    if (sink) {
      if (auto change = outgoing_change(id, sent)) sink(std::move(*change));
      continue;
    }
    auto record = find(id);
    if (!record) continue;
    page.changes.push_back(change_of(*record, sent));
  }
  return page;
}

}  // namespace fieldsync
