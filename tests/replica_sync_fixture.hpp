// What the replica sync tests share: real replicas on SQLite files in a temporary folder, and
// the sync exchange between them page by page, as the protocol runs it, without the network.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/plugin_host.hpp"
#include "core/record_json.hpp"
#include "core/replica.hpp"
#include "test_support.hpp"

namespace fieldsync {

// A replica id none of the test's replicas has.
inline constexpr const char* kOtherReplica = "0123456789abcdef";

inline nlohmann::json activity(const std::string& title) {
  return {{"title", title},       {"priority_area", 8},          {"goal", "2.8.3"},
          {"kind", "workshop"},   {"status", "planned"},         {"start_date", "2018-03-08"},
          {"place", "Niamey"},    {"institutions", {"SESRIC"}},  {"participants", 40}};
}

// The sync exchange, page by page: push the outbox (HQ checks and stores, the laptop clears what
// was acknowledged), then pull HQ's feed from the laptop's cursor.
inline void sync(Replica& laptop, Replica& hq, std::size_t page_size = 3) {
  for (int round = 0; round < 1000; ++round) {
    OutboxPage page = laptop.outbox_page(page_size);
    if (page.changes.empty()) break;
    hq.apply_changes(page.changes, /*check=*/true);
    laptop.acknowledge(page.marks);
  }
  for (int round = 0; round < 1000; ++round) {
    FeedPage page = hq.feed_page(laptop.office(), laptop.pull_cursor(), page_size);
    laptop.apply_changes(page.changes, /*check=*/false, page.next_cursor);
    if (!page.more) break;
  }
}

// Everything a replica holds of `office`'s records, in a canonical form.
inline nlohmann::json holdings_json(Replica& replica, const std::string& office) {
  ListFilter all;
  all.include_deleted = true;
  all.where = {{"office", office}};
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& record : replica.list(all)) {
    nlohmann::json states = nlohmann::json::object();
    for (const auto& [field, state] : record.state) states[field] = field_state_to_json(state);
    by_id[record.id] = {{"fields", record.fields},   {"deleted", record.deleted},
                        {"states", states},          {"type", record.type},
                        {"created", record.created}, {"creator", record.creator},
                        {"created_by", record.created_by}};
  }
  return nlohmann::json(by_id);
}

inline std::string holdings(Replica& replica, const std::string& office) { return holdings_json(replica, office).dump(); }

// Empty when both replicas hold the same; else the first record that differs, both ways.
inline std::string first_difference(Replica& a, Replica& b, const std::string& office) {
  const nlohmann::json left = holdings_json(a, office);
  const nlohmann::json right = holdings_json(b, office);
  for (const auto& [id, record] : left.items()) {
    if (!right.contains(id)) return id + " only in " + a.replica_id() + ": " + record.dump();
    if (right[id] != record) return id + " differs:\n  " + record.dump() + "\n  " + right[id].dump();
  }
  for (const auto& [id, record] : right.items()) {
    if (!left.contains(id)) return id + " only in " + b.replica_id() + ": " + record.dump();
  }
  return "";
}

class SyncTest : public ::testing::Test {
 protected:
  void SetUp() override { host_.load_directory(FIELDSYNC_TEST_PLUGIN_DIR); }
  Replica& make(const std::string& name, const std::string& office) {
    const auto home = dir_.path() / name;
    Replica::create(home, office);
    replicas_.push_back(std::make_unique<Replica>(home, host_));
    replicas_.back()->set_author(name);
    return *replicas_.back();
  }

  TempDir dir_;
  PluginHost host_;
  std::vector<std::unique_ptr<Replica>> replicas_;
};

// A laptop's one new record, as its outbox sends it.
inline RecordChange one_change(Replica& laptop, const std::string& title = "Atelier") {
  laptop.add("activity", activity(title));
  OutboxPage page = laptop.outbox_page(10);
  return page.changes.back();
}

}  // namespace fieldsync
