// watch: sync by itself whenever the link allows (sync/watch.hpp), logging one line per attempt.
#include <cmath>
#include <iostream>

#include "cli/commands.hpp"
#include "cli/sync_words.hpp"
#include "sync/enrollment.hpp"
#include "sync/watch.hpp"

namespace fieldsync::cli {
namespace {

struct WatchArgs {
  double probe_interval = 0, pull_interval = 0, debounce = 0, max_backoff = 0;
  std::size_t exit_after = 0;
};

std::chrono::milliseconds to_millis(double seconds) {
  if (seconds <= 0) return std::chrono::milliseconds(0);  // not given: the default
  return std::chrono::milliseconds(std::max<long long>(1, std::llround(seconds * 1000)));
}

nlohmann::json seconds_or_null(const std::optional<std::chrono::milliseconds>& wait) {
  return wait ? nlohmann::json(static_cast<double>(wait->count()) / 1000.0) : nlohmann::json(nullptr);
}

// One JSON object per event, the same fields on every sync line (scripts need not test for them).
nlohmann::json event_json(const WatchEvent& e) {
  nlohmann::json out = {{"event", to_string(e.kind)},
                        {"time", format_utc_time(e.at_millis)},
                        {"ok", e.ok},
                        {"error", e.error.empty() ? nlohmann::json(nullptr) : nlohmann::json(e.error)},
                        {"retry_in_seconds", seconds_or_null(e.retry_in)}};
  if (e.kind == WatchEvent::Kind::sync) {
    const SyncSummary& s = e.summary;
    out["reason"] = to_string(e.reason);
    out["sent"] = s.records_sent;
    out["received"] = s.records_received;
    out["conflicts"] = s.conflicts_opened;
    out["requests"] = s.requests;
    out["bytes_sent"] = s.bytes_sent;
    out["bytes_received"] = s.bytes_received;
    out["seconds"] = s.seconds;
    out["new_connections"] = s.new_connections;
    out["pending_records"] = e.pending_records;
    nlohmann::json refused = nlohmann::json::array();
    for (const auto& r : s.set_aside) refused.push_back({{"id", r.record_id}, {"code", r.code}, {"reason", r.reason}});
    out["refused"] = std::move(refused);
  }
  if (!e.detail.empty()) out["detail"] = e.detail;
  return out;
}

std::string plural(std::size_t n, const char* one, const char* many) { return std::to_string(n) + " " + (n == 1 ? one : many); }

std::string retry_words(const WatchEvent& e, const char* what) {
  if (!e.retry_in) return "";
  return std::string("; ") + what + " in " + format_span(static_cast<double>(e.retry_in->count()) / 1000.0);
}

const char* reason_words(SyncReason reason) {
  switch (reason) {
    case SyncReason::start: return "at start";
    case SyncReason::link_back: return "link back";
    case SyncReason::local_write: return "after a local write";
    case SyncReason::periodic: return "periodic";
    case SyncReason::retry: return "retry";
    case SyncReason::still_pending: return "written during the last sync";
  }
  return "?";
}

// One line for a person watching the terminal or reading a log file.
std::string event_text(const WatchEvent& e) {
  std::string line = format_local_time(e.at_millis) + "  ";
  switch (e.kind) {
    case WatchEvent::Kind::started: return line + "watching " + e.detail;
    case WatchEvent::Kind::link_up: return line + "HQ answers again";
    case WatchEvent::Kind::link_down: return line + "HQ unreachable: " + e.error + retry_words(e, "next look");
    case WatchEvent::Kind::stopping: return line + "stopping once the sync in flight is done (signal again to stop now)";
    case WatchEvent::Kind::stopped: return line + "stopped" + (e.detail.empty() ? "" : " (" + e.detail + ")");
    case WatchEvent::Kind::sync: break;
  }
  const std::string reason = std::string(" (") + reason_words(e.reason) + ")";
  if (!e.ok) return line + "sync failed" + reason + ": " + e.error + retry_words(e, "next try");
  const SyncSummary& s = e.summary;
  char seconds[32];
  std::snprintf(seconds, sizeof seconds, "%.2f s", s.seconds);
  line += "synced" + reason + ": sent " + plural(s.records_sent, "record", "records") + ", received " +
          std::to_string(s.records_received) + "; " + format_bytes(static_cast<double>(s.bytes_sent)) + " up, " +
          format_bytes(static_cast<double>(s.bytes_received)) + " down; " + seconds + "; " +
          (s.new_connections == 0 ? "same connection" : plural(s.new_connections, "new connection", "new connections"));
  if (s.conflicts_opened) line += "; " + plural(s.conflicts_opened, "new conflict", "new conflicts") + " (`fieldsync conflicts`)";
  if (e.pending_records) line += "; " + plural(e.pending_records, "record waits", "records wait") + " to be sent";
  if (!s.set_aside.empty()) {
    line += "; HQ refused " + plural(s.set_aside.size(), "record", "records") + ", kept here (`fieldsync status`): " +
            s.set_aside.front().record_id + ": " + s.set_aside.front().reason + (s.set_aside.size() > 1 ? " …" : "");
  }
  if (!e.detail.empty()) line += "; " + e.detail;
  return line;
}

}  // namespace

void register_watch_command(CLI::App& app, CommandState& state) {
  auto args = std::make_shared<WatchArgs>();
  auto* watch = app.add_subcommand("watch", "Sync by itself whenever the link to HQ allows, until SIGTERM or Ctrl-C");
  const auto seconds = CLI::Range(0.001, 86400.0);
  watch->add_option("--probe-interval", args->probe_interval, "Seconds between health probes while the link holds (default 15; keep below 20 to keep the connection open)")->check(seconds);
  watch->add_option("--pull-interval", args->pull_interval, "Seconds between syncs when nothing is written here (default 60)")->check(seconds);
  watch->add_option("--debounce", args->debounce, "Quiet seconds after a local write before syncing (default 1.5)")->check(seconds);
  watch->add_option("--max-backoff", args->max_backoff, "Longest wait in seconds between probes while HQ is unreachable (default 180)")->check(seconds);
  watch->add_option("--exit-after", args->exit_after, "Stop after this many successful syncs (for scripts and benchmarks)")->check(CLI::Range(1, 1'000'000));
  watch->callback([&state, args] {
    const auto home = resolve_home(state.options);
    const auto types = load_plugins(home);
    // Opened to check there is a replica here, then closed: watch opens it only for each sync.
    { Replica replica(home, *types); }
    auto enrollment = load_enrollment(home);
    if (!enrollment) {
      throw Error(Errc::not_initialized, "this replica is not enrolled with HQ: run `fieldsync enroll --hq URL --ca FILE --token TOKEN`");
    }
    WatchOptions options;
    options.probe_interval = to_millis(args->probe_interval);
    options.pull_interval = to_millis(args->pull_interval);
    options.debounce = to_millis(args->debounce);
    options.max_backoff = to_millis(args->max_backoff);
    options.exit_after = args->exit_after;
    options.sync = SyncOptions::from_environment();
    const bool json = state.options.json;
    // Each line is flushed at once: a script (or a log collector) reads it as it happens.
    Watch watcher(home, *types, *enrollment, options, [json](const WatchEvent& e) {
      std::cout << (json ? event_json(e).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) : event_text(e))
                << std::endl;
    });
    watcher.run();
  });
}

}  // namespace fieldsync::cli
