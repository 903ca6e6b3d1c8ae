// The push side of a sync: the next page of the outbox, bounded in records and bytes, encoded for
// the wire; and the page size, which adapts to the link. Internal to sync_client.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "core/replica.hpp"
#include "sync/sync_client.hpp"

namespace fieldsync::sync_internal {

struct PushPage {
  std::vector<OutboxMark> marks;  // what to acknowledge once HQ has stored the page
  // The page as the request's tail, protocol::changes_tail of its changes, in one zstd frame:
  // compressed as it is read, while the request before it is in flight, so only the small head
  // is left to compress once the cursor is known.
  std::string changes_zstd;
  bool more = false;  // further records wait after this page

  static PushPage none();  // no changes: a request that only pulls
};

class PushSide {
 public:
  PushSide(Replica& replica, const SyncOptions& options);

  // The page after `after` (nullptr: from the oldest unsent change).
  PushPage read(const OutboxMark* after);

  // A page went through in `seconds`: on a quick link the next may be bigger.
  void went_through(double seconds);
  // A page failed on the network: the next is half the size. False when it already was the
  // smallest, or has been halved kSyncPageRetries times in this sync: the link is down.
  bool failed();

  std::size_t page_bytes() const { return page_bytes_; }

 private:
  Replica& replica_;
  std::size_t max_records_;
  std::size_t page_bytes_;
  std::size_t max_page_bytes_;
  int failures_ = 0;
};

}  // namespace fieldsync::sync_internal
