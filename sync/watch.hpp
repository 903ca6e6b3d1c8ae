// Watch: `fieldsync watch` — syncs by itself whenever it can, until asked to stop.
//
// One Boost.Asio io_context on the caller's thread runs the schedule (timers, SIGTERM/SIGINT);
// the blocking network work (a health probe, a sync) runs one job at a time on a thread of its
// own, so a stop request is seen even while a request waits on a dead link.
//
// What it promises:
//   - One connection to HQ (connect_to_hq) is kept for the whole run: a health probe every
//     probe_interval keeps it open while the link holds, so a sync after a local write costs one
//     round trip and no new TLS handshake.
//   - It syncs at start, as soon as a probe succeeds after the link was down, debounce after a
//     local write by any process (checked every write_check without touching SQLite), and every
//     pull_interval to receive what others sent.
//   - HQ unreachable: probes back off exponentially with full jitter, from first_backoff up to
//     max_backoff. HQ busy (429/503 with Retry-After): the next sync waits that long. HQ refused
//     (a revoked token, …) or the store failed: the reason is reported and the next try waits
//     long (tuning::kWatchRefusal*), not hammering HQ; a new enrollment is tried at once.
//   - The replica is opened only for a sync (on the network thread) and closed after it: between
//     syncs watch holds no SQLite connection, lock or cached clock, so `fieldsync add` and other
//     commands work meanwhile exactly as without it.
//   - SIGTERM or SIGINT: a sync in flight finishes (each page is committed on its own anyway),
//     then run() returns; when idle it returns at once. A second signal during a sync ends the
//     process at once (what a cut link would do to that sync: nothing is lost).
//
// Every step is reported through on_event, one WatchEvent each, for the command to print.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/plugin_host.hpp"
#include "sync/enrollment.hpp"
#include "sync/sync_client.hpp"

namespace fieldsync {

struct WatchOptions {
  std::chrono::milliseconds probe_interval{0};  // 0 in any of these: the tuning default
  std::chrono::milliseconds pull_interval{0};
  std::chrono::milliseconds debounce{0};
  std::chrono::milliseconds write_check{0};
  std::chrono::milliseconds first_backoff{0};
  std::chrono::milliseconds max_backoff{0};
  std::size_t exit_after = 0;  // stop after this many successful syncs (0: run until a signal)
  SyncOptions sync;            // page sizes; on_progress is not used
};

// Why a sync started.
enum class SyncReason { start, link_back, local_write, periodic, retry, still_pending };
const char* to_string(SyncReason reason) noexcept;

struct WatchEvent {
  enum class Kind {
    started,     // watching; nothing done yet
    sync,        // a sync finished (ok) or failed (error)
    link_down,   // a probe failed: HQ cannot be reached (error); next probe after retry_in
    link_up,     // a probe succeeded after the link was down
    stopping,    // a signal came while a sync is in flight: it finishes first
    stopped,     // run() returns
  };
  Kind kind = Kind::started;
  std::int64_t at_millis = 0;  // Unix milliseconds
  bool ok = true;
  SyncReason reason = SyncReason::start;  // for sync
  SyncSummary summary;                     // for a sync that finished
  std::string error;                       // why it failed
  std::optional<std::chrono::milliseconds> retry_in;  // when the next try is due, after a failure
  std::size_t pending_records = 0;         // after a sync: what still waits to be sent
  std::string detail;                      // started: HQ and the schedule; stopped: why ("signal SIGTERM");
                                           // sync: what the plugin update after it did, if one ran
};
const char* to_string(WatchEvent::Kind kind) noexcept;

class Watch {
 public:
  // `home` is the replica's folder and `types` its plugins (both must outlive the Watch; `types`
  // is loaded again in place when HQ's plugins change); `enrollment` is read again from `home`
  // before each sync, so a new one takes effect.
  Watch(std::filesystem::path home, PluginHost& types, Enrollment enrollment, WatchOptions options,
        std::function<void(const WatchEvent&)> on_event);
  ~Watch();
  Watch(const Watch&) = delete;
  Watch& operator=(const Watch&) = delete;

  // Runs until SIGTERM/SIGINT or exit_after successful syncs. Throws only what on_event throws.
  void run();

 private:
  class Loop;
  std::unique_ptr<Loop> loop_;
};

// The backoff delay after `failures` consecutive failures (1 for the first), drawn uniformly from
// [0, min(max, first * 2^(failures-1))] with a floor of tuning::kWatchMinBackoffMillis; `unit` is
// a uniform draw in [0, 1). Pure, for tests.
std::chrono::milliseconds jittered_backoff(std::size_t failures, std::chrono::milliseconds first,
                                           std::chrono::milliseconds max, double unit);

}  // namespace fieldsync
