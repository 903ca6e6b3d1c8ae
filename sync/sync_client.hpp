// SyncClient: one `fieldsync sync` — the conversation with HQ, page by page.
//
// Each request pushes one outbox page and asks for the changes after the replica's cursor; each
// answer is applied in one transaction with the new cursor and the acknowledgement of the pushed
// page (cleared from the outbox only once HQ has answered that it stored it). A cut link
// therefore loses at most the page in flight, and the next sync resumes where this one stopped; a
// page sent again changes nothing. HQ's time on every answer sets the replica's clock offset; an
// answer "clock_ahead" makes the replica stamp its unsent writes again with the corrected clock
// before it retries.
//
// Every run is recorded in the replica (last success, last failure and its reason) for
// `fieldsync status`.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "core/replica.hpp"
#include "sync/enrollment.hpp"

namespace fieldsync {

class HttpsClient;
namespace sync_internal {
struct PushPage;
}

struct SyncSummary {
  std::size_t requests = 0;
  std::size_t records_sent = 0;
  std::size_t records_received = 0;  // records that changed here
  std::size_t conflicts_opened = 0;
  std::size_t bytes_sent = 0;        // on the wire, compressed
  std::size_t bytes_received = 0;
  std::size_t restamped = 0;         // unsent writes stamped again after "clock_ahead"
  std::size_t new_connections = 0;   // TCP+TLS connections opened (0: all on a kept connection)
  std::int64_t clock_offset_millis = 0;
  double seconds = 0;
  bool stopped = false;  // SyncOptions::should_stop said so between pages: the rest waits
  std::uint64_t catalogue = 0;  // the version of HQ's plugin catalogue its last answer named
  // Records HQ refused for their own sake in this sync, set aside (Replica::set_aside): the rest
  // went without them.
  std::vector<SetAsideRecord> set_aside;
};

// How far a running sync has got, for a progress line.
struct SyncProgress {
  std::size_t records_sent = 0;
  std::size_t records_to_send = 0;   // outbox records when the sync began (plus any written since)
  std::size_t records_received = 0;  // records pulled so far
  std::size_t bytes_sent = 0, bytes_received = 0;
  double seconds = 0;
  bool pull_more = false;            // HQ said more pages wait
};

struct SyncOptions {
  // Bounds of one push page: records and bytes of JSON before compression (0: the tuning default).
  std::size_t push_page_records = 0;
  std::size_t push_page_bytes = 0;
  // Records asked for per pull page (0: HQ's default).
  std::size_t pull_page_records = 0;
  // Called after every page.
  std::function<void(const SyncProgress&)> on_progress;
  // Asked before each further request: true ends the sync after the page in hand is applied, so
  // a long first sync stops within one page when watch is told to stop (everything applied is
  // kept; the next sync resumes there).
  std::function<bool()> should_stop;

  // The defaults, with `FIELDSYNC_SYNC_PAGE_RECORDS` (push and pull) honoured when set: tests make
  // pages small so every sync crosses page boundaries.
  static SyncOptions from_environment();
};

// The connection to HQ for `enrollment`, with the sync's timeouts and bounds. A caller that keeps
// it (watch) syncs again without a new TCP and TLS handshake while the link holds.
std::unique_ptr<HttpsClient> connect_to_hq(const Enrollment& enrollment);

class SyncClient {
 public:
  SyncClient(Replica& replica, Enrollment enrollment, SyncOptions options = {});
  ~SyncClient();

  // Syncs until nothing is left to send or to receive, on a connection of its own. Throws Error:
  // network (HQ unreachable, a certificate not signed by the pinned CA, a timeout, HQ busy: 429 or
  // 503, see retry_after()), invalid_input (HQ refused: the message says why). What was stored
  // before the error stays stored.
  SyncSummary run();
  // The same on a connection the caller keeps (see connect_to_hq).
  SyncSummary run(HttpsClient& connection);

  // After run() threw because HQ answered 429 or 503 with Retry-After: how long HQ asked to wait.
  std::optional<std::chrono::seconds> retry_after() const { return retry_after_; }

 private:
  SyncSummary converse(HttpsClient& connection);
  // When HQ's refusal of `page` names some of its records (protocol::refusals_of): sets them
  // aside and says so; false when it names none, or any the page did not carry.
  bool set_aside_refused(const std::string& body, const sync_internal::PushPage& page, SyncSummary& summary);

  Replica& replica_;
  Enrollment enrollment_;
  SyncOptions options_;
  std::optional<std::chrono::seconds> retry_after_;
};

}  // namespace fieldsync
