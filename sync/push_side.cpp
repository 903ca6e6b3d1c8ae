#include "sync/internal/push_side.hpp"

#include <algorithm>

#include "core/tuning.hpp"
#include "sync/protocol.hpp"
#include "sync/transport/compression.hpp"

namespace fieldsync::sync_internal {

PushSide::PushSide(Replica& replica, const SyncOptions& options)
    : replica_(replica),
      max_records_(options.push_page_records != 0 ? options.push_page_records : tuning::kSyncPushPageRecords),
      page_bytes_(options.push_page_bytes != 0 ? options.push_page_bytes : tuning::kSyncPageBytesStart),
      max_page_bytes_(options.push_page_bytes != 0 ? options.push_page_bytes : tuning::kSyncPageBytesMax) {}

PushPage PushPage::none() {
  PushPage page;
  page.changes_zstd = zstd_compress(protocol::changes_tail("[]"));
  return page;
}

PushPage PushSide::read(const OutboxMark* after) {
  // Each change is encoded as it is read: the page is held as its JSON text, then compressed.
  std::string changes = "[";
  OutboxPage outbox = replica_.outbox_page(max_records_, page_bytes_, after, [&changes](OutgoingChange&& change) {
    if (changes.size() > 1) changes += ',';
    changes += protocol::change_text(change);
  });
  changes += ']';
  PushPage page;
  page.changes_zstd = zstd_compress(protocol::changes_tail(changes));
  page.marks = std::move(outbox.marks);
  page.more = outbox.more;
  return page;
}

void PushSide::went_through(double seconds) {
  if (seconds < tuning::kSyncPageGrowSeconds) page_bytes_ = std::min(page_bytes_ * 2, max_page_bytes_);
}

bool PushSide::failed() {
  if (page_bytes_ <= tuning::kSyncPageBytesMin || failures_ >= tuning::kSyncPageRetries) return false;
  ++failures_;
  page_bytes_ = std::max(page_bytes_ / 2, tuning::kSyncPageBytesMin);
  return true;
}

}  // namespace fieldsync::sync_internal
