// The convergence property on the real stack (issue 11, "Done when"): a real `fieldsync-hq serve`
// over TLS on 127.0.0.1, and laptops of two offices — Replicas on SQLite files with the real
// activity plugin — each syncing through SyncClient with pages made small, so every sync of more
// than a page crosses page boundaries. Random offline histories (seeded): adds of the shared
// records, edits of random fields, the same field edited on two laptops of one office while both
// are offline, deletes, edits of records another laptop deleted (revival), conflict resolutions,
// laptops and HQ restarted, syncs of random laptops in random order, some at the same time.
//
// Then every laptop syncs until nothing moves, and:
//   - the laptops of an office hold byte-identical records (rows of the records table, and every
//     field's state as the Replica reads it), and HQ holds the same;
//   - nothing is lost: every field of every record holds exactly the writes no one replaced, as
//     recorded when each laptop wrote them (an oracle outside the product), and shows the value
//     the merge rules give them; outboxes are empty;
//   - HQ holds every record once, and each office only its own records and HQ's.
//
// FIELDSYNC_PROPERTY_SEED (default kDefaultSeed) is the first seed, FIELDSYNC_PROPERTY_RUNS
// (default kDefaultRuns) how many seeds follow it (a quarter of them, at least two, with pages of
// one record); FIELDSYNC_PROPERTY_CONCURRENT=0 runs every sync alone
// (syncs at the same time interleave their pages at HQ by timing, which a seed cannot replay). A
// failing run prints its seed, its page sizes and its steps; FIELDSYNC_PROPERTY_VERBOSE=1 prints
// them for every run.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <thread>

#include "core/error.hpp"
#include "core/plugin_host.hpp"
#include "core/record_json.hpp"
#include "core/replica.hpp"
#include "hq_fixture.hpp"
#include "replica_holdings.hpp"
#include "sync/enrollment.hpp"
#include "sync/sync_client.hpp"
#include "write_oracle.hpp"

namespace fieldsync {
namespace {

constexpr std::uint64_t kDefaultSeed = 20261202;
// Seeds per run of the suite: each takes 1 to 3 s here (HQ set up and started, 80 steps, ~45
// syncs over TLS, fsync'd stores; the most on a loaded machine): 12 keep the test under a minute.
constexpr int kDefaultRuns = 12;
constexpr int kSteps = 80;
// Rounds of "every laptop syncs" after the history: two move everything (push, then pull what
// the others pushed); the rest is the margin before "never quiet" is a failure.
constexpr int kMaxQuietRounds = 5;
// A 429 from HQ's rate limit (1,000 requests of burst per office) is waited out at most this often.
constexpr int kMaxBusyRetries = 3;
// From this many seeds on, some run must have had concurrent edits, a revival and a conflict
// settled (fewer may by chance have none: a review conflict needs two laptops to edit status
// offline and both to sync before a laptop settles it).
constexpr std::uint64_t kCoverageRuns = 8;

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
  const char* value = std::getenv(name);
  if (value == nullptr || *value == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(value, &end, 10);
  if (*end != '\0') throw std::runtime_error(std::string(name) + " must be a number, is '" + value + "'");
  return n;
}

// One line of the shared activities: its id and fields (Arabic titles and descriptions).
struct DataLine {
  std::string id;
  nlohmann::json fields;
};

const std::vector<DataLine>& shared_lines() {
  static const std::vector<DataLine> lines = [] {
    std::vector<DataLine> out;
    std::ifstream in(shared_activities());
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      nlohmann::json json = nlohmann::json::parse(line);
      out.push_back({json["id"].get<std::string>(), json["fields"]});
    }
    return out;
  }();
  return lines;
}

std::string short_id(const std::string& id) { return id.substr(0, 8); }

// ---- one run: a fresh HQ, laptops, a random history, then the checks ----

struct Pages {
  std::size_t push = 0, pull = 0;
};

struct Laptop {
  std::string name, office;
  std::filesystem::path home;
  Enrollment enrollment;
  std::unique_ptr<Replica> replica;
};

// What one sync did, and what the laptop had to send before it.
struct SyncResult {
  std::optional<SyncSummary> summary;
  std::int64_t pending_before = 0;
  std::string error;
  int busy_retries = 0;
};

class PropertyRun {
 public:
  PropertyRun(const PluginHost& host, std::uint64_t seed, Pages pages, int steps, bool concurrent)
      : host_(host), rng_(seed), seed_(seed), pages_(pages), steps_(steps), concurrent_(concurrent),
        verbose_(env_number("FIELDSYNC_PROPERTY_VERBOSE", 0) != 0) {}

  // Runs the history and the checks; returns a report of every problem (empty: the property holds).
  std::string run() {
    try {
      set_up();
      history();
      settle();
      check();
    } catch (const std::exception& e) {
      problem(std::string("stopped by an exception: ") + e.what());
    }
    if (problems_.empty() && !verbose_) return "";
    std::ostringstream report;
    const auto* test = ::testing::UnitTest::GetInstance()->current_test_info();
    report << "seed " << seed_ << " (again: FIELDSYNC_PROPERTY_SEED=" << seed_ << " FIELDSYNC_PROPERTY_RUNS=1"
           << (concurrent_ ? "" : " FIELDSYNC_PROPERTY_CONCURRENT=0") << " sync_property_test --gtest_filter="
           << test->test_suite_name() << "." << test->name() << "), push page " << pages_.push
           << ", pull page " << pages_.pull << "\nlaptops:";
    for (const auto& laptop : laptops_) {
      report << " " << laptop.name << "=" << (laptop.replica ? laptop.replica->replica_id() : "(not open)");
    }
    report << "\nproblems (" << problems_.size() << "):\n";
    for (std::size_t i = 0; i < problems_.size() && i < 20; ++i) report << "  - " << problems_[i] << "\n";
    report << "steps:\n";
    for (const auto& step : log_) report << "  " << step << "\n";
    return report.str();
  }

  struct Stats {
    int syncs = 0, push_crossings = 0, pull_crossings = 0, concurrent_edits = 0, revivals = 0, resolutions = 0,
        deletes = 0, hq_restarts = 0, quiet_round = -1;
    std::size_t requests = 0;
  };
  const Stats& stats() const { return stats_; }
  bool failed() const { return !problems_.empty(); }

 private:
  // ---- set-up ----

  void set_up() {
    hq_ = std::make_unique<RunningHq>(dir_.path() / "hq");
    tokens_["NER"] = hq_->add_office("NER");
    tokens_["AFG"] = hq_->add_office("AFG");
    // HQ's own reference records (shared with every office), written before HQ serves.
    {
      Replica hq(hq_->home(), host_);
      hq.set_author("hq-admin");
      for (int i = 0; i < 2; ++i) {
        const DataLine& line = next_line();
        const Record added = hq.add("activity", line.fields, line.id);
        oracle_.observe(hq.replica_id(), std::nullopt, added, problems_);
        note("hq add " + short_id(added.id));
      }
    }
    hq_->start();
    for (const auto& [name, office] : std::vector<std::pair<std::string, std::string>>{
             {"ner1", "NER"}, {"ner2", "NER"}, {"ner3", "NER"}, {"afg1", "AFG"}, {"afg2", "AFG"}}) {
      Laptop laptop{name, office, dir_.path() / name, {}, {}};
      Replica::create(laptop.home, office);
      laptop.enrollment = save_enrollment(laptop.home, hq_->url(), hq_->ca_file(), tokens_[office]);
      laptop.replica = std::make_unique<Replica>(laptop.home, host_);
      laptop.replica->set_author(name);
      laptops_.push_back(std::move(laptop));
    }
    // Every laptop starts with a backlog of its own, more than a push page: its first sync spans
    // several pages.
    for (auto& laptop : laptops_) {
      const int count = static_cast<int>(pages_.push + 1 + rng_() % 6);
      for (int i = 0; i < count; ++i) add(laptop);
    }
  }

  const DataLine& next_line() {
    const auto& lines = shared_lines();
    if (order_.empty()) {
      for (std::size_t i = 0; i < lines.size(); ++i) order_.push_back(i);
      std::shuffle(order_.begin(), order_.end(), rng_);
    }
    if (next_ >= order_.size()) throw std::runtime_error("the run used every shared record");
    return lines[order_[next_++]];
  }

  // ---- the history ----

  void history() {
    for (step_ = 0; step_ < steps_; ++step_) {
      const int action = static_cast<int>(rng_() % 100);
      if (action < 10) {
        add(random_laptop());
      } else if (action < 40) {
        edit(random_laptop());
      } else if (action < 48) {
        concurrent_edit();
      } else if (action < 54) {
        remove(random_laptop());
      } else if (action < 59) {
        revive();
      } else if (action < 65) {
        resolve();
      } else if (action < 86) {
        Laptop& laptop = random_laptop();
        sync_logged({&laptop});
      } else if (action < 93) {
        std::vector<Laptop*> several;
        for (auto& laptop : laptops_) {
          if (rng_() % 2) several.push_back(&laptop);
        }
        if (several.size() < 2) several = {&laptops_[0], &laptops_[3]};
        sync_logged(several);
      } else if (action < 97) {
        Laptop& laptop = random_laptop();
        laptop.replica.reset();  // the laptop shuts down and starts again: only its disk remains
        laptop.replica = std::make_unique<Replica>(laptop.home, host_);
        laptop.replica->set_author(laptop.name);
        note(laptop.name + " restarts");
      } else if (stats_.hq_restarts < 2) {
        restart_hq();
      }
    }
  }

  Laptop& random_laptop() { return laptops_[rng_() % laptops_.size()]; }

  void add(Laptop& laptop) {
    const DataLine& line = next_line();
    const Record added = laptop.replica->add("activity", line.fields, line.id);
    oracle_.observe(laptop.replica->replica_id(), std::nullopt, added, problems_);
    note(laptop.name + " add " + short_id(added.id));
  }

  // A record of the laptop's office it holds alive, chosen at random (none: nullopt).
  std::optional<Record> pick_live(Laptop& laptop) {
    std::vector<std::string> ids = oracle_.ids_of(laptop.office);
    for (int attempt = 0; attempt < 8 && !ids.empty(); ++attempt) {
      auto record = laptop.replica->find(ids[rng_() % ids.size()]);
      if (record && !record->deleted) return record;
    }
    return std::nullopt;
  }

  // A patch of one field (or of two that a rule ties together) that changes what `record` shows.
  nlohmann::json random_patch(const Record& record, int which) {
    static const std::vector<std::string> titles = {
        "Atelier sur la sécurité alimentaire à Niamey", "Formation des formateurs à Zinder",
        "Réunion de coordination humanitaire à Kaboul", "Visite de terrain à Hérat",
        "Conférence régionale sur l'eau à Agadez", "  Campagne de vaccination à Tahoua  ",
        "Distribution de vivres à Diffa", "ورشة عمل حول الأمن الغذائي"};
    static const std::vector<std::string> places = {"Niamey", "Zinder", "Maradi", "Kaboul", "Hérat",
                                                    "Mazâr-e Charîf", "Tillabe\u0301ri" /* decomposed: NFC'd */,
                                                    "نيامي"};
    static const std::vector<std::string> statuses = {"planned", "ongoing", "implemented", "cancelled"};
    static const std::vector<std::string> institutions = {"SESRIC", "ISESCO", "IDB", "UNICEF", "IOFS", "ICDT"};
    static const std::vector<std::string> countries = {"NER", "AFG", "SOM", "PSE", "MLI", "SEN"};
    auto pick = [this](const std::vector<std::string>& from) { return from[rng_() % from.size()]; };
    auto subset = [&](const std::vector<std::string>& from) {
      nlohmann::json out = nlohmann::json::array();
      const std::size_t n = 1 + rng_() % 3;
      for (std::size_t i = 0; i < n; ++i) {
        std::string member = pick(from);
        if (std::find(out.begin(), out.end(), member) == out.end()) out.push_back(member);
      }
      return out;
    };
    const nlohmann::json& fields = record.fields;
    nlohmann::json patch = nlohmann::json::object();
    switch (which) {
      case 0: patch["title"] = pick(titles) + " " + std::to_string(step_); break;
      case 1: patch["description"] = shared_lines()[rng_() % shared_lines().size()].fields["description"]; break;
      case 2: patch["place"] = rng_() % 4 == 0 ? nlohmann::json(nullptr) : nlohmann::json(pick(places)); break;
      case 3: patch["status"] = pick(statuses); break;
      case 4: patch["participants"] = static_cast<int>(rng_() % 500); break;
      case 5: patch["institutions"] = rng_() % 5 == 0 ? nlohmann::json(nullptr) : subset(institutions); break;
      case 6: patch["countries"] = rng_() % 5 == 0 ? nlohmann::json(nullptr) : subset(countries); break;
      case 7: patch["amount_usd"] = rng_() % 4 == 0 ? nlohmann::json(nullptr) : nlohmann::json(1000.5 * static_cast<double>(rng_() % 90)); break;
      case 8: patch["language"] = pick({"ar", "fr", "en"}); break;
      case 9: {
        // goal belongs to priority_area: both change together, each to a new value, so that
        // whichever edit wins (the same version for both) the pair stays a valid one.
        const int old_area = fields.value("priority_area", 0);
        int area = 1 + static_cast<int>(rng_() % 18);
        if (area == old_area) area = area % 18 + 1;
        patch["priority_area"] = area;
        patch["goal"] = "2." + std::to_string(area) + "." + std::to_string(1 + rng_() % 9);
        break;
      }
      default: {
        // end_date needs a start_date on or before it: both change together, each to a new value
        // (or both go, when both are there).
        if (fields.contains("start_date") && fields.contains("end_date") && rng_() % 4 == 0) {
          patch["start_date"] = nullptr;
          patch["end_date"] = nullptr;
          break;
        }
        auto two = [](int n) { return std::string(n < 10 ? "0" : "") + std::to_string(n); };
        for (int attempt = 0; attempt < 8; ++attempt) {
          const int day = 1 + static_cast<int>(rng_() % 20);
          const std::string month = "20" + two(18 + static_cast<int>(rng_() % 9)) + "-" + two(1 + static_cast<int>(rng_() % 12)) + "-";
          const std::string start = month + two(day), end = month + two(day + static_cast<int>(rng_() % 8));
          if (fields.value("start_date", "") != start && fields.value("end_date", "") != end) {
            patch["start_date"] = start;
            patch["end_date"] = end;
            break;
          }
        }
        if (patch.empty()) patch["title"] = pick(titles) + " " + std::to_string(step_);
      }
    }
    return patch;
  }

  // Edits `record` on `laptop` with `patch`, records what was written; false when refused.
  bool write(Laptop& laptop, const Record& before, const nlohmann::json& patch, const std::string& what) {
    Replica& replica = *laptop.replica;
    try {
      replica.edit(before.id, patch);
    } catch (const Error& e) {
      note(laptop.name + " " + what + " " + short_id(before.id) + " " + patch.dump() + " refused: " + e.what());
      if (replica.find(before.id)->state != before.state) {
        problem("step " + std::to_string(step_) + ": a refused edit changed record " + before.id);
      }
      return false;
    }
    const Record after = *replica.find(before.id);
    const auto fields = oracle_.observe(replica.replica_id(), before, after, problems_);
    std::string wrote;
    for (const auto& f : fields) wrote += (wrote.empty() ? "" : ",") + f;
    note(laptop.name + " " + what + " " + short_id(before.id) + " " + patch.dump() + " -> wrote " + (wrote.empty() ? "nothing" : wrote));
    return true;
  }

  void edit(Laptop& laptop) {
    if (rng_() % 10 == 0) {
      // A record this laptop has seen deleted: the edit is refused and changes nothing (see write).
      for (const auto& id : oracle_.ids_of(laptop.office)) {
        if (auto record = laptop.replica->find(id); record && record->deleted) {
          write(laptop, *record, random_patch(*record, static_cast<int>(rng_() % 11)), "edit-deleted");
          return;
        }
      }
    }
    auto record = pick_live(laptop);
    if (!record) return note(laptop.name + " edit: no record to edit");
    write(laptop, *record, random_patch(*record, static_cast<int>(rng_() % 11)), "edit");
  }

  // The same field of one record on two laptops of one office, neither having seen the other.
  void concurrent_edit() {
    const bool ner = rng_() % 2;
    const std::size_t first = ner ? rng_() % 3 : 3 + rng_() % 2;
    std::size_t second = ner ? rng_() % 3 : 3 + rng_() % 2;
    if (second == first) second = ner ? (first + 1) % 3 : (first == 3 ? 4 : 3);
    Laptop& a = laptops_[first];
    Laptop& b = laptops_[second];
    for (int attempt = 0; attempt < 8; ++attempt) {
      auto on_a = pick_live(a);
      if (!on_a) continue;
      auto on_b = b.replica->find(on_a->id);
      if (!on_b || on_b->deleted) continue;
      // Half of them on status, whose policy (review) keeps the loser as a conflict to settle.
      const int which = rng_() % 2 ? 3 : static_cast<int>(rng_() % 11);
      const nlohmann::json patch_a = random_patch(*on_a, which);
      nlohmann::json patch_b = random_patch(*on_b, which);
      for (int again = 0; again < 4 && patch_b == patch_a; ++again) patch_b = random_patch(*on_b, which);
      const bool wrote_a = write(a, *on_a, patch_a, "concurrent-edit");
      const bool wrote_b = write(b, *on_b, patch_b, "concurrent-edit");
      if (wrote_a && wrote_b) ++stats_.concurrent_edits;
      return;
    }
    note("concurrent edit: " + a.name + " and " + b.name + " share no live record");
  }

  void remove(Laptop& laptop) {
    auto record = pick_live(laptop);
    if (!record) return note(laptop.name + " delete: no record");
    const Record after = laptop.replica->remove(record->id);
    oracle_.observe(laptop.replica->replica_id(), record, *laptop.replica->find(record->id), problems_);
    ++stats_.deletes;
    note(laptop.name + " delete " + short_id(after.id));
  }

  // An edit of a record another laptop deleted, by a laptop that has not seen the delete: made
  // later, it revives the record (and is a conflict to settle). Half the time the delete is made
  // just before, on another laptop of the office, so that there is one to revive.
  void revive() {
    if (rng_() % 2) {
      const bool ner = rng_() % 2;
      Laptop& deleter = laptops_[ner ? rng_() % 3 : 3 + rng_() % 2];
      if (auto record = pick_live(deleter)) {
        const Record before = *record;
        deleter.replica->remove(before.id);
        oracle_.observe(deleter.replica->replica_id(), before, *deleter.replica->find(before.id), problems_);
        ++stats_.deletes;
        note(deleter.name + " delete " + short_id(before.id) + " (to be revived)");
      }
    }
    for (int attempt = 0; attempt < 16; ++attempt) {
      Laptop& laptop = random_laptop();
      std::vector<std::string> ids = oracle_.ids_of(laptop.office);
      if (ids.empty()) continue;
      const std::string id = ids[rng_() % ids.size()];
      if (!oracle_.deleted_somewhere(id)) continue;
      auto record = laptop.replica->find(id);
      if (!record || record->deleted) continue;
      if (write(laptop, *record, random_patch(*record, static_cast<int>(rng_() % 11)), "revive-edit")) ++stats_.revivals;
      return;
    }
    note("revive: no record deleted elsewhere and alive on its office's other laptop");
  }

  // Settles one open conflict on a laptop that shows one: the value shown, another one, a new
  // value; for a revived record, delete it after all or keep it.
  void resolve() {
    std::vector<Laptop*> order;
    for (auto& laptop : laptops_) order.push_back(&laptop);
    std::shuffle(order.begin(), order.end(), rng_);
    for (Laptop* laptop : order) {
      std::vector<Conflict> open;
      for (auto& c : laptop->replica->conflicts()) {
        if (auto r = laptop->replica->find(c.record_id); r && r->office == laptop->office) open.push_back(c);
      }
      if (!open.empty()) return resolve(*laptop, open[rng_() % open.size()]);
    }
    note("resolve: no open conflict on any laptop");
  }

  void resolve(Laptop& laptop, const Conflict& conflict) {
    Replica& replica = *laptop.replica;
    nlohmann::json value;
    if (conflict.field == kDeletedField) {
      value = rng_() % 2 == 0;
    } else {
      switch (rng_() % 3) {
        case 0: value = conflict.shown.value; break;
        case 1: value = conflict.others.at(rng_() % conflict.others.size()).value; break;
        default: value = std::vector<std::string>{"planned", "ongoing", "implemented", "cancelled"}[rng_() % 4];
      }
    }
    const Record before = *replica.find(conflict.record_id);
    try {
      replica.resolve_conflict(conflict.record_id, conflict.field, value);
    } catch (const Error& e) {
      problem("step " + std::to_string(step_) + ": " + laptop.name + " could not settle conflict " + conflict.record_id +
              ":" + conflict.field + " with " + value.dump() + ": " + e.describe());
      return;
    }
    oracle_.observe(replica.replica_id(), before, *replica.find(conflict.record_id), problems_);
    ++stats_.resolutions;
    note(laptop.name + " resolve " + short_id(conflict.record_id) + ":" + conflict.field + " = " + value.dump());
  }

  // HQ stops (SIGTERM), its admin edits a reference record while it is down, and it serves again
  // on a new port: the laptops are enrolled again with the new address.
  void restart_hq() {
    const auto started = std::chrono::steady_clock::now();
    const int code = hq_->stop();
    if (code != 0) problem("step " + std::to_string(step_) + ": fieldsync-hq serve exited with " + std::to_string(code));
    {
      Replica hq(hq_->home(), host_);
      hq.set_author("hq-admin");
      const auto ids = oracle_.ids_of("HQ");
      const Record before = hq.get(ids[rng_() % ids.size()]);
      hq.edit(before.id, {{"place", std::string("Djeddah ") + std::to_string(step_)}});
      oracle_.observe(hq.replica_id(), before, *hq.find(before.id), problems_);
      note("hq restarts; edits " + short_id(before.id));
    }
    hq_->start();
    for (auto& laptop : laptops_) {
      laptop.enrollment = save_enrollment(laptop.home, hq_->url(), hq_->ca_file(), tokens_[laptop.office]);
    }
    ++stats_.hq_restarts;
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started);
    note("hq serves again, after " + std::to_string(took.count()) + " ms");
  }

  // ---- syncs ----

  SyncResult sync_one(Laptop& laptop) {
    SyncResult result;
    result.pending_before = laptop.replica->status().pending_records;
    SyncOptions options;
    options.push_page_records = pages_.push;
    options.pull_page_records = pages_.pull;
    for (int attempt = 0;; ++attempt) {
      SyncClient client(*laptop.replica, laptop.enrollment, options);
      try {
        result.summary = client.run();
        return result;
      } catch (const Error& e) {
        if (client.retry_after() && attempt < kMaxBusyRetries) {
          ++result.busy_retries;
          std::this_thread::sleep_for(std::min(*client.retry_after(), std::chrono::seconds(5)));
          result.pending_before = laptop.replica->status().pending_records;
          continue;
        }
        result.error = e.describe();
        return result;
      } catch (const std::exception& e) {
        // Anything else (it may run on a thread of its own, where it must not escape).
        result.error = std::string("unexpected exception: ") + e.what();
        return result;
      }
    }
  }

  // Syncs the laptops (at the same time when there are several and concurrency is on), logs what
  // each did and checks its pages. Returns true when nothing moved.
  bool sync_logged(const std::vector<Laptop*>& laptops) {
    std::vector<SyncResult> results(laptops.size());
    if (laptops.size() > 1 && concurrent_) {
      std::vector<std::thread> threads;
      for (std::size_t i = 0; i < laptops.size(); ++i) {
        threads.emplace_back([&, i] { results[i] = sync_one(*laptops[i]); });
      }
      for (auto& t : threads) t.join();
    } else {
      for (std::size_t i = 0; i < laptops.size(); ++i) results[i] = sync_one(*laptops[i]);
    }
    bool quiet = true;
    for (std::size_t i = 0; i < laptops.size(); ++i) {
      const Laptop& laptop = *laptops[i];
      const SyncResult& r = results[i];
      const std::string who = "step " + std::to_string(step_) + ": " + laptop.name + " sync";
      if (!r.summary) {
        note(laptop.name + " sync FAILED: " + r.error);
        problem(who + " failed: " + r.error);
        quiet = false;
        continue;
      }
      const SyncSummary& s = *r.summary;
      note(laptop.name + " sync" + (laptops.size() > 1 && concurrent_ ? " (concurrent)" : "") + ": " +
           std::to_string(s.requests) + " requests, sent " + std::to_string(s.records_sent) + " of " +
           std::to_string(r.pending_before) + " pending, received " + std::to_string(s.records_received) +
           ", conflicts opened " + std::to_string(s.conflicts_opened) + ", " + std::to_string(static_cast<int>(s.seconds * 1000)) + " ms" +
           (r.busy_retries ? ", " + std::to_string(r.busy_retries) + " waits on 429" : ""));
      ++stats_.syncs;
      stats_.requests += s.requests;
      if (s.records_sent || s.records_received) quiet = false;
      if (s.restamped) problem(who + ": " + std::to_string(s.restamped) + " writes restamped, though every clock is right");
      // Everything pending went, each record once: nobody else writes on this laptop meanwhile.
      if (static_cast<std::int64_t>(s.records_sent) != r.pending_before) {
        problem(who + " sent " + std::to_string(s.records_sent) + " records, " + std::to_string(r.pending_before) + " were pending");
      }
      const std::size_t push_pages = (static_cast<std::size_t>(r.pending_before) + pages_.push - 1) / pages_.push;
      const std::size_t pull_pages = (s.records_received + pages_.pull - 1) / pages_.pull;
      if (s.requests < std::max<std::size_t>({push_pages, pull_pages, 1})) {
        problem(who + ": " + std::to_string(s.requests) + " requests for " + std::to_string(r.pending_before) +
                " records to push and " + std::to_string(s.records_received) + " received, with pages of " +
                std::to_string(pages_.push) + "/" + std::to_string(pages_.pull) + ": a page went over its bound");
      }
      if (push_pages > 1) ++stats_.push_crossings;
      if (pull_pages > 1) ++stats_.pull_crossings;
      if (laptop.replica->status().pending_records != 0) problem(who + " left records in the outbox");
    }
    return quiet;
  }

  // Every laptop syncs, in a random order, until a whole round moves nothing.
  void settle() {
    step_ = steps_;
    note("-- settle: every laptop syncs until nothing moves");
    for (int round = 0; round < kMaxQuietRounds; ++round) {
      std::vector<Laptop*> order;
      for (auto& laptop : laptops_) order.push_back(&laptop);
      std::shuffle(order.begin(), order.end(), rng_);
      bool quiet = true;
      for (Laptop* laptop : order) quiet = sync_logged({laptop}) && quiet;
      if (quiet) {
        stats_.quiet_round = round;
        return;
      }
    }
    problem("still not quiet after " + std::to_string(kMaxQuietRounds) + " rounds of syncs");
  }

  // ---- the checks ----

  void check() {
    const int code = hq_->stop();
    if (code != 0) problem("fieldsync-hq serve exited with " + std::to_string(code));
    Replica hq(hq_->home(), host_);
    const std::set<std::string> all_offices = {"NER", "AFG", "HQ"};

    // HQ holds every record once: exactly the ones written anywhere.
    const nlohmann::json at_hq = holdings(hq, all_offices);
    if (at_hq.size() != oracle_.records().size()) {
      problem("HQ holds " + std::to_string(at_hq.size()) + " records, " + std::to_string(oracle_.records().size()) +
              " were written");
    }
    check_against_oracle(at_hq, "HQ", all_offices);

    for (const std::string office : {"NER", "AFG"}) {
      const std::set<std::string> visible = {office, "HQ"};
      const auto hq_rows = record_rows(hq_->store(), visible);
      nlohmann::json hq_view = nlohmann::json::object();
      for (const auto& [id, record] : at_hq.items()) {
        if (visible.count(record["office"].get<std::string>())) hq_view[id] = record;
      }
      for (auto& laptop : laptops_) {
        if (laptop.office != office) continue;
        Replica& replica = *laptop.replica;
        const ReplicaStatus status = replica.status();
        if (status.pending_records != 0 || status.pending_changes != 0) {
          problem(laptop.name + " still has " + std::to_string(status.pending_changes) + " changes of " +
                  std::to_string(status.pending_records) + " records to send");
        }
        // Only its office's records and HQ's: anything else is a leak across offices.
        const nlohmann::json everything = holdings(replica, all_offices);
        for (const auto& [id, record] : everything.items()) {
          if (!visible.count(record["office"].get<std::string>())) {
            problem(laptop.name + " (" + office + ") holds record " + id + " of office " + record["office"].get<std::string>());
          }
        }
        // The same records as HQ's for this office, field state for field state, conflicts too…
        if (auto diff = first_difference(hq_view, "HQ", holdings(replica, visible), laptop.name); !diff.empty()) {
          problem(diff);
        }
        // …and byte for byte as stored.
        nlohmann::json hq_json(hq_rows), laptop_json(record_rows(laptop.home / Replica::kStoreFile, visible));
        if (auto diff = first_difference(hq_json, "HQ's records table", laptop_json, laptop.name + "'s"); !diff.empty()) {
          problem(diff);
        }
      }
    }
  }

  // Every record in `holdings` as the oracle predicts it: identity, every field's full state,
  // the fields shown and the tombstone.
  void check_against_oracle(const nlohmann::json& held, const std::string& who, const std::set<std::string>& offices) {
    for (const auto& [id, log] : oracle_.records()) {
      if (!offices.count(log.identity.office)) continue;
      if (!held.contains(id)) {
        problem(who + " lost record " + id + " of " + log.identity.office);
        continue;
      }
      const nlohmann::json& record = held[id];
      const std::string where = who + ", record " + id;
      if (record["type"] != log.identity.type || record["office"] != log.identity.office ||
          record["creator"] != log.identity.creator || record["created_by"] != log.identity.created_by ||
          record["created_hlc"] != log.identity.created) {
        problem(where + ": identity differs from its creation: " + record.dump());
      }
      std::set<std::string> expected_fields;
      for (const auto& [field, field_log] : log.fields) {
        expected_fields.insert(field);
        const nlohmann::json expected = field_state_to_json(WriteOracle::expected_state(field_log));
        const nlohmann::json actual = record["states"].contains(field) ? record["states"][field] : nlohmann::json();
        if (expected != actual) {
          problem(where + " field " + field + ": state\n    expected " + expected.dump() + "\n    holds    " + actual.dump());
        }
      }
      for (const auto& [field, state] : record["states"].items()) {
        if (!expected_fields.count(field)) problem(where + " field " + field + ": a state no one wrote: " + state.dump());
      }
      const auto [fields, deleted] = WriteOracle::expected_view(log);
      if (record["fields"] != fields) {
        problem(where + ": fields\n    expected " + fields.dump() + "\n    shows    " + record["fields"].dump());
      }
      if (record["deleted"] != deleted) problem(where + ": deleted is " + record["deleted"].dump() + ", the tombstone says " + (deleted ? "true" : "false"));
    }
  }

  void note(const std::string& line) { log_.push_back(std::to_string(step_) + " " + line); }
  void problem(const std::string& what) { problems_.push_back(what); }

  const PluginHost& host_;
  std::mt19937_64 rng_;
  std::uint64_t seed_;
  Pages pages_;
  int steps_;
  bool concurrent_;
  bool verbose_;  // the report of every run, not only of failing ones
  int step_ = -1;
  TempDir dir_;
  std::unique_ptr<RunningHq> hq_;
  std::map<std::string, std::string> tokens_;
  std::vector<Laptop> laptops_;
  WriteOracle oracle_;
  std::vector<std::size_t> order_;
  std::size_t next_ = 0;
  std::vector<std::string> log_;
  std::vector<std::string> problems_;
  Stats stats_;
};

class SyncProperty : public ::testing::Test {
 protected:
  void SetUp() override {
    // Talk to 127.0.0.1 directly, whatever proxy the machine running the tests has set.
    for (const char* name : {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) ::unsetenv(name);
    host_.load_directory(FIELDSYNC_TEST_PLUGIN_DIR);
    ASSERT_GT(shared_lines().size(), 100u) << shared_activities();
  }

  // Runs `runs` seeds from the first one; `pages` chooses the page sizes of a seed.
  void run_seeds(std::uint64_t first, std::uint64_t runs, int steps, const std::function<Pages(std::mt19937_64&)>& pages) {
    const bool concurrent = env_number("FIELDSYNC_PROPERTY_CONCURRENT", 1) != 0;
    PropertyRun::Stats total;
    const auto started = std::chrono::steady_clock::now();
    for (std::uint64_t seed = first; seed < first + runs; ++seed) {
      std::mt19937_64 page_rng(seed ^ 0x9e3779b97f4a7c15ULL);
      PropertyRun run(host_, seed, pages(page_rng), steps, concurrent);
      const std::string report = run.run();
      if (run.failed()) {
        ADD_FAILURE() << report;
      } else if (!report.empty()) {
        std::printf("%s", report.c_str());
      }
      const auto& s = run.stats();
      total.syncs += s.syncs;
      total.requests += s.requests;
      total.push_crossings += s.push_crossings;
      total.pull_crossings += s.pull_crossings;
      total.concurrent_edits += s.concurrent_edits;
      total.revivals += s.revivals;
      total.resolutions += s.resolutions;
      total.deletes += s.deletes;
      total.hq_restarts += s.hq_restarts;
      // Each laptop's first sync pushes a backlog of several pages.
      EXPECT_GT(s.push_crossings, 0) << "seed " << seed << ": no sync pushed more than a page";
    }
    EXPECT_GT(total.pull_crossings, 0) << "no sync pulled more than a page";
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    std::printf("[ property ] seeds %llu..%llu: %d syncs, %zu requests, %d pushes and %d pulls over several pages, "
                "%d concurrent edits, %d deletes, %d revivals, %d conflicts settled, %d HQ restarts, %.1f s\n",
                static_cast<unsigned long long>(first), static_cast<unsigned long long>(first + runs - 1), total.syncs,
                total.requests, total.push_crossings, total.pull_crossings, total.concurrent_edits, total.deletes,
                total.revivals, total.resolutions, total.hq_restarts, seconds);
    // Over several seeds the histories must have exercised what the property is about.
    if (runs >= kCoverageRuns) {
      EXPECT_GT(total.concurrent_edits, 0);
      EXPECT_GT(total.revivals, 0);
      EXPECT_GT(total.resolutions, 0);
    }
  }

  PluginHost host_;
};

TEST_F(SyncProperty, RandomOfflineHistoriesOfTwoOfficesConvergeThroughHqInSmallPages) {
  run_seeds(env_number("FIELDSYNC_PROPERTY_SEED", kDefaultSeed), env_number("FIELDSYNC_PROPERTY_RUNS", kDefaultRuns),
            kSteps, [](std::mt19937_64& rng) { return Pages{3 + rng() % 5, 3 + rng() % 5}; });
}

// Pages of one record: every record of a sync is a page boundary. A sync takes a request per
// record here, so this runs a quarter of the seeds (at least two).
TEST_F(SyncProperty, PagesOfOneRecordConvergeToo) {
  run_seeds(env_number("FIELDSYNC_PROPERTY_SEED", kDefaultSeed),
            std::max<std::uint64_t>(2, env_number("FIELDSYNC_PROPERTY_RUNS", kDefaultRuns) / 4), kSteps,
            [](std::mt19937_64&) { return Pages{1, 1}; });
}

}  // namespace
}  // namespace fieldsync
