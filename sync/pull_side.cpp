#include "sync/internal/pull_side.hpp"

#include "core/change_check.hpp"
#include "core/tuning.hpp"

namespace fieldsync::sync_internal {

PullSide::PullSide(Replica& replica, const SyncOptions& options)
    : replica_(replica),
      max_records_(options.pull_page_records != 0 ? options.pull_page_records : tuning::kSyncPullPageRecords),
      max_bytes_(tuning::kSyncPageBytesMax) {}

ApplySummary PullSide::take(const protocol::SyncResponse& answer, const std::vector<OutboxMark>& pushed,
                            SyncCursor& cursor) {
  Replica::ApplyOptions apply;
  apply.check = false;  // HQ checked every change against its type before storing it
  apply.cursor = answer.cursor;
  apply.newest_allowed = newest_allowed_at(answer.hq_time);
  apply.acknowledged = pushed;
  const ApplySummary applied = replica_.apply(answer.changes, apply);
  cursor.pull = answer.cursor;
  return applied;
}

}  // namespace fieldsync::sync_internal
