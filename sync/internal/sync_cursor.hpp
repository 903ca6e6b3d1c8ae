// Where one sync stands on each side between pages (LiteCore's checkpoint): what HQ's feed has
// delivered here. Internal to sync_client.
//
// Only the pull cursor outlives a sync: it is stored with every applied page, in the transaction
// that applies it. The push side needs no stored position: acknowledged records leave the outbox
// in that same transaction, so a new sync (after a cut, a crash, a kill) starts from what is left,
// and within a sync the next page starts after the last record of the page in flight.
#pragma once

#include <cstdint>

namespace fieldsync::sync_internal {

struct SyncCursor {
  std::int64_t pull = 0;  // the last feed position applied here
};

}  // namespace fieldsync::sync_internal
