// bench_sync: how fast and how lean a sync with HQ is, measured as a new user would see it.
//
// Everything runs as the real binaries, child processes of this driver, in one temp folder, over
// TLS on 127.0.0.1: `fieldsync-hq serve` (port 0) and `fieldsync` laptops of office NER, on the
// N records of `python3 SHARED_DATA/variants.py N` (the 440 real activities, then copies with
// their words shuffled, so no record repeats another and compression cannot fold copies away).
//
// What it measures (issue 11's table), each sync timed from spawn to exit of `fieldsync sync`:
//   1. first push   — laptop A imports the N records (timed, but not as sync), then syncs:
//                     records/s, requests, bytes up and down per record (from `sync --json`,
//                     bodies on the wire, compressed).
//   2. first pull   — a fresh laptop B of NER syncs and receives the N records.
//   3. 1% edit      — A edits one field (`participants`) of N/100 records, one `fieldsync edit`
//                     each (the CLI has no batch edit; their time is reported apart, not counted),
//                     then syncs; B then pulls those edits. Bytes are per changed record.
//   4. no-op        — A syncs again with nothing to send or receive.
//   5. peak RSS     — of the laptop process in each sync (wait4's ru_maxrss), and of HQ (VmHWM of
//                     /proc/PID/status, sampled after each step and just before it is stopped).
//   6. small sync   — over a delay proxy (tests/support/fault_proxy.hpp, 350 ms each way, so a
//                     700 ms round trip): laptop C, of another office (AFG, so its first sync
//                     pulls nothing of A's N records), adds one record and runs a cold
//                     `fieldsync sync` (a new process: TCP, TLS and the sync itself); seconds and
//                     round trips ≈ seconds / 0.7. The proxy accepts on loopback and holds bytes,
//                     so TCP's own handshake is not delayed: a real link adds one round trip to
//                     what is measured here (TLS 1.3's handshake and each request are).
//                     Then the same on `fieldsync watch --json`'s kept connection: C adds a record
//                     while watch runs; the figure is the time from the add's exit to watch's line
//                     of the sync that carried it, minus the debounce (which still holds up to one
//                     write check, 0.5 s, of watch noticing the write), beside the sync's own time
//                     as watch logs it, and the connections the proxy accepted meanwhile (the
//                     promise is none: a figure, not a check).
//
// Only correctness is checked, never speed: after the push A's outbox is empty; after the pull B
// holds the same N records as A (`status --json` counts, and `show --json` of a sample of them
// byte for byte); the edits arrive on B; the no-op sync moves nothing. The exit status is 1 when
// a check fails or a child fails or times out (each child is bounded by kChildTimeout, then
// SIGKILL), 2 for a bad command line.
//
// Output: one JSON object per figure on standard output (for scripts), a readable summary on
// standard error. Build in Release (-DCMAKE_BUILD_TYPE=Release). Usage:
//   bench_sync [--records N] [--keep] [--skip-latency]
//
// For comparison, the peer issue 11 quotes (CouchDB-style replication by PouchDB, in memory, no
// TLS, its own synthetic documents) runs apart from this driver; its folder is read-only, so copy
// it first:  cp -r ../shared/peers/pouchdb /tmp/pouchdb && chmod -R u+w /tmp/pouchdb &&
//             /tmp/pouchdb/run.sh 100000 1000
// (the first run does `npm install`; it prints one JSON line of figures). Run it in the same
// session as this bench and quote both.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_temp_dir.hpp"
#include "bench_child.hpp"
#ifdef FIELDSYNC_BENCH_FAULT_PROXY
#include "fault_proxy.hpp"
#endif

namespace {

namespace fs = std::filesystem;
using fieldsync::bench::BenchChild;
using fieldsync::bench::ChildExit;
using fieldsync::bench::Clock;
using json = nlohmann::json;

constexpr long kMaxRecords = 10'000'000;
constexpr auto kChildTimeout = std::chrono::minutes(15);         // any one child process
constexpr auto kServeStartTimeout = std::chrono::seconds(30);    // until HQ prints its address
constexpr auto kServeStopTimeout = std::chrono::seconds(60);     // SIGTERM to exit
constexpr long kEditEvery = 100;                                 // 1% of the records are edited
constexpr long kSampleRecords = 25;                              // compared A vs B with `show --json`
constexpr auto kDelayEachWay = std::chrono::milliseconds(350);   // the satellite link of issue 11
constexpr double kRoundTripSeconds = 2 * 0.350;
constexpr int kSmallSyncs = 3;                                   // of each kind; the median is the figure
constexpr double kWatchDebounceSeconds = 1.5;                    // `watch --debounce`, taken off its latency
constexpr auto kWatchSyncTimeout = std::chrono::seconds(60);     // for watch to log an expected sync

struct Options {
  long records = 100'000;
  bool keep = false;
  bool skip_latency = false;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "bench_sync: " << message << "\n"
            << "usage: bench_sync [--records N] [--keep] [--skip-latency]\n";
  std::exit(2);
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--records" && i + 1 < argc) {
      char* end = nullptr;
      const char* text = argv[++i];
      options.records = std::strtol(text, &end, 10);
      // At least kEditEvery, so that the 1% edit touches one record or more.
      if (end == text || *end != '\0' || options.records < kEditEvery || options.records > kMaxRecords) {
        usage_error("--records takes a whole number from " + std::to_string(kEditEvery) + " to " +
                    std::to_string(kMaxRecords));
      }
    } else if (arg == "--keep") {
      options.keep = true;
    } else if (arg == "--skip-latency") {
      options.skip_latency = true;
    } else {
      usage_error("unknown or incomplete option: " + arg);
    }
  }
  return options;
}

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }
// Rounded to `decimals` places, in a form that prints short in JSON.
double round_to(double value, int decimals) {
  const double scale = std::pow(10.0, decimals);
  return std::round(value * scale) / scale;
}
double megabytes(long kb) { return round_to(static_cast<double>(kb) / 1024.0, 1); }

// ---------------------------------------------------------------------------------------------
// Temp folder: bench_temp_dir.hpp.
using fieldsync::bench::TempDir;

// ---------------------------------------------------------------------------------------------
// Correctness checks: each failure is printed at once and counted; the exit status reports them.

class Checks {
 public:
  void expect(bool ok, const std::string& what) {
    if (ok) return;
    std::cerr << "FAIL: " << what << "\n";
    failures_.push_back(what);
  }
  const std::vector<std::string>& failures() const { return failures_; }

 private:
  std::vector<std::string> failures_;
};

// ---------------------------------------------------------------------------------------------
// The real binaries.

ChildExit run_checked(const std::vector<std::string>& argv, const std::string& what) {
  BenchChild child(argv);
  ChildExit exit = child.wait(kChildTimeout);
  if (exit.status != 0) {
    throw std::runtime_error(what + " exited with " + std::to_string(exit.status) + ": " + exit.err.substr(0, 2000));
  }
  return exit;
}

json parse_output(const ChildExit& exit, const std::string& what) {
  try {
    return json::parse(exit.out);
  } catch (const json::exception& e) {
    throw std::runtime_error(what + " printed no JSON (" + e.what() + "): " + exit.out.substr(0, 500));
  }
}

// `fieldsync --home HOME --json ARGS…`; its output parsed, the whole exit in *exit if asked.
json fieldsync(const fs::path& home, const std::vector<std::string>& args, ChildExit* exit = nullptr) {
  std::vector<std::string> argv = {FIELDSYNC_BIN, "--home", home.string(), "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string what = "fieldsync " + args.front() + " (" + home.filename().string() + ")";
  ChildExit done = run_checked(argv, what);
  json out = parse_output(done, what);
  if (exit != nullptr) *exit = std::move(done);
  return out;
}

json fieldsync_hq(const fs::path& home, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {FIELDSYNC_HQ_BIN, "--home", home.string(), "--json"};
  argv.insert(argv.end(), args.begin(), args.end());
  const std::string what = "fieldsync-hq " + args.front();
  return parse_output(run_checked(argv, what), what);
}

// HQ: `fieldsync-hq init`, offices, and `serve` on a free port of 127.0.0.1 until stop().
class Hq {
 public:
  explicit Hq(fs::path home) : home_(std::move(home)) {
    ca_file_ = fieldsync_hq(home_, {"init"}).at("ca_file").get<std::string>();
  }

  std::string add_office(const std::string& code) {
    return fieldsync_hq(home_, {"office", "add", code}).at("token").get<std::string>();
  }

  void start() {
    // Its output goes to files: nobody reads a pipe while the bench runs, and a full one would
    // block HQ.
    const fs::path out = home_.parent_path() / "hq-serve.out";
    const fs::path err = home_.parent_path() / "hq-serve.err";
    serve_.emplace(std::vector<std::string>{FIELDSYNC_HQ_BIN, "--home", home_.string(), "--json", "serve", "--listen",
                                            "127.0.0.1:0"},
                   out, err);
    const auto line = fieldsync::bench::first_line_of(out, *serve_, kServeStartTimeout);
    if (!line) throw std::runtime_error("fieldsync-hq serve did not start: " + fieldsync::bench::read_text(err));
    url_ = json::parse(*line).at("listening").get<std::string>();
    port_ = static_cast<std::uint16_t>(std::stoi(url_.substr(url_.rfind(':') + 1)));
  }

  // HQ's peak resident set so far, and now, in kB (-1 if HQ is not running).
  long peak_rss_kb() const { return serve_ ? fieldsync::bench::proc_status_kb(serve_->pid(), "VmHWM") : -1; }
  long rss_kb() const { return serve_ ? fieldsync::bench::proc_status_kb(serve_->pid(), "VmRSS") : -1; }

  // SIGTERM, as a service manager stops it; the exit status.
  int stop() {
    if (!serve_) return 0;
    serve_->signal(SIGTERM);
    const int status = serve_->wait(kServeStopTimeout).status;
    serve_.reset();
    return status;
  }

  const std::string& url() const { return url_; }
  std::uint16_t port() const { return port_; }
  const std::string& ca_file() const { return ca_file_; }

 private:
  fs::path home_;
  std::string ca_file_;
  std::string url_;
  std::uint16_t port_ = 0;
  std::optional<BenchChild> serve_;
};

// ---------------------------------------------------------------------------------------------
// One timed `fieldsync sync --json`.

struct SyncRun {
  std::string figure;
  long records = 0;      // records the figure is about (rates and bytes per record use it)
  double seconds = 0;    // wall time, spawn to exit
  long laptop_rss_kb = 0;
  long hq_peak_rss_kb = 0;  // HQ's VmHWM just after this sync
  json summary;          // what `sync --json` printed
};

SyncRun timed_sync(const std::string& figure, const fs::path& home, long records, const Hq& hq) {
  ChildExit exit;
  SyncRun run;
  run.figure = figure;
  run.records = records;
  run.summary = fieldsync(home, {"sync"}, &exit);
  run.seconds = exit.seconds;
  run.laptop_rss_kb = exit.peak_rss_kb;
  run.hq_peak_rss_kb = hq.peak_rss_kb();
  return run;
}

long summary_count(const json& summary, const char* key) { return summary.value(key, -1L); }

json sync_figure(const SyncRun& run) {
  const double bytes_up = static_cast<double>(summary_count(run.summary, "bytes_sent"));
  const double bytes_down = static_cast<double>(summary_count(run.summary, "bytes_received"));
  json figure = {{"figure", run.figure},
                 {"records", run.records},
                 {"seconds", round_to(run.seconds, 3)},
                 {"reported_seconds", run.summary.value("seconds", 0.0)},
                 {"requests", summary_count(run.summary, "requests")},
                 {"sent", summary_count(run.summary, "sent")},
                 {"received", summary_count(run.summary, "received")},
                 {"bytes_sent", summary_count(run.summary, "bytes_sent")},
                 {"bytes_received", summary_count(run.summary, "bytes_received")},
                 {"laptop_peak_rss_mb", megabytes(run.laptop_rss_kb)},
                 {"hq_peak_rss_mb", megabytes(run.hq_peak_rss_kb)}};
  if (run.records > 0) {
    const double n = static_cast<double>(run.records);
    figure["records_per_s"] = std::round(n / run.seconds);
    figure["bytes_per_record_up"] = round_to(bytes_up / n, 1);
    figure["bytes_per_record_down"] = round_to(bytes_down / n, 1);
    figure["bytes_per_record_total"] = round_to((bytes_up + bytes_down) / n, 1);
  }
  if (run.summary.contains("new_connections")) figure["new_connections"] = run.summary["new_connections"];
  return figure;
}

void print_figure(const json& figure) { std::cout << figure.dump() << std::endl; }

// ---------------------------------------------------------------------------------------------
// The records and the replicas' state.

// The ids of the generated file, in its order.
std::vector<std::string> record_ids(const fs::path& file) {
  std::ifstream in(file);
  std::vector<std::string> ids;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) ids.push_back(json::parse(line).at("id").get<std::string>());
  }
  return ids;
}

// `count` ids spread evenly over `ids`, the first and the last among them.
std::vector<std::string> spread(const std::vector<std::string>& ids, long count) {
  std::vector<std::string> out;
  const long n = static_cast<long>(ids.size());
  count = std::min(count, n);
  for (long i = 0; i < count; ++i) {
    out.push_back(ids[static_cast<std::size_t>(count == 1 ? 0 : i * (n - 1) / (count - 1))]);
  }
  return out;
}

json status_of(const fs::path& home) { return fieldsync(home, {"status"}); }

void expect_outbox_empty(Checks& checks, const fs::path& home, const std::string& when) {
  const json status = status_of(home);
  checks.expect(status.value("pending_records", -1L) == 0 && status.value("pending_changes", -1L) == 0,
                "outbox empty " + when + ": " + std::to_string(status.value("pending_records", -1L)) + " records, " +
                    std::to_string(status.value("pending_changes", -1L)) + " changes still pending");
}

// `show --json` of each id on both laptops must be the same record, versions included.
void expect_same_records(Checks& checks, const fs::path& a, const fs::path& b, const std::vector<std::string>& ids,
                         const std::string& when) {
  long different = 0;
  for (const auto& id : ids) {
    const json on_a = fieldsync(a, {"show", id});
    const json on_b = fieldsync(b, {"show", id});
    if (on_a != on_b && ++different == 1) {
      std::cerr << "  " << id << " on A: " << on_a.dump().substr(0, 600) << "\n"
                << "  " << id << " on B: " << on_b.dump().substr(0, 600) << "\n";
    }
  }
  checks.expect(different == 0, std::to_string(different) + " of " + std::to_string(ids.size()) +
                                    " sampled records differ between A and B " + when);
}

// ---------------------------------------------------------------------------------------------
// Small syncs over a 700 ms round trip: cold (a new `fieldsync sync` process), then on
// `fieldsync watch`'s kept connection.

struct SmallSyncs {
  bool measured = false;
  std::string reason;                    // why not, when not measured
  std::vector<double> seconds;           // cold: the process's wall time; watch: the add's exit to
                                         // watch's line of the sync, minus the debounce
  std::vector<double> logged_seconds;    // watch: the sync itself, as watch logs it
  std::vector<long> connections;         // connections the proxy accepted meanwhile
  std::vector<long> requests;
  std::vector<long> wire_up, wire_down;  // bytes through the proxy each way, TLS included
  long peak_rss_kb = 0;                  // watch: the watch process's own peak

  static double median(std::vector<double> values) {
    if (values.empty()) return 0;
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  }
};

json small_sync_figure(const std::string& name, const SmallSyncs& s) {
  if (!s.measured) return {{"figure", name}, {"measured", false}, {"reason", s.reason}};
  const double median = SmallSyncs::median(s.seconds);
  json figure = {{"figure", name},
                 {"delay_each_way_ms", kDelayEachWay.count()},
                 {"syncs", s.seconds.size()},
                 {"seconds", round_to(median, 3)},
                 {"round_trips", round_to(median / kRoundTripSeconds, 1)},
                 {"each_seconds", s.seconds},
                 {"connections", s.connections},
                 {"requests", s.requests},
                 {"wire_bytes_up", s.wire_up},
                 {"wire_bytes_down", s.wire_down}};
  if (!s.logged_seconds.empty()) {
    const double logged = SmallSyncs::median(s.logged_seconds);
    figure["logged_seconds"] = round_to(logged, 3);
    figure["logged_round_trips"] = round_to(logged / kRoundTripSeconds, 1);
    figure["each_logged_seconds"] = s.logged_seconds;
    figure["debounce_seconds"] = kWatchDebounceSeconds;
  }
  if (s.peak_rss_kb > 0) figure["laptop_peak_rss_mb"] = megabytes(s.peak_rss_kb);
  return figure;
}

struct Latency {
  SmallSyncs cold, watch;
};

#ifdef FIELDSYNC_BENCH_FAULT_PROXY
// Whether this build of `fieldsync` has a `watch` command: its help lists the subcommands, one a
// line, each indented by two spaces.
bool has_watch_command() {
  BenchChild child(std::vector<std::string>{FIELDSYNC_BIN, "--help"});
  const ChildExit exit = child.wait(std::chrono::seconds(30));
  return exit.status == 0 && exit.out.find("\n  watch ") != std::string::npos;
}

void add_small_record(const fs::path& home, int i) {
  fieldsync(home, {"add", "activity", "title=Visite de terrain à Kaboul " + std::to_string(i), "priority_area=8",
                   "goal=2.8.3", "kind=field_visit", "status=implemented", "start_date=2026-01-15"});
}

using fieldsync::testing::FaultProxy;

// What the proxy saw between two of its stats.
void note_wire(SmallSyncs& out, const fieldsync::testing::FaultStats& before, const fieldsync::testing::FaultStats& after) {
  out.connections.push_back(static_cast<long>(after.connections - before.connections));
  out.wire_up.push_back(static_cast<long>(after.bytes_up - before.bytes_up));
  out.wire_down.push_back(static_cast<long>(after.bytes_down - before.bytes_down));
}

SmallSyncs cold_syncs(const fs::path& home, const FaultProxy& proxy, Checks& checks) {
  SmallSyncs out;
  for (int i = 0; i < kSmallSyncs; ++i) {
    add_small_record(home, i);
    const auto before = proxy.stats();
    ChildExit exit;
    const json summary = fieldsync(home, {"sync"}, &exit);
    note_wire(out, before, proxy.stats());
    checks.expect(summary.value("sent", -1L) == 1, "cold small sync " + std::to_string(i + 1) + " sent " +
                                                       std::to_string(summary.value("sent", -1L)) + " records, not 1");
    out.seconds.push_back(round_to(exit.seconds, 3));
    out.requests.push_back(summary.value("requests", -1L));
  }
  out.measured = true;
  return out;
}

// The next sync watch logs that `wanted` accepts; a failed sync, or none within the bound, throws.
json next_watch_sync(fieldsync::bench::LineTail& tail, BenchChild& watch, const fs::path& err_file,
                     const std::function<bool(const json&)>& wanted) {
  const auto deadline = Clock::now() + kWatchSyncTimeout;
  while (Clock::now() < deadline) {
    const auto line = tail.next(watch, deadline - Clock::now());
    if (!line) break;
    const json event = json::parse(*line, nullptr, /*allow_exceptions=*/false);
    if (event.is_discarded() || event.value("event", "") != "sync") continue;
    if (!event.value("ok", false)) throw std::runtime_error("fieldsync watch: a sync failed: " + *line);
    if (wanted(event)) return event;
  }
  throw std::runtime_error("fieldsync watch logged no expected sync within " +
                           std::to_string(kWatchSyncTimeout.count()) + " s: " +
                           fieldsync::bench::read_text(err_file).substr(0, 2000));
}

SmallSyncs watch_syncs(const fs::path& home, const FaultProxy& proxy, Checks& checks) {
  const fs::path out_file = home.parent_path() / "watch-c.out";
  const fs::path err_file = home.parent_path() / "watch-c.err";
  char debounce[32];
  std::snprintf(debounce, sizeof debounce, "%.3f", kWatchDebounceSeconds);
  BenchChild watch({FIELDSYNC_BIN, "--home", home.string(), "--json", "watch", "--debounce", debounce}, out_file,
                   err_file);
  fieldsync::bench::LineTail tail(out_file);
  next_watch_sync(tail, watch, err_file, [](const json&) { return true; });  // the sync at start: a new connection
  SmallSyncs out;
  for (int i = 0; i < kSmallSyncs; ++i) {
    const auto before = proxy.stats();
    add_small_record(home, 100 + i);
    const auto added = Clock::now();
    const json event = next_watch_sync(tail, watch, err_file, [](const json& e) { return e.value("sent", 0L) > 0; });
    const double after_add = seconds_since(added);
    note_wire(out, before, proxy.stats());
    checks.expect(event.value("sent", -1L) == 1, "small sync " + std::to_string(i + 1) + " on watch sent " +
                                                     std::to_string(event.value("sent", -1L)) + " records, not 1");
    out.seconds.push_back(round_to(after_add - kWatchDebounceSeconds, 3));
    out.logged_seconds.push_back(round_to(event.value("seconds", 0.0), 3));
    out.requests.push_back(event.value("requests", -1L));
  }
  watch.signal(SIGTERM);
  const ChildExit exit = watch.wait(kServeStopTimeout);
  checks.expect(exit.status == 0, "fieldsync watch exited with " + std::to_string(exit.status) + " on SIGTERM");
  out.peak_rss_kb = exit.peak_rss_kb;
  out.measured = true;
  return out;
}

// Laptop C, of office AFG (nothing of NER's to pull), enrolled through the delay proxy.
Latency measure_latency(const Hq& hq, const std::string& token, const fs::path& home, Checks& checks) {
  fieldsync::testing::FaultPlan plan;
  plan.delay_each_way = kDelayEachWay;
  FaultProxy proxy(hq.port(), plan);
  fieldsync(home, {"init", "--office", "AFG", "--hq", proxy.url(), "--ca", hq.ca_file(), "--token", token});
  // A first sync with nothing to send: whatever a first contact does once is not in the figures.
  fieldsync(home, {"sync"});
  Latency out;
  out.cold = cold_syncs(home, proxy, checks);
  if (has_watch_command()) {
    out.watch = watch_syncs(home, proxy, checks);
  } else {
    // TODO(issue 11): drop this branch once every build has `fieldsync watch`.
    out.watch.reason = "not measured: no watch command yet";
  }
  return out;
}
#endif

// ---------------------------------------------------------------------------------------------
// The run.

// What the readable summary shows, on standard error, in the order of issue 11's table.
struct Report {
  long records = 0;
  long file_bytes = 0;
  std::vector<SyncRun> syncs;
  long edits = 0;
  double edit_seconds = 0;
  long laptop_peak_kb = 0, hq_peak_kb = 0;
  Latency latency;
  double total_seconds = 0;
};

void print_summary(const Report& report, const Checks& checks) {
  const long n = report.records;
  const long file_bytes = report.file_bytes;
  const auto& syncs = report.syncs;
  const long edits = report.edits;
  const double edit_seconds = report.edit_seconds;
  const long laptop_peak_kb = report.laptop_peak_kb;
  const long hq_peak_kb = report.hq_peak_kb;
  const Latency& latency = report.latency;
  const double total_seconds = report.total_seconds;
  std::fprintf(stderr, "\nSync of %ld variants.py records (%.1f MB of JSONL) over loopback TLS, Release build:\n", n,
               static_cast<double>(file_bytes) / 1e6);
  std::fprintf(stderr, "  %-22s %9s %10s %8s %9s %9s %9s %8s %8s\n", "", "seconds", "rec/s", "requests", "B/rec up",
               "B/rec dn", "B/rec tot", "laptop", "HQ peak");
  for (const auto& s : syncs) {
    const json f = sync_figure(s);
    if (s.records > 0) {
      std::fprintf(stderr, "  %-22s %9.3f %10.0f %8ld %9.1f %9.1f %9.1f %6.1fMB %6.1fMB\n", s.figure.c_str(), s.seconds,
                   f["records_per_s"].get<double>(), f["requests"].get<long>(), f["bytes_per_record_up"].get<double>(),
                   f["bytes_per_record_down"].get<double>(), f["bytes_per_record_total"].get<double>(),
                   megabytes(s.laptop_rss_kb), megabytes(s.hq_peak_rss_kb));
    } else {
      std::fprintf(stderr, "  %-22s %9.3f %10s %8ld %9s %9s %9s %6.1fMB %6.1fMB   (%ld B up, %ld B down)\n",
                   s.figure.c_str(), s.seconds, "-", f["requests"].get<long>(), "-", "-", "-", megabytes(s.laptop_rss_kb),
                   megabytes(s.hq_peak_rss_kb), f["bytes_sent"].get<long>(), f["bytes_received"].get<long>());
    }
  }
  std::fprintf(stderr, "  (edits: %ld records, bytes per changed record; %.2f s of `fieldsync edit`, not counted)\n",
               edits, edit_seconds);
  std::fprintf(stderr, "  peak RSS: laptop %.1f MB (largest sync), HQ %.1f MB (VmHWM before stopping)\n",
               megabytes(laptop_peak_kb), megabytes(hq_peak_kb));
  if (latency.cold.measured) {
    const SmallSyncs& c = latency.cold;
    const double median = SmallSyncs::median(c.seconds);
    std::fprintf(stderr, "  small sync, 350 ms each way, cold new process: %.2f s (≈ %.1f round trips of 0.7 s), "
                 "median of %zu; %ld connection(s), %ld request(s) each\n",
                 median, median / kRoundTripSeconds, c.seconds.size(), c.connections.front(), c.requests.front());
    std::fprintf(stderr, "    (the proxy does not delay TCP's handshake: on a real link add one round trip)\n");
  } else {
    std::fprintf(stderr, "  small sync, cold: %s\n", latency.cold.reason.c_str());
  }
  if (latency.watch.measured) {
    const SmallSyncs& w = latency.watch;
    const double median = SmallSyncs::median(w.seconds);
    const double logged = SmallSyncs::median(w.logged_seconds);
    std::fprintf(stderr, "  small sync on watch's open connection: %.2f s from the add's exit to watch's line, minus "
                 "the %.1f s debounce (≈ %.1f round trips);\n    the sync itself %.2f s as watch logs it (≈ %.1f "
                 "round trips); %ld new connection(s) at the proxy\n",
                 median, kWatchDebounceSeconds, median / kRoundTripSeconds, logged, logged / kRoundTripSeconds,
                 w.connections.front());
  } else {
    std::fprintf(stderr, "  small sync on watch's open connection: %s\n", latency.watch.reason.c_str());
  }
  std::fprintf(stderr, "  whole run: %.1f s; correctness: %s\n", total_seconds,
               checks.failures().empty() ? "all checks passed" : "CHECKS FAILED");
  for (const auto& f : checks.failures()) std::fprintf(stderr, "    FAIL: %s\n", f.c_str());
}

struct HqSample {
  std::string after;
  long peak_kb = 0, now_kb = 0;
};

int run(const Options& options) {
  const auto run_started = Clock::now();
  Checks checks;
  TempDir temp("bench_sync", options.keep);
  const long n = options.records;
  const fs::path records = temp.path() / "records.jsonl";
  const fs::path a = temp.path() / "laptop-a";
  const fs::path b = temp.path() / "laptop-b";

  std::cerr << "generating " << n << " records with variants.py …\n";
  {
    BenchChild generate({"python3", std::string(FIELDSYNC_SHARED_DATA_DIR) + "/variants.py", std::to_string(n)},
                        records);
    const ChildExit exit = generate.wait(kChildTimeout);
    if (exit.status != 0) throw std::runtime_error("variants.py exited with " + std::to_string(exit.status) + ": " + exit.err);
  }
  const std::vector<std::string> ids = record_ids(records);
  checks.expect(static_cast<long>(ids.size()) == n, "variants.py wrote " + std::to_string(ids.size()) + " records, not " +
                                                        std::to_string(n));
  const auto file_bytes = static_cast<long>(fs::file_size(records));

  std::cerr << "HQ: init, offices NER and AFG, serve …\n";
  Hq hq(temp.path() / "hq");
  const std::string ner_token = hq.add_office("NER");
  [[maybe_unused]] const std::string afg_token = hq.add_office("AFG");  // laptop C, for the small syncs
  hq.start();
  std::vector<HqSample> hq_samples;
  const auto sample_hq = [&](const std::string& after) { hq_samples.push_back({after, hq.peak_rss_kb(), hq.rss_kb()}); };
  sample_hq("start");

  std::cerr << "laptop A: init, enroll, import …\n";
  fieldsync(a, {"init", "--office", "NER"});
  fieldsync(a, {"enroll", "--hq", hq.url(), "--ca", hq.ca_file(), "--token", ner_token});
  ChildExit import_exit;
  const json imported = fieldsync(a, {"import", "activity", records.string()}, &import_exit);
  checks.expect(imported.value("added", -1L) == n,
                "import added " + std::to_string(imported.value("added", -1L)) + " of " + std::to_string(n) + " records");
  print_figure({{"figure", "import"}, {"records", n}, {"file_bytes", file_bytes}, {"seconds", round_to(import_exit.seconds, 3)},
                {"records_per_s", std::round(static_cast<double>(n) / import_exit.seconds)},
                {"laptop_peak_rss_mb", megabytes(import_exit.peak_rss_kb)}});

  std::cerr << "first push from A …\n";
  std::vector<SyncRun> syncs;
  syncs.push_back(timed_sync("first_push", a, n, hq));
  sample_hq("first push");
  checks.expect(summary_count(syncs.back().summary, "sent") == n,
                "first push sent " + std::to_string(summary_count(syncs.back().summary, "sent")) + " of " + std::to_string(n));
  expect_outbox_empty(checks, a, "after the first push");
  print_figure(sync_figure(syncs.back()));

  std::cerr << "first pull to a fresh laptop B …\n";
  fieldsync(b, {"init", "--office", "NER", "--hq", hq.url(), "--ca", hq.ca_file(), "--token", ner_token});
  syncs.push_back(timed_sync("first_pull", b, n, hq));
  sample_hq("first pull");
  checks.expect(summary_count(syncs.back().summary, "received") == n,
                "first pull received " + std::to_string(summary_count(syncs.back().summary, "received")) + " of " +
                    std::to_string(n));
  {
    const json on_a = status_of(a);
    const json on_b = status_of(b);
    checks.expect(on_b.value("records", -1L) == n && on_a.value("records", -1L) == n,
                  "after the pull A holds " + std::to_string(on_a.value("records", -1L)) + " records and B " +
                      std::to_string(on_b.value("records", -1L)) + ", not " + std::to_string(n) + " each");
    checks.expect(on_a.at("by_type") == on_b.at("by_type"), "A and B count records by type differently: " +
                                                                on_a.at("by_type").dump() + " vs " + on_b.at("by_type").dump());
  }
  expect_same_records(checks, a, b, spread(ids, kSampleRecords), "after the first pull");
  print_figure(sync_figure(syncs.back()));

  const long edits = n / kEditEvery;
  std::cerr << "A edits `participants` of " << edits << " records (one `fieldsync edit` each) …\n";
  const std::vector<std::string> edited = spread(ids, edits);
  const auto edits_started = Clock::now();
  for (std::size_t i = 0; i < edited.size(); ++i) {
    fieldsync(a, {"edit", edited[i], "participants=" + std::to_string(100'000 + i)});
  }
  const double edit_seconds = seconds_since(edits_started);
  print_figure({{"figure", "local_edits"}, {"edits", edits}, {"seconds", round_to(edit_seconds, 3)},
                {"ms_per_edit", round_to(edit_seconds * 1000 / static_cast<double>(edits), 1)}});
  checks.expect(status_of(a).value("pending_records", -1L) == edits, "after the edits A's outbox does not hold " +
                                                                         std::to_string(edits) + " records");

  std::cerr << "A pushes the edits, B pulls them …\n";
  syncs.push_back(timed_sync("edit_push", a, edits, hq));
  sample_hq("edit push");
  checks.expect(summary_count(syncs.back().summary, "sent") == edits,
                "edit push sent " + std::to_string(summary_count(syncs.back().summary, "sent")) + " of " +
                    std::to_string(edits));
  expect_outbox_empty(checks, a, "after the edit push");
  print_figure(sync_figure(syncs.back()));

  syncs.push_back(timed_sync("edit_pull", b, edits, hq));
  sample_hq("edit pull");
  checks.expect(summary_count(syncs.back().summary, "received") == edits,
                "edit pull received " + std::to_string(summary_count(syncs.back().summary, "received")) + " of " +
                    std::to_string(edits));
  {
    const std::vector<std::string> sample = spread(edited, kSampleRecords);
    expect_same_records(checks, a, b, sample, "after the edit pull");
    long wrong = 0;
    for (std::size_t i = 0; i < sample.size(); ++i) {
      const auto at = static_cast<std::size_t>(std::find(edited.begin(), edited.end(), sample[i]) - edited.begin());
      const json fields = fieldsync(b, {"show", sample[i]}).at("fields");
      if (fields.value("participants", -1L) != static_cast<long>(100'000 + at)) ++wrong;
    }
    checks.expect(wrong == 0, std::to_string(wrong) + " sampled edits did not reach B");
  }
  print_figure(sync_figure(syncs.back()));

  std::cerr << "no-op sync on A …\n";
  syncs.push_back(timed_sync("noop_sync", a, 0, hq));
  sample_hq("no-op sync");
  checks.expect(summary_count(syncs.back().summary, "sent") == 0 && summary_count(syncs.back().summary, "received") == 0,
                "the no-op sync moved records: " + syncs.back().summary.dump());
  print_figure(sync_figure(syncs.back()));

  Latency latency;
  if (options.skip_latency) {
    latency.cold.reason = latency.watch.reason = "skipped (--skip-latency)";
  } else {
#ifdef FIELDSYNC_BENCH_FAULT_PROXY
    std::cerr << "small syncs through a proxy delaying 350 ms each way, cold and on watch …\n";
    latency = measure_latency(hq, afg_token, temp.path() / "laptop-c", checks);
    sample_hq("small syncs");
#else
    latency.cold.reason = latency.watch.reason =
        "not measured: built without the fault proxy (tests/support, FIELDSYNC_BUILD_TESTS=OFF)";
#endif
  }
  print_figure(small_sync_figure("small_sync_cold", latency.cold));
  print_figure(small_sync_figure("small_sync_watch", latency.watch));

  const long hq_peak_kb = hq.peak_rss_kb();
  const int hq_exit = hq.stop();
  checks.expect(hq_exit == 0, "fieldsync-hq serve exited with " + std::to_string(hq_exit) + " on SIGTERM");
  long laptop_peak_kb = 0;
  json per_sync = json::object();
  for (const auto& s : syncs) {
    laptop_peak_kb = std::max(laptop_peak_kb, s.laptop_rss_kb);
    per_sync[s.figure] = megabytes(s.laptop_rss_kb);
  }
  json hq_steps = json::array();
  for (const auto& s : hq_samples) hq_steps.push_back({{"after", s.after}, {"peak_mb", megabytes(s.peak_kb)}, {"rss_mb", megabytes(s.now_kb)}});
  print_figure({{"figure", "peak_rss"}, {"records", n}, {"laptop_mb", megabytes(laptop_peak_kb)},
                {"laptop_per_sync_mb", per_sync}, {"hq_mb", megabytes(hq_peak_kb)}, {"hq_samples", hq_steps}});

  const double total_seconds = seconds_since(run_started);
  print_figure({{"figure", "run"}, {"records", n}, {"seconds", round_to(total_seconds, 1)},
                {"checks_failed", checks.failures().size()}});

  print_summary(Report{n, file_bytes, syncs, edits, edit_seconds, laptop_peak_kb, hq_peak_kb, latency, total_seconds},
                checks);
  return checks.failures().empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::cerr << "bench_sync: " << e.what() << "\n";
    return 1;
  }
}
