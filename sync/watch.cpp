#include "sync/watch.hpp"

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <random>
#include <system_error>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/replica.hpp"
#include "core/tuning.hpp"
#include "sync/plugin_update.hpp"
#include "sync/transport/https_client.hpp"

namespace fieldsync {
namespace {

using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

milliseconds or_default(milliseconds value, milliseconds fallback) { return value.count() > 0 ? value : fallback; }

// What the store's files look like on disk: a write by any process changes it, and it costs two
// stat() calls, no SQLite. The WAL is where a commit lands first (and it is rewritten from its
// start after a checkpoint, so its mtime matters, not only its size); the main file changes when
// a checkpoint moves pages there. An empty or absent WAL is the same thing: read-only commands
// create and remove an empty one.
struct StoreStamp {
  std::uintmax_t db_size = 0, wal_size = 0;
  std::filesystem::file_time_type db_time{}, wal_time{};
  bool operator==(const StoreStamp&) const = default;
};

StoreStamp stamp_of(const std::filesystem::path& home) {
  StoreStamp stamp;
  std::error_code ec;
  const auto db = home / Replica::kStoreFile;
  const auto wal = std::filesystem::path(db.string() + "-wal");
  if (const auto size = std::filesystem::file_size(db, ec); !ec) stamp.db_size = size;
  if (const auto time = std::filesystem::last_write_time(db, ec); !ec) stamp.db_time = time;
  if (const auto size = std::filesystem::file_size(wal, ec); !ec && size > 0) {
    stamp.wal_size = size;
    if (const auto time = std::filesystem::last_write_time(wal, ec); !ec) stamp.wal_time = time;
  }
  return stamp;
}

// 1500 ms as "1.5 s".
std::string seconds_text(milliseconds span) {
  char text[32];
  std::snprintf(text, sizeof text, "%g s", static_cast<double>(span.count()) / 1000.0);
  return text;
}

bool same_enrollment(const Enrollment& a, const Enrollment& b) {
  return a.hq_url == b.hq_url && a.ca_file == b.ca_file && a.token == b.token;
}

// The answer to one probe, as the network thread saw it.
struct ProbeResult {
  bool ok = false;
  std::optional<std::chrono::seconds> retry_after;  // HQ reachable but busy
  std::string error;
};

// The outcome of one sync job.
struct SyncResult {
  bool ran = false;       // false: nothing waited to be sent, so no request was made
  bool ok = false;
  std::optional<Errc> code;
  std::optional<std::chrono::seconds> retry_after;
  std::string error;
  SyncSummary summary;
  std::size_t pending_records = 0;
  StoreStamp stamp;       // the store's files right after the sync's own writes
  std::string plugins;    // what a plugin update after the sync did, in words; empty when none ran
};

// "plugins: installed distribution 1; refused agreement 2: hash mismatch …"
std::string plugin_words(const PluginUpdate& update) {
  std::string words;
  for (const auto& m : update.installed) words += (words.empty() ? "" : "; ") + ("installed " + m.name + " " + std::to_string(m.version));
  for (const auto& r : update.refused) words += (words.empty() ? "" : "; ") + ("refused " + r.plugin + ": " + r.reason);
  return words.empty() ? "plugins: HQ's catalogue version " + std::to_string(update.catalogue) + " accepted" : "plugins: " + words;
}

}  // namespace

const char* to_string(SyncReason reason) noexcept {
  switch (reason) {
    case SyncReason::start: return "start";
    case SyncReason::link_back: return "link_back";
    case SyncReason::local_write: return "local_write";
    case SyncReason::periodic: return "periodic";
    case SyncReason::retry: return "retry";
    case SyncReason::still_pending: return "still_pending";
  }
  return "?";
}

const char* to_string(WatchEvent::Kind kind) noexcept {
  switch (kind) {
    case WatchEvent::Kind::started: return "started";
    case WatchEvent::Kind::sync: return "sync";
    case WatchEvent::Kind::link_down: return "link_down";
    case WatchEvent::Kind::link_up: return "link_up";
    case WatchEvent::Kind::stopping: return "stopping";
    case WatchEvent::Kind::stopped: return "stopped";
  }
  return "?";
}

milliseconds jittered_backoff(std::size_t failures, milliseconds first, milliseconds max, double unit) {
  // first * 2^(failures-1), computed without overflow: stop doubling once past max.
  milliseconds ceiling = first;
  for (std::size_t i = 1; i < failures && ceiling < max; ++i) ceiling *= 2;
  if (ceiling > max) ceiling = max;
  const auto drawn = milliseconds(static_cast<milliseconds::rep>(unit * static_cast<double>(ceiling.count())));
  return std::max(drawn, milliseconds(tuning::kWatchMinBackoffMillis));
}

// The schedule, on the caller's io_context; the network jobs, on `network_` (one thread).
class Watch::Loop {
 public:
  Loop(std::filesystem::path home, PluginHost& types, Enrollment enrollment, WatchOptions options,
       std::function<void(const WatchEvent&)> on_event)
      : home_(std::move(home)),
        types_(types),
        enrollment_(std::move(enrollment)),
        options_(std::move(options)),
        on_event_(std::move(on_event)),
        random_(std::random_device{}()) {
    options_.probe_interval = or_default(options_.probe_interval, std::chrono::seconds(tuning::kWatchProbeIntervalSeconds));
    options_.pull_interval = or_default(options_.pull_interval, std::chrono::seconds(tuning::kWatchPullIntervalSeconds));
    options_.debounce = or_default(options_.debounce, milliseconds(tuning::kWatchDebounceMillis));
    options_.write_check = or_default(options_.write_check, milliseconds(tuning::kWatchWriteCheckMillis));
    options_.first_backoff = or_default(options_.first_backoff, milliseconds(tuning::kWatchFirstBackoffMillis));
    options_.max_backoff = or_default(options_.max_backoff, std::chrono::seconds(tuning::kWatchMaxBackoffSeconds));
    options_.sync.on_progress = nullptr;  // called on the network thread; watch reports per sync
    connection_ = connect_to_hq(enrollment_);
  }

  ~Loop() {
    // A job in flight posts back to io_: let it finish before anything it uses goes away.
    network_.join();
  }

  void run() {
    signals_.async_wait([this](const boost::system::error_code& ec, int signal) { on_signal(ec, signal); });
    const auto now = Steady::now();
    stamp_ = stamp_of(home_);
    next_write_check_ = now + options_.write_check;
    next_probe_ = now + options_.probe_interval;
    next_pull_ = now + options_.pull_interval;
    sync_due_ = SyncReason::start;
    emit(WatchEvent::Kind::started);
    decide();
    io_.run();
  }

 private:
  enum class Link { unknown, up, down };
  enum class Job { none, probe, sync };

  // Looks at the clock and the state, starts what is due, and sleeps until the next thing is.
  void decide() {
    if (stopped_) return;
    const auto now = Steady::now();
    if (stop_requested_ && job_ == Job::none) return finish();

    if (job_ != Job::sync && now >= next_write_check_) {
      check_for_writes(now);
      next_write_check_ = now + options_.write_check;
    }
    if (write_seen_ && now >= std::min(*write_seen_ + std::chrono::seconds(tuning::kWatchWriteMaxDelaySeconds), quiet_until_)) {
      write_seen_.reset();
      want_sync(SyncReason::local_write);
    }
    if (link_ == Link::up && now >= next_pull_) want_sync(SyncReason::periodic);

    if (job_ == Job::none && !stop_requested_) {
      if (link_ == Link::down) {
        if (now >= next_probe_) start_probe();
      } else if (sync_due_ && now >= not_before_) {
        start_sync(*sync_due_);
      } else if (now >= next_probe_) {
        start_probe();
      }
    }

    // Sleep until the earliest of what may become due.
    auto wake = next_write_check_;
    if (job_ == Job::none) {
      wake = std::min(wake, next_probe_);
      if (sync_due_ && link_ != Link::down) wake = std::min(wake, std::max(not_before_, now));
      if (link_ == Link::up) wake = std::min(wake, next_pull_);
    }
    if (write_seen_) wake = std::min(wake, quiet_until_);
    timer_.expires_at(std::max(wake, now));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) decide();
    });
  }

  void want_sync(SyncReason reason) {
    if (!sync_due_) sync_due_ = reason;
  }

  void check_for_writes(Steady::time_point now) {
    const StoreStamp stamp = stamp_of(home_);
    if (!(stamp == stamp_)) {
      stamp_ = stamp;
      if (!write_seen_) write_seen_ = now;
      quiet_until_ = now + options_.debounce;
    }
    // While HQ refuses this replica, a new enrollment (`fieldsync enroll`) is worth trying at once.
    if (refusals_ > 0) {
      try {
        if (auto fresh = load_enrollment(home_); fresh && !same_enrollment(*fresh, enrollment_)) not_before_ = now;
      } catch (const Error&) {
        // Half-written by `enroll` right now: look again at the next check.
      }
    }
  }

  // ---- the network jobs ----

  void start_probe() {
    job_ = Job::probe;
    HttpsClient* connection = connection_.get();
    boost::asio::post(network_, [this, connection] {
      ProbeResult result;
      try {
        const HttpsResult answer = connection->get("/v1/health");
        if (answer.status == 200) {
          result.ok = true;
        } else if ((answer.status == 429 || answer.status == 503) && answer.retry_after) {
          result.ok = true;
          result.retry_after = answer.retry_after;
        } else {
          result.error = "HQ's health check answered " + std::to_string(answer.status);
        }
      } catch (const std::exception& e) {
        result.error = e.what();
      }
      boost::asio::post(io_, [this, result] { on_probe_done(result); });
    });
  }

  void on_probe_done(const ProbeResult& result) {
    job_ = Job::none;
    const auto now = Steady::now();
    if (result.ok) {
      failures_ = 0;
      next_probe_ = now + options_.probe_interval;
      if (result.retry_after) {
        const auto wait = capped_retry_after(*result.retry_after);
        next_probe_ = now + std::max<milliseconds>(options_.probe_interval, wait);
        not_before_ = std::max(not_before_, now + wait);
      }
      if (link_ == Link::down) {
        link_ = Link::up;
        emit(WatchEvent::Kind::link_up);
        sync_due_ = SyncReason::link_back;
      }
      link_ = Link::up;
    } else {
      link_ = Link::down;
      const milliseconds wait = next_backoff();
      next_probe_ = now + wait;
      WatchEvent event = make(WatchEvent::Kind::link_down);
      event.ok = false;
      event.error = result.error;
      event.retry_in = wait;
      on_event_(event);
    }
    decide();
  }

  void start_sync(SyncReason reason) {
    sync_due_.reset();
    // A new enrollment (`fieldsync enroll` while watch runs) takes effect now, on a new connection.
    try {
      if (auto fresh = load_enrollment(home_)) {
        if (!same_enrollment(*fresh, enrollment_)) {
          enrollment_ = std::move(*fresh);
          connection_ = connect_to_hq(enrollment_);
          refusals_ = 0;
        }
      }
    } catch (const Error& e) {
      SyncResult failed;
      failed.code = e.code();
      failed.error = e.what();
      return on_sync_done(reason, failed);
    }
    job_ = Job::sync;
    running_reason_ = reason;
    HttpsClient* connection = connection_.get();
    // Only a sync started by a local write may be skipped: the others pull, whatever is pending.
    const bool only_if_pending = reason == SyncReason::local_write || reason == SyncReason::still_pending;
    boost::asio::post(network_, [this, connection, reason, only_if_pending, enrollment = enrollment_] {
      SyncResult result;
      try {
        // Opened for this sync only: the clock, the offset and the cursor are read fresh from the
        // store, as every other command does, and nothing is held once it is done.
        Replica replica(home_, types_);
        // The stamp is always taken before the outbox is read: a write by another process after
        // it changes the stamp (and is seen at the next check), one before it is in the outbox
        // read here. Closing this Replica may checkpoint and so change the stamp too; that costs
        // one more look at the outbox, not a request.
        result.stamp = stamp_of(home_);
        if (!only_if_pending || replica.status().pending_changes > 0) {
          SyncOptions sync_options = options_.sync;
          sync_options.should_stop = [this] { return stop_asked_.load(); };
          SyncClient client(replica, enrollment, std::move(sync_options));
          try {
            result.summary = client.run(*connection);
            result.ok = true;
            // HQ published or withdrew a plugin: fetched on the same connection, then the types
            // loaded again and swapped in, so the next sync and this replica's records use them.
            if (catalogue_is_news(result.summary.catalogue, enrollment, home_)) {
              result.plugins = plugin_words(update_plugins(*connection, enrollment, home_));
              // Records that waited for a plugin just installed are checked now.
              for (const auto& check : use_updated_plugins(types_, replica)) result.plugins += "; " + waiting_check_words(check);
            }
          } catch (const Error& e) {
            result.code = e.code();
            result.error = e.what();
            result.retry_after = client.retry_after();
          }
          result.ran = true;
          result.stamp = stamp_of(home_);
        }
        result.pending_records = static_cast<std::size_t>(replica.status().pending_records);
      } catch (const Error& e) {
        result.ran = true;
        result.ok = false;
        result.code = e.code();
        result.error = e.what();
        result.stamp = stamp_of(home_);
      } catch (const std::exception& e) {
        result.ran = true;
        result.ok = false;
        result.code = Errc::internal;
        result.error = e.what();
        result.stamp = stamp_of(home_);
      }
      boost::asio::post(io_, [this, reason, result] { on_sync_done(reason, result); });
    });
  }

  void on_sync_done(SyncReason reason, const SyncResult& result) {
    job_ = Job::none;
    const auto now = Steady::now();
    stamp_ = result.stamp;
    if (!result.ran) return decide();  // nothing to send after all

    WatchEvent event = make(WatchEvent::Kind::sync);
    event.reason = reason;
    event.ok = result.ok;
    event.summary = result.summary;
    event.pending_records = result.pending_records;
    event.error = result.error;
    event.detail = result.plugins;
    if (result.ok) {
      ++successes_;
      failures_ = refusals_ = 0;
      link_ = Link::up;
      next_probe_ = now + options_.probe_interval;
      next_pull_ = now + options_.pull_interval;
      not_before_ = now;
      // Written while this sync ran (and not in it): send it too, once; a record that stays in
      // the outbox after that waits for the next write or the periodic sync.
      if (result.pending_records > 0 && reason != SyncReason::still_pending) want_sync(SyncReason::still_pending);
    } else if (result.retry_after) {
      // HQ is there but busy: wait as long as it asks, then try again.
      const auto wait = capped_retry_after(*result.retry_after);
      not_before_ = now + wait;
      link_ = Link::up;
      want_sync(SyncReason::retry);
      event.retry_in = wait;
    } else if (result.code == Errc::network) {
      // The link went down (or HQ did): probe with backoff; the sync runs once a probe succeeds.
      link_ = Link::down;
      const milliseconds wait = next_backoff();
      next_probe_ = now + wait;
      want_sync(SyncReason::retry);
      event.retry_in = wait;
    } else {
      // Refused, or the store failed: the same request soon would fail the same way.
      ++refusals_;
      milliseconds wait = std::chrono::seconds(tuning::kWatchRefusalFirstBackoffSeconds);
      for (std::size_t i = 1; i < refusals_ && wait < std::chrono::seconds(tuning::kWatchRefusalMaxBackoffSeconds); ++i) wait *= 2;
      wait = std::min<milliseconds>(wait, std::chrono::seconds(tuning::kWatchRefusalMaxBackoffSeconds));
      not_before_ = now + wait;
      want_sync(SyncReason::retry);
      event.retry_in = wait;
    }
    on_event_(event);
    if (options_.exit_after > 0 && successes_ >= options_.exit_after) {
      stop_detail_ = "exit-after " + std::to_string(options_.exit_after);
      stop_requested_ = true;
    }
    decide();
  }

  milliseconds next_backoff() {
    ++failures_;
    return jittered_backoff(failures_, options_.first_backoff, options_.max_backoff,
                            std::uniform_real_distribution<double>(0.0, 1.0)(random_));
  }

  static milliseconds capped_retry_after(std::chrono::seconds asked) {
    return std::min<milliseconds>(std::max(asked, std::chrono::seconds(1)), std::chrono::seconds(tuning::kWatchMaxRetryAfterSeconds));
  }

  // ---- stopping ----

  void on_signal(const boost::system::error_code& ec, int signal) {
    if (ec || stopped_) return;
    const char* name = signal == SIGTERM ? "SIGTERM" : signal == SIGINT ? "SIGINT" : "signal";
    const bool again = stop_requested_;
    if (!again) stop_detail_ = std::string("signal ") + name;
    stop_requested_ = true;
    stop_asked_ = true;  // a sync in flight ends after its current page
    if (job_ == Job::sync && again) {
      // Asked twice: stop now, as a cut link would stop this sync (each page is committed on its
      // own, so nothing is lost; the next sync resumes). Dying by the signal says so to the caller.
      std::cout.flush();
      std::fflush(nullptr);
      std::signal(signal, SIG_DFL);
      std::raise(signal);
      return;
    }
    if (job_ == Job::sync) {
      emit(WatchEvent::Kind::stopping);
    } else if (job_ == Job::probe && again) {
      leave_probe_behind();
    } else if (job_ == Job::probe) {
      // A probe changes nothing: wait a little for its answer, not for a dead link's timeout.
      stop_timer_.expires_after(milliseconds(tuning::kWatchStopProbeWaitMillis));
      stop_timer_.async_wait([this](const boost::system::error_code& wait_ec) {
        if (!wait_ec && !stopped_) leave_probe_behind();
      });
    }
    signals_.async_wait([this](const boost::system::error_code& next_ec, int next) { on_signal(next_ec, next); });
    decide();
  }

  // Stopping while a probe still waits on a dead link: the network thread is blocked in libcurl
  // until its own timeout, with nothing of the replica open. Leave without waiting for it (and
  // without running destructors while it runs).
  [[noreturn]] void leave_probe_behind() {
    stopped_ = true;
    stop_detail_ += " (a health probe was still waiting for HQ)";
    emit(WatchEvent::Kind::stopped);
    std::cout.flush();
    std::fflush(nullptr);
    std::_Exit(0);
  }

  void finish() {
    stopped_ = true;
    emit(WatchEvent::Kind::stopped);
    timer_.cancel();
    stop_timer_.cancel();
    signals_.cancel();
    io_.stop();
  }

  // ---- events ----

  WatchEvent make(WatchEvent::Kind kind) const {
    WatchEvent event;
    event.kind = kind;
    event.at_millis = Clock::system_millis();
    if (kind == WatchEvent::Kind::stopped) event.detail = stop_detail_;
    if (kind == WatchEvent::Kind::started) {
      event.detail = enrollment_.hq_url + ": a probe every " + seconds_text(options_.probe_interval) + ", a sync " +
                     seconds_text(options_.debounce) + " after local writes and every " + seconds_text(options_.pull_interval) +
                     ", backoff up to " + seconds_text(options_.max_backoff);
    }
    if (kind == WatchEvent::Kind::stopping) event.reason = running_reason_;
    return event;
  }
  void emit(WatchEvent::Kind kind) { on_event_(make(kind)); }

  const std::filesystem::path home_;
  PluginHost& types_;  // replaced in place when HQ's plugins change
  Enrollment enrollment_;
  WatchOptions options_;
  std::function<void(const WatchEvent&)> on_event_;
  std::mt19937_64 random_;

  boost::asio::io_context io_;
  boost::asio::signal_set signals_{io_, SIGTERM, SIGINT};
  boost::asio::steady_timer timer_{io_};
  boost::asio::steady_timer stop_timer_{io_};
  std::unique_ptr<HttpsClient> connection_;  // used by one job at a time, on network_
  boost::asio::thread_pool network_{1};      // last: joined (in ~Loop) before the rest goes

  Link link_ = Link::unknown;
  Job job_ = Job::none;
  SyncReason running_reason_ = SyncReason::start;
  std::optional<SyncReason> sync_due_;
  Steady::time_point not_before_{};  // no sync before this (Retry-After, a refusal)
  Steady::time_point next_probe_{}, next_pull_{}, next_write_check_{};
  StoreStamp stamp_;
  std::optional<Steady::time_point> write_seen_;  // the first write of a burst not yet synced
  Steady::time_point quiet_until_{};
  std::size_t failures_ = 0;   // probes or syncs in a row that could not reach HQ
  std::size_t refusals_ = 0;   // syncs in a row that HQ refused (or the store failed)
  std::size_t successes_ = 0;
  bool stop_requested_ = false, stopped_ = false;
  // stop_requested_ as the sync thread reads it (SyncOptions::should_stop).
  std::atomic<bool> stop_asked_{false};
  std::string stop_detail_;
};

Watch::Watch(std::filesystem::path home, PluginHost& types, Enrollment enrollment, WatchOptions options,
             std::function<void(const WatchEvent&)> on_event)
    : loop_(std::make_unique<Loop>(std::move(home), types, std::move(enrollment), std::move(options), std::move(on_event))) {}

Watch::~Watch() = default;

void Watch::run() { loop_->run(); }

}  // namespace fieldsync
