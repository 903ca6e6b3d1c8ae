// Laptops that die mid-sync and an HQ that dies mid-sync, played with SIGKILL: first `fieldsync
// sync` is killed at random points (a random number of bytes into its conversation, or a random
// time after it started), then, separately, `fieldsync-hq serve` is, and restarted on the same
// port. Only kills that land while a sync is in flight count: the sync's child had started and not
// exited, and bytes of it had reached HQ. Then a clean sync of everyone, and the end state must be
// as if nothing had happened: converged byte for byte, nothing lost or duplicated, outboxes empty,
// every store intact (PRAGMA integrity_check).
//
// FIELDSYNC_KILLS sets the number of in-flight kills of each kind (default 50; 25 under the
// sanitizers), FIELDSYNC_FAULT_SEED the seed (printed, to replay a failure).
#include <gtest/gtest.h>

#include <iostream>

#include "support/sync_fleet.hpp"

namespace fieldsync {
namespace {

// In-flight kills of each kind a run makes by default. Under ASan+UBSan every process is several
// times slower: that pass is there to catch memory and UB errors on the kill paths, which fewer
// kills still walk; the normal build does the full count.
#if defined(__SANITIZE_ADDRESS__)
constexpr std::size_t kDefaultKills = 25;
#else
constexpr std::size_t kDefaultKills = 50;
#endif


using testing::FaultPlan;
using testing::SpawnedProcess;
using Clock = std::chrono::steady_clock;

std::size_t count_from_env(const char* variable, std::size_t fallback) {
  const char* value = std::getenv(variable);
  return value != nullptr && *value != '\0' ? std::stoul(value) : fallback;
}

// `fieldsync-hq serve` that the test can SIGKILL and start again on the same port.
class HqServer {
 public:
  explicit HqServer(std::filesystem::path home) : home_(std::move(home)) {}

  // Starts serving on 127.0.0.1:`port` (0: a free one) and returns the port, once HQ says it
  // listens (bounded).
  std::uint16_t start(std::uint16_t port) {
    ++starts_;
    const auto out = home_ / ("serve-" + std::to_string(starts_) + ".out");
    process_ = std::make_unique<SpawnedProcess>(
        std::vector<std::string>{FIELDSYNC_HQ_CLI, "--home", home_.string(), "serve", "--listen",
                                 "127.0.0.1:" + std::to_string(port), "--json"},
        std::map<std::string, std::string>{}, out, home_ / ("serve-" + std::to_string(starts_) + ".err"));
    const auto deadline = Clock::now() + std::chrono::seconds(30);
    for (;;) {
      const std::string text = read_file(out);
      if (const auto newline = text.find('\n'); newline != std::string::npos) {
        return testing::port_of(nlohmann::json::parse(text.substr(0, newline)).at("listening").get<std::string>());
      }
      if (!process_->running() || Clock::now() > deadline) {
        const RunResult r = process_->wait(std::chrono::seconds(5));
        throw std::runtime_error("fieldsync-hq serve did not start on port " + std::to_string(port) + ": " + r.err);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  }

  void kill() {
    process_->kill(SIGKILL);
    process_->wait(std::chrono::seconds(10));
    process_.reset();
  }

  // SIGTERM; the exit code.
  int stop() {
    if (!process_) return 0;
    process_->kill(SIGTERM);
    const int code = process_->wait(std::chrono::seconds(30)).exit_code;
    process_.reset();
    return code;
  }

  ~HqServer() { stop(); }

 private:
  std::filesystem::path home_;
  std::unique_ptr<SpawnedProcess> process_;
  int starts_ = 0;
};

// One write of a laptop between syncs: a new record, an edit of one of its own, or a deletion.
void work_offline(const testing::Laptop& laptop, const testing::ActivitySource& source, std::mt19937_64& rng,
                  testing::RecordBook& book, std::size_t& serial) {
  const auto ids = book.own_live(laptop);
  const auto dice = rng() % 10;
  if (ids.empty() || dice < 5) {
    const nlohmann::json line = source.variant(rng(), laptop.name + " k" + std::to_string(++serial), rng);
    book.wrote(laptop, laptop.json({"add", "activity", "--file", "-"}, line.dump()));
  } else if (dice < 9) {
    std::vector<std::string> args = {"edit", ids[rng() % ids.size()]};
    for (auto& a : testing::random_edit(rng, ++serial)) args.push_back(std::move(a));
    book.wrote(laptop, laptop.json(args));
  } else {
    book.wrote(laptop, laptop.json({"delete", ids[rng() % ids.size()]}));
  }
}

std::string integrity(const std::filesystem::path& db) {
  const auto rows = testing::store_rows(db, "PRAGMA integrity_check");
  return rows.empty() ? "<nothing>" : rows.front();
}

struct LastSync {
  std::size_t bytes = 64 * 1024;
  std::chrono::milliseconds took{300};
};

// How far into a sync to strike, drawn from what a whole sync of this laptop took last time: a
// number of bytes through its proxy (either way), or a time after its first byte reached HQ —
// not after the process started: a strike during its start-up would hit no sync.
class StrikePoint {
 public:
  StrikePoint(std::mt19937_64& rng, const LastSync& last)
      : by_bytes_(rng() % 2 == 0),
        bytes_(1 + rng() % std::max<std::size_t>(4096, last.bytes)),
        after_(rng() % std::max<std::int64_t>(20, last.took.count())) {}

  // Whether to strike now, `moved` bytes through the proxy so far, `up` of them to HQ.
  bool reached(std::size_t moved, std::size_t up) {
    if (up == 0) return false;
    if (!seen_first_byte_) {
      seen_first_byte_ = true;
      first_byte_ = Clock::now();
    }
    return by_bytes_ ? moved >= bytes_ : Clock::now() - first_byte_ >= after_;
  }

 private:
  bool by_bytes_;
  std::size_t bytes_;
  std::chrono::milliseconds after_;
  bool seen_first_byte_ = false;
  Clock::time_point first_byte_{};
};

TEST(SyncKill, SyncsAndHqKilledMidSyncLoseNothingAndConvergeAfterRestart) {
  const std::uint64_t seed = testing::seed_from_env("FIELDSYNC_FAULT_SEED", 20261203);
  const std::size_t wanted = count_from_env("FIELDSYNC_KILLS", kDefaultKills);
  SCOPED_TRACE("replay with FIELDSYNC_FAULT_SEED=" + std::to_string(seed));
  std::cout << "[ seed     ] FIELDSYNC_FAULT_SEED=" << seed << " FIELDSYNC_KILLS=" << wanted << std::endl;
  std::mt19937_64 rng(seed);
  const auto budget = std::chrono::seconds(count_from_env("FIELDSYNC_KILL_SECONDS", 240));

  TempDir dir;
  const auto hq_home = dir.path() / "hq";
  ASSERT_EQ(run_hq(hq_home, {"init", "--json"}).exit_code, 0);
  std::map<std::string, std::string> tokens;
  for (const std::string office : {"NER", "AFG"}) {
    const RunResult r = run_hq(hq_home, {"office", "add", office, "--json"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    tokens[office] = nlohmann::json::parse(r.out).at("token");
  }
  const std::filesystem::path ca_file = hq_home / "tls" / "ca.pem";
  HqServer hq(hq_home);
  const std::uint16_t hq_port = hq.start(0);

  // Two laptops of each office, each behind a link of 5 to 20 ms each way, so a sync takes a few
  // round trips and a kill lands inside one.
  std::vector<testing::Laptop> fleet;
  for (const auto& [name, office] : std::vector<std::pair<std::string, std::string>>{
           {"NER-1", "NER"}, {"NER-2", "NER"}, {"AFG-1", "AFG"}, {"AFG-2", "AFG"}}) {
    fleet.push_back(testing::make_laptop(dir.path(), name, office, hq_port, ca_file, tokens.at(office)));
    FaultPlan plan;
    plan.delay_each_way = std::chrono::milliseconds(5 + rng() % 16);
    fleet.back().proxy->set_plan(plan);
  }
  std::vector<testing::Laptop*> laptops;
  for (auto& l : fleet) laptops.push_back(&l);

  const testing::ActivitySource source;
  testing::RecordBook book;
  for (std::size_t k = 0; k < fleet.size(); ++k) {
    std::vector<nlohmann::json> lines;
    for (std::size_t i = k; i < source.real_count(); i += fleet.size()) lines.push_back(source.real(i));
    for (int v = 0; v < 140; ++v) lines.push_back(source.variant(rng(), fleet[k].name + " v" + std::to_string(v), rng));
    testing::import_and_book(fleet[k], lines, book, dir.path());
  }
  std::map<std::string, LastSync> last;
  std::size_t serial = 0;
  const auto started = Clock::now();

  // 1. `fieldsync sync` killed mid-sync.
  std::size_t sync_kills = 0, sync_attempts = 0, finished_first = 0;
  while (sync_kills < wanted && sync_attempts < 8 * wanted && Clock::now() - started < budget) {
    ++sync_attempts;
    testing::Laptop& laptop = fleet[rng() % fleet.size()];
    work_offline(laptop, source, rng, book, serial);
    StrikePoint strike(rng, last[laptop.name]);
    bool hung = false;
    const testing::SyncOutcome s = testing::run_sync(
        laptop, std::chrono::milliseconds(0),
        [&](std::chrono::milliseconds, const testing::FaultStats& d) {
          return strike.reached(d.bytes_up + d.bytes_down, d.bytes_up);
        },
        &hung);
    ASSERT_FALSE(hung) << laptop.name << ": a sync hung: " << s.result.err;
    const bool in_flight = s.killed && s.result.exit_code == -1 && s.after.bytes_up > s.before.bytes_up;
    if (in_flight) {
      ++sync_kills;
      EXPECT_EQ(integrity(laptop.store()), "ok|") << laptop.name << " after a kill";
    } else if (!s.killed || s.result.exit_code != -1) {
      ++finished_first;  // it ended before the strike point: a whole sync, to size the next strikes
      EXPECT_EQ(s.result.exit_code, 0) << laptop.name << ": a sync with nothing done to it failed: " << s.result.err;
      if (s.result.exit_code == 0) {
        const double seconds = nlohmann::json::parse(s.result.out).value("seconds", 0.3);
        last[laptop.name] = {s.bytes(), std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000))};
      }
    }
  }
  const double sync_phase = std::chrono::duration<double>(Clock::now() - started).count();
  std::cout << "[ kills    ] fieldsync sync: " << sync_kills << " killed in flight of " << sync_attempts << " syncs ("
            << finished_first << " finished before the strike) in " << sync_phase << " s" << std::endl;
  EXPECT_GE(sync_kills, wanted);

  // 2. `fieldsync-hq serve` killed while one or two laptops sync, then started again on its port.
  std::size_t hq_kills = 0, hq_attempts = 0;
  std::map<int, std::size_t> exits_after_hq_kill;
  const auto hq_phase_started = Clock::now();
  while (hq_kills < wanted && hq_attempts < 8 * wanted && Clock::now() - started < budget) {
    ++hq_attempts;
    std::vector<testing::Laptop*> syncing = {&fleet[rng() % fleet.size()]};
    if (rng() % 2 == 0) {
      testing::Laptop* second = &fleet[rng() % fleet.size()];
      if (second != syncing.front()) syncing.push_back(second);
    }
    std::size_t last_bytes = 0;
    std::chrono::milliseconds last_took{0};
    std::vector<testing::FaultStats> before;
    for (auto* l : syncing) {
      work_offline(*l, source, rng, book, serial);
      last_bytes += last[l->name].bytes;
      last_took = std::max(last_took, last[l->name].took);
      before.push_back(l->proxy->stats());
    }
    StrikePoint strike(rng, LastSync{last_bytes, last_took});
    std::vector<std::unique_ptr<SpawnedProcess>> children;
    for (auto* l : syncing) {
      children.push_back(std::make_unique<SpawnedProcess>(
          std::vector<std::string>{FIELDSYNC_CLI, "--home", l->home.string(), "sync", "--json"},
          testing::sync_environment(), l->home / "sync.out", l->home / "sync.err"));
    }
    const auto t0 = Clock::now();
    bool struck = false, in_flight = false;
    for (;;) {
      bool any_running = false;
      std::size_t moved = 0, up = 0, reached_hq = 0;
      for (std::size_t i = 0; i < syncing.size(); ++i) {
        const bool running = children[i]->running();
        any_running = any_running || running;
        const auto d = testing::stats_delta(syncing[i]->proxy->stats(), before[i]);
        moved += d.bytes_up + d.bytes_down;
        up += d.bytes_up;
        if (running && d.bytes_up > 0) ++reached_hq;
      }
      if (!any_running || Clock::now() - t0 > testing::kSyncBound) break;
      if (strike.reached(moved, up)) {
        in_flight = reached_hq > 0;
        hq.kill();
        struck = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (struck) {
      EXPECT_EQ(integrity(hq_home / "replica.db"), "ok|") << "HQ's store after a kill";
      ASSERT_EQ(hq.start(hq_port), hq_port);
    }
    for (std::size_t i = 0; i < syncing.size(); ++i) {
      const RunResult r = children[i]->wait(testing::kSyncBound);
      const auto proxy_now = syncing[i]->proxy->stats();
      ASSERT_FALSE(children[i]->killed_at_bound())
          << syncing[i]->name << ": a sync hung" << (struck ? " after HQ was killed" : "") << " (its proxy: "
          << proxy_now.open << " connections open, " << proxy_now.connections - before[i].connections
          << " accepted during it, " << proxy_now.refused - before[i].refused << " refused; "
          << proxy_now.bytes_up - before[i].bytes_up << " bytes up, " << proxy_now.bytes_down - before[i].bytes_down
          << " down): " << r.err;
      if (struck) ++exits_after_hq_kill[r.exit_code];
      if (r.exit_code != 0) {
        EXPECT_TRUE(struck) << syncing[i]->name << ": a sync failed with HQ up: " << r.err;
        EXPECT_EQ(r.exit_code, 6) << syncing[i]->name << ": HQ died mid-sync: a network error, " << r.err;
        EXPECT_EQ(testing::unclear_failure(r), "") << syncing[i]->name;
      }
    }
    if (in_flight) ++hq_kills;
  }
  const double hq_phase = std::chrono::duration<double>(Clock::now() - hq_phase_started).count();
  std::cout << "[ kills    ] fieldsync-hq serve: " << hq_kills << " killed in flight of " << hq_attempts << " rounds in "
            << hq_phase << " s; exits of the syncs it cut:";
  for (const auto& [code, n] : exits_after_hq_kill) std::cout << " " << code << " x" << n;
  std::cout << "; " << book.records().size() << " records written" << std::endl;
  EXPECT_GE(hq_kills, wanted);

  // 3. Everyone syncs cleanly until nothing moves; then the end state.
  const auto problems = testing::settle(laptops);
  ASSERT_TRUE(problems.empty()) << testing::describe(problems);
  const auto end_problems = testing::check_fleet(laptops, hq_home, book);
  EXPECT_TRUE(end_problems.empty()) << testing::describe(end_problems);
  EXPECT_EQ(hq.stop(), 0) << "HQ stops cleanly after all that";
}

}  // namespace
}  // namespace fieldsync
