// The clock-skew rule (README, "Clock skew"): a laptop whose clock runs days ahead must not win
// every conflict. HQ refuses versions stamped too far ahead of its own clock ("clock_ahead",
// with its time); the laptop then learns its offset, stamps its unsent writes again with the
// time they were really made, and from then on stamps with HQ's time.
// Real parts: HQ's HttpServer with TLS on 127.0.0.1, the libcurl client, replicas on disk.
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "core/plugin_host.hpp"
#include "core/replica.hpp"
#include "sync/enrollment.hpp"
#include "sync/hq_service.hpp"
#include "sync/transport/http_server.hpp"
#include "sync/office_registry.hpp"
#include "sync/sync_client.hpp"
#include "sync/transport/tls_identity.hpp"
#include "test_support.hpp"

namespace fieldsync {
namespace {

constexpr std::int64_t kThreeDays = 3LL * 86'400'000;
// The real time between two edits that must keep their order though made on two laptops.
constexpr int kMomentMillis = 400;

class ClockSkew : public ::testing::Test {
 protected:
  void SetUp() override {
    // Talk to 127.0.0.1 directly, whatever proxy the machine running the tests has set.
    for (const char* name : {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) ::unsetenv(name);
    host_.load_directory(FIELDSYNC_TEST_PLUGIN_DIR);
    const auto hq_home = dir_.path() / "hq";
    Replica::create(hq_home, "HQ");
    const TlsIdentityPaths tls = create_tls_identity(HqService::tls_dir(hq_home));
    token_ = OfficeRegistry(HqService::offices_file(hq_home)).add("NER");
    service_ = std::make_unique<HqService>(hq_home);
    ServerConfig config;
    config.cert_file = tls.server_cert;
    config.key_file = tls.server_key;
    server_ = std::make_unique<HttpServer>(config, [this](const HttpRequest& r) { return service_->handle(r); });
    server_->start();
    url_ = "https://127.0.0.1:" + std::to_string(server_->port());
    ca_ = tls.ca_cert;
  }
  void TearDown() override { server_->stop(); }

  Replica& laptop(const std::string& name) {
    const auto home = dir_.path() / name;
    Replica::create(home, "NER");
    save_enrollment(home, url_, ca_, token_);
    laptops_.push_back(std::make_unique<Replica>(home, host_));
    return *laptops_.back();
  }
  SyncSummary sync(Replica& replica) { return SyncClient(replica, *load_enrollment(replica.home())).run(); }

  TempDir dir_;
  PluginHost host_;
  std::string token_, url_;
  std::filesystem::path ca_;
  std::unique_ptr<HqService> service_;
  std::unique_ptr<HttpServer> server_;
  std::vector<std::unique_ptr<Replica>> laptops_;
};

// Two processes on one replica (watch syncing while an officer adds a record): one that learnt
// from HQ its clock runs days ahead writes just after another that has not learnt it yet. The
// stored clock must stay at the later of the two, or the next process to open the replica stamps
// a write older than one already made, and loses to it in every merge.
TEST_F(ClockSkew, TheStoredClockNeverMovesBackWhenTwoProcessesWriteOneReplica) {
  auto record = [](const std::string& title) {
    return nlohmann::json{{"title", title}, {"priority_area", 6}, {"goal", "2.6.1"}, {"kind", "other"}, {"status", "planned"}};
  };
  Replica& unaware = laptop("shared");
  Replica corrected(unaware.home(), host_);
  corrected.set_clock_offset(-kThreeDays);  // stored for the processes that open the replica later
  const Record first = unaware.add("activity", record("Atelier de Zinder"));
  corrected.add("activity", record("Visite à Maradi"));  // three days back: it has not seen `first`
  const Record next = Replica(unaware.home(), host_).add("activity", record("Formation à Tahoua"));
  EXPECT_GT(next.created, first.created) << "the clock went back: a new write is dated before an older one";
}

TEST_F(ClockSkew, ALaptopDaysAheadDoesNotWinAConflictItLostInRealTime) {
  Replica& ahead = laptop("ahead");
  Replica& right = laptop("right");
  const std::string id = right.add("activity", {{"title", "Distribution à Diffa"}, {"priority_area", 6}, {"goal", "2.6.1"},
                                                {"kind", "other"}, {"status", "planned"}}).id;
  sync(right);
  sync(ahead);
  // After that sync the laptop's clock jumps three days ahead (a flat CMOS battery, a wrong
  // time zone…): the offset it learnt no longer corrects it.
  ahead.clock().set_wall([] { return Clock::system_millis() + kThreeDays; });
  // Concurrent edits of the same field: first the skewed laptop, a moment later the right one.
  // "A moment" must exceed what neither laptop can know: each learns HQ's time to within half
  // the round trip of the request that told it (on 127.0.0.1 tens of milliseconds: a TLS
  // handshake, delayed ACKs; more under a sanitizer), and both stamps carry that error.
  const std::int64_t skewed_edit_at = Clock::system_millis();
  ahead.edit(id, {{"status", "cancelled"}});
  std::this_thread::sleep_for(std::chrono::milliseconds(kMomentMillis));
  right.edit(id, {{"status", "implemented"}});
  sync(right);
  const SyncSummary skewed = sync(ahead);
  EXPECT_GT(skewed.restamped, 0u) << "HQ said clock_ahead; the unsent edit got its real time";
  EXPECT_NEAR(static_cast<double>(skewed.clock_offset_millis), static_cast<double>(-kThreeDays), 60'000.0);
  sync(right);
  // Restamped once, to the time it was made (give or take the offset's error).
  const FieldWrite restamped = right.get(id).state.at("status").heads.front();
  ASSERT_EQ(restamped.value, "cancelled");
  EXPECT_NEAR(static_cast<double>(hlc_millis(restamped.version.hlc)), static_cast<double>(skewed_edit_at), kMomentMillis / 2.0);

  for (Replica* r : {&ahead, &right}) {
    const Record record = r->get(id);
    EXPECT_EQ(record.fields["status"], "implemented") << "the edit made later in real time wins";
    const auto conflicts = r->conflicts();
    ASSERT_EQ(conflicts.size(), 1u) << "and the other one waits for a person";
    EXPECT_EQ(conflicts[0].others.at(0).value, "cancelled");
  }

  // From now on the skewed laptop stamps with HQ's time.
  const Record after = ahead.edit(id, {{"participants", 80}});
  const auto stamped = static_cast<std::int64_t>(hlc_millis(after.versions.at("participants").hlc));
  EXPECT_NEAR(static_cast<double>(stamped), static_cast<double>(Clock::system_millis()), 60'000.0);
  EXPECT_NO_THROW(sync(ahead));
  EXPECT_EQ(ahead.status().pending_records, 0);
}

TEST_F(ClockSkew, ARecordCreatedAheadKeepsItsFieldsWhenRestamped) {
  Replica& ahead = laptop("ahead");
  ahead.clock().set_wall([] { return Clock::system_millis() + kThreeDays; });  // wrong from the start
  const Record created = ahead.add("activity", {{"title", "Atelier"}, {"priority_area", 3}, {"goal", "2.3.1"},
                                                {"kind", "workshop"}, {"status", "planned"}, {"place", "Maradi"}});
  ahead.edit(created.id, {{"place", "Zinder"}});
  const SyncSummary summary = sync(ahead);
  EXPECT_GT(summary.restamped, 0u);
  const Record restamped = ahead.get(created.id);
  nlohmann::json expected = created.fields;
  expected["place"] = "Zinder";
  EXPECT_EQ(restamped.fields, expected) << "every field as written, the edit included";
  EXPECT_EQ(restamped.versions.size(), created.versions.size());
  EXPECT_LT(hlc_millis(restamped.created), static_cast<std::uint64_t>(Clock::system_millis() + 60'000));
  Replica& other = laptop("other");
  sync(other);
  EXPECT_EQ(other.get(created.id).fields, restamped.fields) << "HQ and the other laptop got the corrected record";
}

// A laptop that already learnt its offset stamps right; when its clock then jumps further
// ahead, its unsent writes are corrected by the jump only, not by the whole offset a second
// time (which would date them days in the past, losing every conflict and preceding the
// record's creation).
TEST_F(ClockSkew, AWriteIsCorrectedOnceWhenTheClockJumpsAgain) {
  Replica& ahead = laptop("ahead");
  ahead.clock().set_wall([] { return Clock::system_millis() + kThreeDays; });
  sync(ahead);  // nothing to send: learns its offset of about -3 days
  const Record created = ahead.add("activity", {{"title", "Atelier"}, {"priority_area", 3}, {"goal", "2.3.1"},
                                                {"kind", "workshop"}, {"status", "planned"}});
  EXPECT_NEAR(static_cast<double>(hlc_millis(created.created)), static_cast<double>(Clock::system_millis()), 60'000.0)
      << "stamped with HQ's time";
  std::this_thread::sleep_for(std::chrono::milliseconds(kMomentMillis));  // past the offsets' error
  ahead.clock().set_wall([] { return Clock::system_millis() + 2 * kThreeDays; });  // jumps 3 more days
  const std::int64_t edited_at = Clock::system_millis();
  ahead.edit(created.id, {{"status", "implemented"}});
  const SyncSummary summary = sync(ahead);
  EXPECT_GT(summary.restamped, 0u) << "the edit was stamped 3 days ahead: HQ said clock_ahead";
  const Record edited = ahead.get(created.id);
  const auto stamped = static_cast<double>(hlc_millis(edited.versions.at("status").hlc));
  EXPECT_NEAR(stamped, static_cast<double>(edited_at), 60'000.0) << "corrected by 3 days, not by 6";
  EXPECT_GT(edited.versions.at("status").hlc, edited.created) << "an edit comes after the creation";
  EXPECT_EQ(hlc_millis(edited.created), hlc_millis(created.created)) << "the creation, stamped right, is left alone";
  EXPECT_EQ(ahead.status().pending_records, 0);
}

}  // namespace
}  // namespace fieldsync
