// The pull side of a sync: HQ's answer applied here — its changes merged, the pushed page
// acknowledged and the new cursor stored, all in one transaction, so a cut or a crash at any
// point leaves either the whole page or none of it. Internal to sync_client.
#pragma once

#include <cstddef>
#include <vector>

#include "core/replica.hpp"
#include "sync/internal/sync_cursor.hpp"
#include "sync/protocol.hpp"
#include "sync/sync_client.hpp"

namespace fieldsync::sync_internal {

class PullSide {
 public:
  PullSide(Replica& replica, const SyncOptions& options);

  // What to ask HQ for: the records after the cursor, at most this many, about this many bytes.
  std::size_t max_records() const { return max_records_; }
  std::size_t max_bytes() const { return max_bytes_; }

  // Applies `answer` with the acknowledgement of `pushed` and moves `cursor.pull`. What HQ sends
  // is checked against HQ's own time: a broken or hostile answer dated ahead of it must not move
  // this laptop's clock (nothing of the page is applied, the cursor stays).
  ApplySummary take(const protocol::SyncResponse& answer, const std::vector<OutboxMark>& pushed, SyncCursor& cursor);

 private:
  Replica& replica_;
  std::size_t max_records_;
  std::size_t max_bytes_;
};

}  // namespace fieldsync::sync_internal
