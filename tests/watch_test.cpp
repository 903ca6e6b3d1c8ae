// `fieldsync watch` for real: the real `fieldsync-hq serve` over TLS, reached through the fault
// proxy (tests/support/fault_proxy.hpp) so the test can take the link down and count TCP
// connections, and the real `fieldsync watch --json` as a child process whose lines the test
// reads. Also `fieldsync status` after a failed and a good sync, and the backoff's arithmetic.
#include <gtest/gtest.h>

#include <signal.h>

#include <functional>
#include <thread>

#include "fault_proxy.hpp"
#include "hq_fixture.hpp"
#include "core/tuning.hpp"
#include "sync/watch.hpp"

namespace fieldsync {
namespace {

using namespace std::chrono_literals;
using Json = nlohmann::json;

std::uint16_t port_of(const std::string& url) { return static_cast<std::uint16_t>(std::stoi(url.substr(url.rfind(':') + 1))); }

// A laptop's home, driven through the real CLI.
struct Laptop {
  std::filesystem::path home;
  RunResult run(std::vector<std::string> args) const {
    args.insert(args.begin(), {"--home", home.string()});
    return run_fieldsync(args);
  }
  Json json(std::vector<std::string> args) const {
    args.push_back("--json");
    RunResult r = run(args);
    EXPECT_EQ(r.exit_code, 0) << "fieldsync " << args[0] << ": " << r.err;
    return r.exit_code == 0 ? Json::parse(r.out) : Json();
  }
  std::string add(const std::string& title) const {
    return json({"add", "activity", "title=" + title, "priority_area=8", "goal=2.8.3", "kind=workshop", "status=planned"})["id"];
  }
};

// `fieldsync watch --json` running, with its lines read as they come.
class WatchProcess {
 public:
  WatchProcess(const Laptop& laptop, std::vector<std::string> options, bool json = true) {
    std::vector<std::string> argv{FIELDSYNC_CLI, "--home", laptop.home.string(), "watch"};
    if (json) argv.push_back("--json");
    argv.insert(argv.end(), options.begin(), options.end());
    child_ = std::make_unique<ChildProcess>(argv);
  }

  // The next event matching `wanted` within `timeout`; the events before it are kept in log().
  std::optional<Json> wait_for(const std::function<bool(const Json&)>& wanted, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto line = child_->next_output_line(left);
      if (!line) return std::nullopt;
      log_ += *line + "\n";
      Json event = Json::parse(*line, nullptr, /*allow_exceptions=*/false);
      if (event.is_discarded()) {
        ADD_FAILURE() << "watch printed a line that is not JSON: " << *line;
        continue;
      }
      events_.push_back(event);
      if (wanted(event)) return event;
    }
  }
  // The next line containing `text` within `timeout` (for text mode).
  std::optional<std::string> wait_for_text(const std::string& text, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      auto line = child_->next_output_line(left);
      if (!line) return std::nullopt;
      log_ += *line + "\n";
      if (line->find(text) != std::string::npos) return line;
    }
  }
  std::optional<Json> wait_for_event(const std::string& kind, std::chrono::milliseconds timeout) {
    return wait_for([&](const Json& e) { return e["event"] == kind; }, timeout);
  }

  // Sends `signal` and waits (bounded) for the exit; returns the exit code and the time it took.
  std::pair<int, std::chrono::milliseconds> stop(int signal, std::chrono::milliseconds bound = 10s) {
    const auto asked = std::chrono::steady_clock::now();
    child_->kill(signal);
    RunResult result = child_->wait(bound);
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - asked);
    rest_ = result.out;  // ChildProcess::wait returns everything printed, read or not
    err_ = result.err;
    return {result.exit_code, took};
  }

  const std::string& log() const { return log_; }
  const std::vector<Json>& events() const { return events_; }
  const std::string& all_output() const { return rest_; }
  const std::string& errors() const { return err_; }

 private:
  std::unique_ptr<ChildProcess> child_;
  std::string log_, rest_, err_;
  std::vector<Json> events_;
};

class WatchTest : public HqWithOffices {
 protected:
  void SetUp() override {
    HqWithOffices::SetUp();
    proxy_ = std::make_unique<testing::FaultProxy>(port_of(hq_->url()));
  }

  // A NER laptop enrolled with HQ through the proxy (or straight to HQ).
  Laptop laptop(const std::string& name, bool through_proxy = true) {
    Laptop l{dir_.path() / name};
    RunResult r = l.run({"init", "--office", "NER", "--hq", through_proxy ? proxy_->url() : hq_->url(), "--ca",
                         hq_->ca_file().string(), "--token", ner_token_});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return l;
  }

  // True when HQ holds record `id`: another NER laptop, straight to HQ, syncs and finds it.
  bool hq_has(const std::string& id) {
    Laptop other = laptop("check-" + std::to_string(++checks_), /*through_proxy=*/false);
    other.json({"sync"});
    return other.run({"show", id}).exit_code == 0;
  }

  std::unique_ptr<testing::FaultProxy> proxy_;
  int checks_ = 0;
};

// Options that make watch's schedule quick enough for a test (the defaults are seconds to minutes).
const std::vector<std::string> kQuick = {"--probe-interval", "1", "--debounce", "0.3", "--max-backoff", "0.5",
                                         "--pull-interval", "600"};

TEST_F(WatchTest, BacksOffWhileHqIsUnreachableThenSyncsByItselfWhenTheLinkReturns) {
  proxy_->set_link_down(true);
  const Laptop ner = laptop("ner");
  const std::string id = ner.add("Atelier hors ligne à Maradi");

  WatchProcess watch(ner, kQuick);
  auto first = watch.wait_for_event("sync", 20s);
  ASSERT_TRUE(first) << watch.log();
  EXPECT_FALSE((*first)["ok"].get<bool>());
  EXPECT_EQ((*first)["reason"], "start");
  EXPECT_FALSE((*first)["error"].is_null());
  ASSERT_TRUE((*first)["retry_in_seconds"].is_number());

  // Probes back off, each wait within the cap (0.5 s), while the link stays down.
  for (int i = 0; i < 3; ++i) {
    auto down = watch.wait_for_event("link_down", 10s);
    ASSERT_TRUE(down) << watch.log();
    EXPECT_LE((*down)["retry_in_seconds"].get<double>(), 0.5 + 1e-9);
    EXPECT_GT((*down)["retry_in_seconds"].get<double>(), 0);
  }
  EXPECT_GE(proxy_->stats().refused, 3u) << "every probe was a real attempt to reach HQ";
  EXPECT_FALSE(hq_has(id));

  proxy_->set_link_down(false);
  ASSERT_TRUE(watch.wait_for_event("link_up", 10s)) << watch.log();
  auto synced = watch.wait_for([](const Json& e) { return e["event"] == "sync" && e["ok"] == true; }, 10s);
  ASSERT_TRUE(synced) << watch.log();
  EXPECT_EQ((*synced)["reason"], "link_back");
  EXPECT_EQ((*synced)["sent"], 1);
  EXPECT_EQ((*synced)["pending_records"], 0);
  EXPECT_TRUE(hq_has(id)) << "the record written offline reached HQ without anyone typing `fieldsync sync`";

  const auto [code, took] = watch.stop(SIGINT);
  EXPECT_EQ(code, 0) << watch.errors();
  EXPECT_LT(took, 5s);
}

TEST_F(WatchTest, ARecordAddedWhileWatchIsIdleReachesHqWithinSecondsOnTheSameConnection) {
  const Laptop ner = laptop("ner");
  WatchProcess watch(ner, kQuick);
  auto first = watch.wait_for([](const Json& e) { return e["event"] == "sync"; }, 20s);
  ASSERT_TRUE(first) << watch.log();
  ASSERT_TRUE((*first)["ok"].get<bool>()) << watch.log();
  EXPECT_EQ((*first)["new_connections"], 1) << "the first sync opens the connection watch keeps";

  // Idle for a few probe intervals: the probes keep the one connection open.
  std::this_thread::sleep_for(2500ms);
  const std::size_t connections = proxy_->stats().connections;

  // `fieldsync add` in another process while watch runs: watch holds no lock, so the add does
  // not wait (a held write lock would make it wait for the 10 s busy timeout, then fail).
  const auto before_add = std::chrono::steady_clock::now();
  const std::string id = ner.add("Formation à Niamey, ajoutée pendant watch");
  EXPECT_LT(std::chrono::steady_clock::now() - before_add, 5s);

  auto synced = watch.wait_for([](const Json& e) { return e["event"] == "sync" && e["reason"] == "local_write"; }, 8s);
  ASSERT_TRUE(synced) << watch.log();
  EXPECT_LT(std::chrono::steady_clock::now() - before_add, 8s);
  EXPECT_TRUE((*synced)["ok"].get<bool>()) << watch.log();
  EXPECT_EQ((*synced)["sent"], 1);
  EXPECT_EQ((*synced)["requests"], 1) << "a small sync is one round trip";
  EXPECT_EQ((*synced)["new_connections"], 0) << "no new TLS handshake: " << watch.log();
  EXPECT_EQ(proxy_->stats().connections, connections) << "the proxy saw no new connection";
  EXPECT_TRUE(hq_has(id));

  const auto [code, took] = watch.stop(SIGTERM);
  EXPECT_EQ(code, 0) << watch.errors();
  EXPECT_LT(took, 5s);
  EXPECT_NE(watch.all_output().find("\"event\":\"stopped\""), std::string::npos) << watch.all_output();
}

// A first sync over a slow link takes many pages; SIGTERM (a laptop shutting down, a service
// manager stopping watch) must not wait for all of them: the sync ends after the page in hand,
// what went through is kept, and the next sync sends the rest, each record once.
TEST_F(WatchTest, SigtermDuringALongSyncStopsAfterThePageInHandAndTheNextSyncSendsTheRest) {
  testing::FaultPlan slow;
  slow.delay_each_way = 100ms;  // each page a 0.2 s round trip at least
  proxy_->set_plan(slow);
  const Laptop ner = laptop("ner");
  const RunResult imported = ner.run({"import", "activity", std::string(FIELDSYNC_SHARED_DATA_DIR) + "/activities.jsonl"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  const int records = ner.json({"status"})["pending_records"].get<int>();
  ASSERT_GT(records, 400);
  ::setenv("FIELDSYNC_SYNC_PAGE_RECORDS", "10", 1);  // 40-odd pages: 9 s or more
  WatchProcess watch(ner, kQuick);
  ::unsetenv("FIELDSYNC_SYNC_PAGE_RECORDS");
  ASSERT_TRUE(watch.wait_for_event("started", 20s)) << watch.log();
  std::this_thread::sleep_for(1500ms);  // some pages through, most still waiting

  const auto [code, took] = watch.stop(SIGTERM, 20s);
  EXPECT_EQ(code, 0) << watch.errors();
  EXPECT_LT(took, 4s) << "the sync stops after the page in hand, not after every page";
  const int left = ner.json({"status"})["pending_records"].get<int>();
  EXPECT_GT(left, 0) << "the sync was stopped before its end";
  EXPECT_LT(left, records) << "the pages sent before the stop stay sent";

  const Json rest = ner.json({"sync"});
  EXPECT_EQ(rest["sent"].get<int>(), left) << "the next sync sends what was left, and only that";
  EXPECT_EQ(ner.json({"status"})["pending_records"], 0);
  Laptop other = laptop("other", /*through_proxy=*/false);
  other.json({"sync"});
  EXPECT_EQ(other.json({"status"})["records"].get<int>(), records) << "HQ holds every record once";
}

TEST_F(WatchTest, SigtermStopsAtOnceWhileWaitingForTheLinkAndSaysSoInText) {
  proxy_->set_link_down(true);
  const Laptop ner = laptop("ner");
  // Text mode, and a backoff that waits long: SIGTERM must not wait for the next probe.
  WatchProcess watch(ner, {"--probe-interval", "1", "--max-backoff", "60"}, /*json=*/false);
  ASSERT_TRUE(watch.wait_for_text("watching " + proxy_->url(), 20s)) << watch.log();
  ASSERT_TRUE(watch.wait_for_text("sync failed (at start): ", 20s)) << watch.log();
  std::this_thread::sleep_for(1s);  // into the backoff: probes now wait up to a minute
  const auto [code, took] = watch.stop(SIGTERM);
  EXPECT_EQ(code, 0) << watch.errors();
  EXPECT_LT(took, 3s);
  EXPECT_NE(watch.all_output().find("stopped (signal SIGTERM)"), std::string::npos) << watch.all_output();
}

TEST_F(WatchTest, ARefusedSyncIsReportedAndNotRetriedSoon) {
  const Laptop ner = laptop("ner");
  ASSERT_EQ(run_hq(hq_->home(), {"office", "revoke", "NER"}).exit_code, 0);
  WatchProcess watch(ner, kQuick);
  auto refused = watch.wait_for_event("sync", 20s);
  ASSERT_TRUE(refused) << watch.log();
  EXPECT_FALSE((*refused)["ok"].get<bool>());
  EXPECT_NE((*refused)["error"].get<std::string>().find("token"), std::string::npos) << watch.log();
  EXPECT_GE((*refused)["retry_in_seconds"].get<double>(), 60) << "a refusal waits long, not the link's short backoff";

  // A local write does not make it try again meanwhile; probes go on (the link is fine).
  ner.add("Distribution à Zinder");
  EXPECT_FALSE(watch.wait_for_event("sync", 3s)) << watch.log();
  EXPECT_EQ(watch.stop(SIGTERM).first, 0);
}

TEST_F(WatchTest, StatusShowsTheFailureAndItsReasonThenTheLastGoodSync) {
  const Laptop ner = laptop("ner");
  Json fresh = ner.json({"status"});
  EXPECT_TRUE(fresh["last_sync"].is_null());
  EXPECT_TRUE(fresh["last_failure"].is_null());
  EXPECT_EQ(fresh["summary"], "Nothing waits to be sent.");

  ner.add("Visite de terrain à Tillabéri");
  proxy_->set_link_down(true);
  RunResult failed = ner.run({"sync"});
  ASSERT_EQ(failed.exit_code, 6) << failed.err;

  Json after_failure = ner.json({"status"});
  ASSERT_TRUE(after_failure["last_failure"].is_object()) << after_failure.dump();
  const std::string reason = after_failure["last_failure"]["reason"];
  EXPECT_NE(reason.find(proxy_->url()), std::string::npos) << "it names HQ's address: " << reason;
  EXPECT_NE(failed.err.find(reason), std::string::npos) << "status gives the reason the sync gave: " << failed.err;
  EXPECT_LT(after_failure["last_failure"]["seconds_ago"].get<long>(), 60);
  EXPECT_TRUE(after_failure["failed_since_last_sync"].get<bool>());
  EXPECT_FALSE(after_failure["all_at_hq"].get<bool>());
  EXPECT_EQ(after_failure["pending_records"], 1);
  const std::string summary = after_failure["summary"];
  EXPECT_EQ(summary.rfind("1 record waits to be sent", 0), 0u) << summary;
  EXPECT_NE(summary.find("last sync failed just now: " + reason), std::string::npos) << summary;
  const RunResult text = ner.run({"status"});
  EXPECT_NE(text.out.find("last sync failed"), std::string::npos) << text.out;
  EXPECT_NE(text.out.find("last sync:        never"), std::string::npos) << text.out;

  proxy_->set_link_down(false);
  ASSERT_EQ(ner.run({"sync"}).exit_code, 0);
  Json after_sync = ner.json({"status"});
  ASSERT_TRUE(after_sync["last_sync"].is_object()) << after_sync.dump();
  EXPECT_LT(after_sync["last_sync"]["seconds_ago"].get<long>(), 60);
  EXPECT_FALSE(after_sync["failed_since_last_sync"].get<bool>());
  EXPECT_TRUE(after_sync["last_failure"].is_object()) << "the older failure is still shown";
  EXPECT_TRUE(after_sync["all_at_hq"].get<bool>());
  EXPECT_EQ(after_sync["summary"].get<std::string>().rfind("Everything is at HQ", 0), 0u) << after_sync.dump();
  EXPECT_NE(ner.run({"status"}).out.find("Everything is at HQ (last sync just now)."), std::string::npos);
}

TEST(WatchBackoff, GrowsExponentiallyWithFullJitterUpToItsCap) {
  const std::chrono::milliseconds first(1000), max(180'000), floor(tuning::kWatchMinBackoffMillis);
  EXPECT_EQ(jittered_backoff(1, first, max, 0.0), floor) << "a draw near 0 still waits a little";
  EXPECT_EQ(jittered_backoff(1, first, max, 0.5), std::chrono::milliseconds(500));
  EXPECT_EQ(jittered_backoff(2, first, max, 0.5), std::chrono::milliseconds(1000));
  EXPECT_EQ(jittered_backoff(4, first, max, 0.5), std::chrono::milliseconds(4000));
  EXPECT_EQ(jittered_backoff(9, first, max, 0.999999), std::chrono::milliseconds(179'999)) << "capped";
  EXPECT_EQ(jittered_backoff(1'000'000, first, max, 0.5), std::chrono::milliseconds(90'000)) << "no overflow after many failures";
}

}  // namespace
}  // namespace fieldsync
