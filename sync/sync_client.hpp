// SyncClient: one `fieldsync sync` — the conversation with HQ, page by page.
//
// Each request pushes one outbox page and asks for the changes after the replica's cursor; each
// answer is applied in one transaction with the new cursor, and the pushed page is cleared from
// the outbox only once HQ has answered that it stored it. A cut link therefore loses at most the
// page in flight, and the next sync resumes where this one stopped. HQ's time on every answer
// sets the replica's clock offset; an answer "clock_ahead" makes the replica stamp its unsent
// writes again with the corrected clock before it retries.
#pragma once

#include <cstddef>
#include <cstdint>

#include "core/replica.hpp"
#include "sync/enrollment.hpp"

namespace fieldsync {

struct SyncSummary {
  std::size_t requests = 0;
  std::size_t records_sent = 0;
  std::size_t records_received = 0;  // records that changed here
  std::size_t conflicts_opened = 0;
  std::size_t bytes_sent = 0;        // on the wire, compressed
  std::size_t bytes_received = 0;
  std::size_t restamped = 0;         // unsent writes stamped again after "clock_ahead"
  std::int64_t clock_offset_millis = 0;
  double seconds = 0;
};

class SyncClient {
 public:
  SyncClient(Replica& replica, Enrollment enrollment);
  // Syncs until nothing is left to send or to receive. Throws Error: network (HQ unreachable, a
  // certificate not signed by the pinned CA, a timeout), invalid_input (HQ refused: the message
  // says why). What was stored before the error stays stored.
  SyncSummary run();

 private:
  Replica& replica_;
  Enrollment enrollment_;
};

}  // namespace fieldsync
