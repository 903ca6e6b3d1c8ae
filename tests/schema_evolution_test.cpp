// A rollout of a plugin's second version, with offices on both versions at once: HQ publishes
// `distribution` 1, then 2 (tests/fixture_plugins/distribution_v2: adds a required `modality`
// that version 1 records get from their unit, and `vulnerable_households`). Two laptops of one
// office sync through the real HQ over TLS, one still loading version 1, the other version 2:
//   - HQ, on version 2, takes what the version 1 laptop writes (checked as migrated);
//   - the version 2 laptop reads version 1 records migrated and, editing one, migrates it;
//   - the version 1 laptop keeps what version 2 wrote byte for byte, refuses to edit it (its
//     older rules would drop the new fields), and goes on editing its version 1 records;
//   - everyone converges on every record, fields and schema version alike.
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <algorithm>

#include "core/plugin_host.hpp"
#include "core/replica.hpp"
#include "hq_fixture.hpp"
#include "sync/enrollment.hpp"
#include "sync/sync_client.hpp"

namespace fieldsync {
namespace {

const std::filesystem::path kVersion1 = std::filesystem::path(FIELDSYNC_TEST_PUBLISH_DIR) / "libfieldsync_distribution.so";
const std::filesystem::path kVersion2 =
    std::filesystem::path(FIELDSYNC_TEST_FIXTURE_PLUGIN_DIR) / "distribution_v2" / "libfieldsync_distribution_v2.so";

// "id|schema_version|deleted|fields" of every distribution record of a store, by id.
std::string distribution_rows(const std::filesystem::path& db_file) {
  sqlite3* db = nullptr;
  std::string out;
  if (sqlite3_open_v2(db_file.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db,
                           "SELECT id, schema_version, deleted, fields FROM records WHERE type = 'distribution' ORDER BY id",
                           -1, &st, nullptr) == SQLITE_OK) {
      while (sqlite3_step(st) == SQLITE_ROW) {
        for (int c = 0; c < 4; ++c) {
          out += reinterpret_cast<const char*>(sqlite3_column_text(st, c));
          out += c < 3 ? "|" : "\n";
        }
      }
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return out;
}

// A laptop of NER opened in this process on the plugin library it is given, syncing through the
// real HQ with SyncClient (no plugin update: this laptop stays on the version it loads).
class Laptop {
 public:
  Laptop(const std::filesystem::path& home, const std::filesystem::path& plugin) : home_(home) {
    if (!types_.load_file(plugin)) throw std::runtime_error("cannot load " + plugin.string());
    replica_ = std::make_unique<Replica>(home, types_);
  }
  Replica& replica() { return *replica_; }
  SyncSummary sync() { return SyncClient(*replica_, *load_enrollment(home_)).run(); }
  std::filesystem::path store() const { return home_ / Replica::kStoreFile; }

 private:
  std::filesystem::path home_;
  PluginHost types_;  // declared before the replica: it outlives it
  std::unique_ptr<Replica> replica_;
};

class SchemaEvolution : public HqWithOffices {
 protected:
  void publish(const std::filesystem::path& library) {
    const RunResult r = run_hq(hq_->home(), {"plugin", "publish", library.string()});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::filesystem::path enroll(const std::string& name) {
    const auto home = dir_.path() / name;
    const RunResult r = run_fieldsync({"--home", home.string(), "init", "--office", "NER", "--hq", hq_->url(), "--ca",
                                       hq_->ca_file().string(), "--token", ner_token_, "--signing-key",
                                       (hq_->home() / "signing.pub").string()});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return home;
  }

  // A distribution of cash in Diffa, as a version 1 laptop writes it.
  static nlohmann::json cash_handout() {
    return {{"commodity", "Transferts monétaires"}, {"quantity", 45000}, {"unit", "usd"}, {"households", 300},
            {"individuals", 1850}, {"location", "مخيم سايام فوراج"}, {"date", "2018-03-08"}, {"status", "implemented"},
            {"partners", {"الهلال الأحمر النيجري", "Croix-Rouge française"}}};
  }
};

TEST_F(SchemaEvolution, OfficesOnTwoVersionsOfAPluginKeepSyncingAndLoseNothing) {
  publish(kVersion1);
  Laptop old_laptop(enroll("ner-v1"), kVersion1);
  const std::string cash = old_laptop.replica().add("distribution", cash_handout()).id;
  EXPECT_EQ(old_laptop.sync().records_sent, 1u);

  // HQ moves to version 2; this laptop does not (yet), and writes another version 1 record. HQ
  // checks it as version 2 reads it: its migration gives the required modality.
  publish(kVersion2);
  nlohmann::json flour = cash_handout();
  flour.update({{"commodity", "Farine de blé"}, {"quantity", 12.5}, {"unit", "tonne"}, {"households", 120},
                {"individuals", 700}});
  const std::string wheat = old_laptop.replica().add("distribution", flour).id;
  const SyncSummary pushed = old_laptop.sync();
  EXPECT_EQ(pushed.records_sent, 1u);
  EXPECT_TRUE(pushed.set_aside.empty()) << pushed.set_aside.front().reason;
  EXPECT_EQ(old_laptop.replica().find(wheat)->schema_version, 1);

  // The other laptop of the office runs version 2: it reads version 1 records migrated…
  Laptop new_laptop(enroll("ner-v2"), kVersion2);
  EXPECT_EQ(new_laptop.sync().records_received, 2u);
  const Record pulled = *new_laptop.replica().find(cash);
  EXPECT_EQ(pulled.schema_version, 1) << "stored as it came";
  EXPECT_EQ(pulled.fields, old_laptop.replica().find(cash)->fields);
  EXPECT_NE(new_laptop.replica().summary(pulled).find("cash"), std::string::npos) << new_laptop.replica().summary(pulled);
  // …and an edit migrates the record: the modality its unit gives is written with the edit.
  const Record edited = new_laptop.replica().edit(cash, {{"vulnerable_households", 45}});
  EXPECT_EQ(edited.schema_version, 2);
  EXPECT_EQ(edited.fields["modality"], "cash");
  EXPECT_EQ(edited.fields["vulnerable_households"], 45);
  // Version 2's own rules hold for what it writes.
  try {
    new_laptop.replica().edit(cash, {{"vulnerable_households", 301}});
    ADD_FAILURE() << "more vulnerable households than households must be refused";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::validation);
  }
  nlohmann::json vouchers = cash_handout();
  vouchers.update({{"commodity", "Bons alimentaires"}, {"quantity", 500}, {"unit", "voucher"}, {"modality", "voucher"},
                   {"vulnerable_households", 90}, {"households", 500}, {"individuals", 2600}});
  const std::string voucher = new_laptop.replica().add("distribution", vouchers).id;
  EXPECT_EQ(new_laptop.sync().records_sent, 2u);

  // The version 1 laptop receives what version 2 wrote and keeps it whole…
  EXPECT_EQ(old_laptop.sync().records_received, 2u);
  const Record kept = *old_laptop.replica().find(cash);
  EXPECT_EQ(kept.schema_version, 2);
  EXPECT_EQ(kept.fields, new_laptop.replica().find(cash)->fields);
  EXPECT_EQ(kept.fields["vulnerable_households"], 45);
  EXPECT_EQ(old_laptop.replica().find(voucher)->fields["modality"], "voucher");
  // …does not edit it by its older rules (which would refuse, or drop, the fields it does not
  // know), and changes nothing in trying…
  const std::string before = distribution_rows(old_laptop.store());
  try {
    old_laptop.replica().edit(cash, {{"quantity", 46000}});
    ADD_FAILURE() << "a version 1 laptop must not edit a version 2 record";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::plugin);
    EXPECT_NE(std::string(e.what()).find("version 2"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("plugins update"), std::string::npos) << e.what();
  }
  EXPECT_EQ(distribution_rows(old_laptop.store()), before);
  // …and goes on with its own version 1 records, which HQ still takes.
  const Record corrected = old_laptop.replica().edit(wheat, {{"quantity", 13}});
  EXPECT_EQ(corrected.schema_version, 1);
  const SyncSummary last = old_laptop.sync();
  EXPECT_EQ(last.records_sent, 1u);
  EXPECT_TRUE(last.set_aside.empty()) << last.set_aside.front().reason;
  EXPECT_EQ(new_laptop.sync().records_received, 1u);

  // Every record the same everywhere, to the byte and the schema version.
  const std::string hq_rows = distribution_rows(hq_->store());
  EXPECT_EQ(std::count(hq_rows.begin(), hq_rows.end(), '\n'), 3) << hq_rows;
  EXPECT_EQ(distribution_rows(old_laptop.store()), hq_rows);
  EXPECT_EQ(distribution_rows(new_laptop.store()), hq_rows);
}

// Once the laptop moves to version 2, the version 1 records it wrote are migrated as it edits them.
TEST_F(SchemaEvolution, ALaptopThatMovesToTheNewVersionMigratesItsOlderRecordsAsItEditsThem) {
  publish(kVersion1);
  const auto home = enroll("ner");
  std::string id;
  {
    Laptop before(home, kVersion1);
    nlohmann::json kits = cash_handout();
    kits.update({{"commodity", "Kits d'hygiène"}, {"quantity", 300}, {"unit", "kit"}});
    id = before.replica().add("distribution", kits).id;
    EXPECT_EQ(before.sync().records_sent, 1u);
  }
  publish(kVersion2);
  Laptop after(home, kVersion2);
  EXPECT_EQ(after.replica().find(id)->schema_version, 1);
  const Record migrated = after.replica().edit(id, {{"status", "cancelled"}});
  EXPECT_EQ(migrated.schema_version, 2);
  EXPECT_EQ(migrated.fields["modality"], "in_kind");
  EXPECT_EQ(migrated.fields["commodity"], "Kits d'hygiène");
  EXPECT_EQ(after.sync().records_sent, 1u);
  EXPECT_EQ(distribution_rows(after.store()), distribution_rows(hq_->store()));
}

}  // namespace
}  // namespace fieldsync
