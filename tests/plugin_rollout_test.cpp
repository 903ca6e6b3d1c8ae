// HQ rolling out a plugin no laptop has, end to end: `fieldsync-hq plugin publish` at a running
// HQ, laptops of two offices syncing over real TLS, installing it (signature, key, hash, platform
// and API checked before the library is opened) and adding a record of the new type — and each
// refusal: altered bytes, another key, a replayed older catalogue, an expired one, a withdrawn
// version, each refused with a message saying which, nothing loaded, the replica working on.
#include <gtest/gtest.h>

#include <csignal>
#include <ctime>

#include "hq_fixture.hpp"
#include "sync/enrollment.hpp"
#include "sync/plugin_update.hpp"
#include "sync/rollout/plugin_publisher.hpp"

namespace fieldsync {
namespace {

const std::filesystem::path kPublish = FIELDSYNC_TEST_PUBLISH_DIR;

class Rollout : public HqWithOffices {
 protected:
  RunResult hq(std::vector<std::string> args) { return run_hq(hq_->home(), std::move(args)); }

  void publish(const char* type) {
    const RunResult r = hq({"plugin", "publish", (kPublish / ("libfieldsync_" + std::string(type) + ".so")).string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  // A new laptop of `office`, pinning HQ's signing key (or `key` instead).
  std::filesystem::path laptop(const std::string& name, const std::string& office, std::filesystem::path key = {}) {
    const auto home = dir_.path() / name;
    if (key.empty()) key = hq_->home() / "signing.pub";
    const RunResult r = run_fieldsync({"--home", home.string(), "init", "--office", office, "--hq", hq_->url(), "--ca",
                                       hq_->ca_file().string(), "--token", office == "NER" ? ner_token_ : afg_token_,
                                       "--signing-key", key.string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return home;
  }

  // A NER laptop enrolled without HQ's signing key enrolled again with it (it may install plugins).
  void pin_signing_key(const std::filesystem::path& home) {
    const RunResult r = run(home, {"enroll", "--hq", hq_->url(), "--ca", hq_->ca_file().string(), "--token", ner_token_,
                                   "--signing-key", (hq_->home() / "signing.pub").string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }

  RunResult run(const std::filesystem::path& home, std::vector<std::string> args) {
    args.insert(args.begin(), {"--home", home.string()});
    return run_fieldsync(args);
  }
  nlohmann::json json(const std::filesystem::path& home, std::vector<std::string> args) {
    args.push_back("--json");
    const RunResult r = run(home, args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
    return r.exit_code == 0 ? nlohmann::json::parse(r.out) : nlohmann::json();
  }
  std::set<std::string> types(const std::filesystem::path& home) {
    std::set<std::string> names;
    for (const auto& t : json(home, {"types"})) names.insert(t["name"].get<std::string>());
    return names;
  }
  // The refusals the sync's plugin update reported, joined.
  std::string refusals(const nlohmann::json& sync) {
    std::string out;
    if (!sync.contains("plugins") || sync["plugins"].is_null()) return out;
    for (const auto& r : sync["plugins"]["refused"]) out += r["plugin"].get<std::string>() + ": " + r["reason"].get<std::string>() + "\n";
    return out;
  }
  std::vector<std::filesystem::path> libraries(const std::filesystem::path& home) {
    std::vector<std::filesystem::path> out;
    std::error_code ec;
    for (std::filesystem::directory_iterator it(home / "rollout", ec), end; !ec && it != end; it.increment(ec)) {
      if (it->path().extension() == ".so") out.push_back(it->path());
    }
    return out;
  }
  void add_distribution_fails(const std::filesystem::path& home) {
    const RunResult r = run(home, {"add", "distribution", "commodity=Farine", "quantity=1", "unit=kg", "location=Diffa",
                                   "date=2018-03-08", "status=planned"});
    EXPECT_NE(r.exit_code, 0) << "the type must not be usable";
    EXPECT_NE(r.err.find("unknown data type 'distribution'"), std::string::npos) << r.err;
  }
};

TEST_F(Rollout, AnOfficeUsesATypeHqPublishedAfterItsNextSync) {
  const auto ner = laptop("ner", "NER");
  const auto afg = laptop("afg", "AFG");
  EXPECT_EQ(types(ner), std::set<std::string>{"activity"}) << "no laptop has distribution";
  publish("distribution");

  const nlohmann::json synced = json(ner, {"sync"});
  ASSERT_TRUE(synced["plugins"].is_object()) << synced.dump();
  ASSERT_EQ(synced["plugins"]["installed"].size(), 1u) << synced.dump();
  EXPECT_EQ(synced["plugins"]["installed"][0]["name"], "distribution");
  EXPECT_EQ(refusals(synced), "");
  EXPECT_EQ(types(ner), (std::set<std::string>{"activity", "distribution"}));

  const nlohmann::json added = json(ner, {"add", "distribution", "commodity=Farine de blé", "quantity=12.5", "unit=tonne",
                                          "households=350", "individuals=2100", "location=مخيم سايام فوراج", "date=2018-03-08",
                                          "status=implemented", "partners=الهلال الأحمر", "partners=UNICEF"});
  const std::string id = added["id"];
  // Validated by the new type: individuals below households is refused.
  const RunResult bad = run(ner, {"add", "distribution", "commodity=Farine", "quantity=1", "unit=kg", "households=10",
                                  "individuals=3", "location=Diffa", "date=2018-03-08", "status=planned"});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("individuals_at_least_households"), std::string::npos) << bad.err;

  EXPECT_EQ(json(ner, {"sync"})["sent"], 1) << "HQ, which published the type, takes its records";
  EXPECT_EQ(query_count(hq_->store(), "SELECT count(*) FROM records WHERE type = 'distribution'"), 1);

  const nlohmann::json plugins = json(ner, {"plugins"});
  bool from_hq = false;
  for (const auto& p : plugins["plugins"]) from_hq = from_hq || (p["name"] == "distribution" && p["source"] == "HQ");
  EXPECT_TRUE(from_hq) << plugins.dump();
  EXPECT_EQ(plugins["catalogue"], 1);

  // Another office gets it with its own next sync; nothing is fetched twice.
  EXPECT_EQ(json(afg, {"sync"})["plugins"]["installed"].size(), 1u);
  EXPECT_TRUE(json(ner, {"sync"})["plugins"].is_null()) << "no news: no plugin request";
  const RunResult up = run(ner, {"plugins", "update"});
  EXPECT_EQ(up.exit_code, 0) << up.err;
  EXPECT_NE(up.out.find("up to date"), std::string::npos) << up.out;
}

TEST_F(Rollout, ALaptopWithoutTheTypeKeepsAndSyncsItsRecordsUntilThePluginArrives) {
  const auto ner1 = laptop("ner1", "NER");
  const auto ner2 = dir_.path() / "ner2";  // enrolled without HQ's key: it cannot install plugins
  ASSERT_EQ(run_fieldsync({"--home", ner2.string(), "init", "--office", "NER", "--hq", hq_->url(), "--ca",
                           hq_->ca_file().string(), "--token", ner_token_}).exit_code, 0);
  publish("distribution");
  json(ner1, {"sync"});
  const std::string id = json(ner1, {"add", "distribution", "commodity=Kits d’hygiène", "quantity=300", "unit=kit",
                                     "location=مخيم النيجر", "date=2018-05-02", "status=implemented"})["id"];
  json(ner1, {"sync"});

  EXPECT_EQ(json(ner2, {"sync"})["received"], 1);
  const RunResult listed = run(ner2, {"list"});
  EXPECT_NE(listed.out.find("a distribution record, waiting for its plugin"), std::string::npos) << listed.out;
  const nlohmann::json kept = json(ner2, {"show", id});
  EXPECT_EQ(kept["fields"], json(ner1, {"show", id})["fields"]) << "kept untouched";

  // Enrolled again with HQ's key: the plugin arrives, and the record is one of its type.
  pin_signing_key(ner2);
  // …and the record that waited for it is checked by it once: it passes.
  const nlohmann::json updated = json(ner2, {"plugins", "update"});
  ASSERT_EQ(updated["waiting_checked"].size(), 1u) << updated.dump();
  EXPECT_EQ(updated["waiting_checked"][0]["type"], "distribution");
  EXPECT_EQ(updated["waiting_checked"][0]["checked"], 1);
  EXPECT_TRUE(updated["waiting_checked"][0]["broken"].empty()) << updated.dump();
  const RunResult typed = run(ner2, {"list", "distribution"});
  EXPECT_EQ(typed.exit_code, 0) << typed.err;
  EXPECT_NE(typed.out.find("Kits d’hygiène · 300 kit"), std::string::npos) << typed.out;
  EXPECT_EQ(typed.err.find("waited"), std::string::npos) << "checked once, not at every command: " << typed.err;
}

// Two officers' edits, each valid, that together break a rule are a conflict HQ keeps (refusing
// the second would hold back that laptop's every page). A laptop that received the record before
// it had the plugin checks it once the plugin arrives: the record is reported, kept and synced as
// it is, not dropped, until an edit corrects it.
TEST_F(Rollout, ARecordThatWaitedAndBreaksItsPluginsRulesIsReportedNotDropped) {
  publish("agreement");
  const auto ner1 = laptop("ner1", "NER");
  const auto ner2 = laptop("ner2", "NER");
  const auto ner3 = dir_.path() / "ner3";  // enrolled without HQ's key: no plugin until it has it
  ASSERT_EQ(run_fieldsync({"--home", ner3.string(), "init", "--office", "NER", "--hq", hq_->url(), "--ca",
                           hq_->ca_file().string(), "--token", ner_token_}).exit_code, 0);
  json(ner1, {"sync"});
  const std::string id = json(ner1, {"add", "agreement", "title=مذكرة تفاهم بشأن التدريب المهني", "kind=mou",
                                     "parties=Ministère de la Formation professionnelle,البنك الإسلامي للتنمية",
                                     "status=in_force", "signed_on=2018-01-10", "valid_from=2018-02-01",
                                     "valid_to=2018-12-31"})["id"];
  json(ner1, {"sync"});
  json(ner2, {"sync"});
  json(ner1, {"edit", id, "valid_from=2018-09-01"});  // each valid on its own laptop
  json(ner2, {"edit", id, "valid_to=2018-06-30"});
  json(ner1, {"sync"});
  json(ner2, {"sync"});

  EXPECT_GE(json(ner3, {"sync"})["received"], 1);
  const nlohmann::json as_received = json(ner3, {"show", id})["fields"];
  EXPECT_EQ(as_received["valid_from"], "2018-09-01");
  EXPECT_EQ(as_received["valid_to"], "2018-06-30");

  pin_signing_key(ner3);
  const nlohmann::json updated = json(ner3, {"plugins", "update"});
  ASSERT_EQ(updated["waiting_checked"].size(), 1u) << updated.dump();
  const nlohmann::json& check = updated["waiting_checked"][0];
  EXPECT_EQ(check["type"], "agreement");
  EXPECT_EQ(check["checked"], 1);
  ASSERT_EQ(check["broken"].size(), 1u) << updated.dump();
  EXPECT_EQ(check["broken"][0]["id"], id);
  EXPECT_EQ(check["broken"][0]["issues"][0]["rule"], "valid_to_after_valid_from");

  // Reported where an officer looks, and kept whole: not dropped, not changed.
  const nlohmann::json status = json(ner3, {"status"});
  ASSERT_EQ(status["breaking_rules"].size(), 1u) << status.dump();
  EXPECT_EQ(status["breaking_rules"][0]["id"], id);
  const RunResult shown = run(ner3, {"show", id});
  EXPECT_NE(shown.out.find("breaks its type's rules"), std::string::npos) << shown.out;
  EXPECT_NE(shown.out.find("valid_to"), std::string::npos) << shown.out;
  EXPECT_EQ(json(ner3, {"show", id})["fields"], as_received);
  EXPECT_EQ(json(ner3, {"sync"})["sent"], 0) << "checking writes nothing to send";

  // An edit that makes it pass takes it off the list, and syncs as any edit.
  json(ner3, {"edit", id, "valid_to=2018-12-31"});
  EXPECT_TRUE(json(ner3, {"status"})["breaking_rules"].empty());
  EXPECT_EQ(json(ner3, {"sync"})["sent"], 1);
}

// A new version of a type reaches a laptop that has the old one with its next sync, and replaces
// it; an older bundle offered afterwards (HQ's own, signed) is refused: a plugin never goes back.
TEST_F(Rollout, ANewVersionReplacesTheOldOneAndAPluginNeverGoesBack) {
  const auto ner = laptop("ner", "NER");
  publish("distribution");
  json(ner, {"sync"});
  const RunResult v2 = hq({"plugin", "publish",
                           (std::filesystem::path(FIELDSYNC_TEST_FIXTURE_PLUGIN_DIR) / "distribution_v2" /
                            "libfieldsync_distribution_v2.so")
                               .string()});
  ASSERT_EQ(v2.exit_code, 0) << v2.err;
  const nlohmann::json synced = json(ner, {"sync"});
  ASSERT_EQ(synced["plugins"]["installed"].size(), 1u) << synced.dump();
  EXPECT_EQ(synced["plugins"]["installed"][0]["version"], 2);
  int loaded = 0;
  for (const auto& t : json(ner, {"types"})) {
    if (t["name"] == "distribution") loaded = t["schema_version"];
  }
  EXPECT_EQ(loaded, 2) << "the newer version is the one loaded";

  const auto bundle = rollout::PluginPublisher(hq_->home()).served_bundle("distribution", 1);
  ASSERT_TRUE(bundle.has_value());
  auto installer = installer_for(ner);
  const auto catalogue = installer.accepted();
  ASSERT_TRUE(catalogue.has_value());
  const rollout::CatalogueEntry* old_entry = catalogue->find("distribution", 1);
  ASSERT_NE(old_entry, nullptr);
  const auto before = libraries(ner);
  try {
    installer.install(*bundle, *old_entry);
    ADD_FAILURE() << "version 1 must not replace version 2";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("never goes back to a lower version"), std::string::npos) << e.what();
  }
  EXPECT_EQ(libraries(ner), before) << "nothing written";
}

TEST_F(Rollout, WatchInstallsAPublishedTypeWithoutARestart) {
  const auto ner = laptop("ner", "NER");
  ChildProcess watch({FIELDSYNC_CLI, "--home", ner.string(), "watch", "--json", "--pull-interval", "0.5", "--exit-after", "20"});
  auto next_sync = [&]() -> nlohmann::json {
    for (int lines = 0; lines < 50; ++lines) {
      const auto line = watch.next_output_line(std::chrono::seconds(20));
      if (!line) break;
      const auto event = nlohmann::json::parse(*line, nullptr, false);
      if (!event.is_discarded() && event.value("event", "") == "sync") return event;
    }
    ADD_FAILURE() << "no sync from watch";
    return nlohmann::json::object();
  };
  EXPECT_EQ(next_sync().value("detail", ""), "") << "nothing published yet";
  publish("distribution");
  nlohmann::json event = nlohmann::json::object();
  for (int syncs = 0; syncs < 10 && event.value("detail", "").empty(); ++syncs) event = next_sync();
  EXPECT_EQ(event.value("detail", ""), "plugins: installed distribution 1") << event.dump();
  watch.kill(SIGTERM);
  EXPECT_EQ(watch.wait(std::chrono::seconds(30)).exit_code, 0);
  EXPECT_EQ(types(ner), (std::set<std::string>{"activity", "distribution"}));
}

TEST_F(Rollout, AlteredBytesAreRefusedAndNothingIsLoaded) {
  const auto ner = laptop("ner", "NER");
  publish("distribution");
  // Someone between HQ's disk and the laptop flips one byte of the library. (A new file put in its
  // place, as any change there would be: HQ runs the library it loaded, and rewriting a mapped
  // file in place would change HQ's own running code.)
  const auto library = hq_->home() / "published" / "distribution" / "1" / "lib.so";
  std::string bytes = read_file(library);
  bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x01);
  write_file(library.string() + ".new", bytes);
  std::filesystem::rename(library.string() + ".new", library);

  const nlohmann::json synced = json(ner, {"sync"});
  EXPECT_NE(refusals(synced).find("hash mismatch"), std::string::npos) << synced.dump();
  EXPECT_TRUE(libraries(ner).empty()) << "nothing written";
  EXPECT_EQ(types(ner), std::set<std::string>{"activity"});
  add_distribution_fails(ner);
  EXPECT_NE(read_file(ner / "rollout" / "log").find("refused distribution 1"), std::string::npos);
  EXPECT_EQ(json(ner, {"sync"})["sent"], 0) << "the replica works on";
}

TEST_F(Rollout, AnotherKeysCatalogueIsRefused) {
  ASSERT_EQ(run_hq(dir_.path() / "impostor", {"init"}).exit_code, 0);
  const auto ner = laptop("ner", "NER", dir_.path() / "impostor" / "signing.pub");
  publish("distribution");
  const nlohmann::json synced = json(ner, {"sync"});
  EXPECT_NE(refusals(synced).find("another key"), std::string::npos) << synced.dump();
  EXPECT_TRUE(libraries(ner).empty());
  add_distribution_fails(ner);
}

TEST_F(Rollout, AReplayedOlderCatalogueIsRefused) {
  const auto ner = laptop("ner", "NER");
  publish("distribution");
  const std::string first = read_file(hq_->home() / "published" / "catalogue.json");
  publish("displacement");
  EXPECT_EQ(json(ner, {"sync"})["plugins"]["installed"].size(), 2u);
  // An attacker (or a restored backup) serves the older catalogue again.
  write_file(hq_->home() / "published" / "catalogue.json", first);
  const RunResult r = run(ner, {"plugins", "update"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("older than version 2"), std::string::npos) << r.err;
  EXPECT_EQ(types(ner), (std::set<std::string>{"activity", "displacement", "distribution"})) << "what it had stays";
}

TEST_F(Rollout, AnExpiredCatalogueIsRefused) {
  const auto ner = laptop("ner", "NER");
  publish("distribution");
  // A laptop whose clock says it is 40 days on: HQ's catalogue (good for 30) has expired for it.
  const auto enrollment = load_enrollment(ner);
  ASSERT_TRUE(enrollment);
  const PluginUpdate update = update_plugins(*enrollment, ner, std::time(nullptr) + 40 * 24 * 3600);
  ASSERT_EQ(update.refused.size(), 1u);
  EXPECT_NE(update.refused[0].reason.find("expired"), std::string::npos) << update.refused[0].reason;
  EXPECT_TRUE(update.installed.empty());
  EXPECT_TRUE(libraries(ner).empty());
  EXPECT_EQ(types(ner), std::set<std::string>{"activity"});
}

TEST_F(Rollout, AWithdrawnVersionStopsLoading) {
  const auto ner = laptop("ner", "NER");
  publish("distribution");
  json(ner, {"sync"});
  ASSERT_EQ(types(ner), (std::set<std::string>{"activity", "distribution"}));
  ASSERT_EQ(hq({"plugin", "withdraw", "distribution", "1"}).exit_code, 0);
  json(ner, {"sync"});
  EXPECT_EQ(types(ner), std::set<std::string>{"activity"}) << "a withdrawn version is never loaded again";
  const RunResult r = run(ner, {"types"});
  EXPECT_NE(r.err.find("withdrawn by HQ"), std::string::npos) << r.err;
  add_distribution_fails(ner);
}

TEST_F(Rollout, ALaptopWithoutAPinnedKeyInstallsNothing) {
  const auto home = dir_.path() / "nokey";
  ASSERT_EQ(run_fieldsync({"--home", home.string(), "init", "--office", "NER", "--hq", hq_->url(), "--ca",
                           hq_->ca_file().string(), "--token", ner_token_})
                .exit_code,
            0);
  publish("distribution");
  const RunResult r = run(home, {"plugins", "update"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.err.find("no HQ signing key is pinned"), std::string::npos) << r.err;
  EXPECT_TRUE(libraries(home).empty());
}

}  // namespace
}  // namespace fieldsync
