// The distribution plugin as the host sees it: the real built .so, loaded with Boost.DLL.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/plugin_test.hpp"

using fieldsync::MergePolicy;
using fieldsync::testing::describe;
using fieldsync::testing::find_issue;
using nlohmann::json;

namespace {

// Wheat flour handed out at a camp in Diffa, with the Red Crescent (in Arabic) and the IDB.
json valid_distribution() {
  return {{"commodity", "Farine de blé"},
          {"quantity", 12.5},
          {"unit", "tonne"},
          {"households", 350},
          {"individuals", 2100},
          {"location", "Camp de Sayam Forage"},
          {"adm1", "Diffa"},
          {"country", "NER"},
          {"date", "2018-03-08"},
          {"status", "implemented"},
          {"partners", {"Banque islamique de développement", "الهلال الأحمر"}},
          {"funding_source", "Fonds de solidarité islamique"},
          {"priority_area", 8},
          {"goal", "2.8.3"},
          {"language", "fr"}};
}

class DistributionPlugin : public fieldsync::testing::PluginTest {
 protected:
  DistributionPlugin() : PluginTest("distribution", valid_distribution()) {}
};

TEST_F(DistributionPlugin, Identity) {
  EXPECT_EQ(type_->name(), "distribution");
  EXPECT_EQ(type_->schema_version(), 1);
  EXPECT_EQ(type_->schema()["additionalProperties"], false);
}

TEST_F(DistributionPlugin, ValidDistributionPasses) { expect_valid(valid_); }

TEST_F(DistributionPlugin, RequiredFieldsAndKnownUnits) {
  for (const char* field : {"commodity", "quantity", "unit", "location", "date", "status"}) {
    expect_rejected(without(field), field, "required");
  }
  expect_rejected(with("unit", "sacks"), "unit", "enum");
  expect_rejected(with("status", "done"), "status", "enum");
}

TEST_F(DistributionPlugin, QuantityIsPositiveAndCountsAreNotNegative) {
  expect_rejected(with("quantity", 0), "quantity", "exclusiveMinimum");
  expect_rejected(with("quantity", "12"), "quantity", "type");
  expect_rejected(with("households", -1), "households", "minimum");
  expect_rejected(with("individuals", 2.5), "individuals", "type");
}

TEST_F(DistributionPlugin, PeopleAtLeastHouseholds) {
  const auto issues = type_->check(with("individuals", 300));
  const auto* issue = find_issue(issues, "individuals", "individuals_at_least_households");
  ASSERT_NE(issue, nullptr) << describe(issues);
  EXPECT_NE(issue->message.find("350"), std::string::npos) << issue->message;
  EXPECT_EQ(issues.size(), 1u) << describe(issues);
  expect_valid(with("individuals", 350));   // one person a household
  expect_valid(without("individuals"));     // not counted: nothing to compare
}

TEST_F(DistributionPlugin, DateAndGoal) {
  expect_rejected(with("date", "2018-02-30"), "date", "calendar_date");
  expect_rejected(with("goal", "2.5.1"), "goal", "goal_matches_priority_area");
}

TEST_F(DistributionPlugin, NormalizeMakesPartnersASetOfCanonicalText) {
  json fields = valid_;
  fields["partners"] = {"UNICEF ", "\u0627\u0654\u0644\u0647\u0644\u0627\u0644", "UNICEF", ""};
  fields["commodity"] = " Farine de ble\u0301 ";
  fields["country"] = "ner";
  const json n = type_->normalize(fields);
  EXPECT_EQ(n["partners"], json({"UNICEF", "\u0623\u0644\u0647\u0644\u0627\u0644"}));
  EXPECT_EQ(n["commodity"], "Farine de bl\u00E9");
  EXPECT_EQ(n["country"], "NER");
  expect_valid(n);
  EXPECT_EQ(type_->normalize(n).dump(), n.dump());
}

TEST_F(DistributionPlugin, MergePolicies) {
  EXPECT_EQ(type_->merge_policy("partners"), MergePolicy::union_set);
  EXPECT_EQ(type_->merge_policy("households"), MergePolicy::max);
  EXPECT_EQ(type_->merge_policy("individuals"), MergePolicy::max);
  EXPECT_EQ(type_->merge_policy("quantity"), MergePolicy::review);
  EXPECT_EQ(type_->merge_policy("status"), MergePolicy::review);
  EXPECT_EQ(type_->merge_policy("location"), MergePolicy::lww);
}

TEST_F(DistributionPlugin, SummaryWithArabicLocation) {
  EXPECT_EQ(type_->summary(valid_),
            "Farine de blé · 12.5 tonne · 350 households · implemented · 2018-03-08 · Camp de Sayam Forage");
  const std::string line = type_->summary(with("location", "مخيم الزعتري"));
  EXPECT_NE(line.find("\u2068مخيم الزعتري\u2069"), std::string::npos) << line;
}

TEST_F(DistributionPlugin, ReportCountsWhoWasReachedOnlyWhenHandedOut) {
  const auto figures = type_->report_figures();
  ASSERT_EQ(figures.size(), 2u);
  EXPECT_EQ(figures[0].key, "households_reached");
  EXPECT_EQ(figures[1].key, "individuals_reached");
  EXPECT_EQ(figures[0].ar, "الأسر المستفيدة");

  auto facts = type_->report_facts(valid_);
  EXPECT_EQ(facts.date, "2018-03-08");
  EXPECT_EQ(facts.status, "implemented");
  EXPECT_EQ(facts.priority_areas, std::vector<int>{8});
  EXPECT_EQ(facts.figures.at("households_reached"), 350);
  EXPECT_EQ(facts.figures.at("individuals_reached"), 2100);

  facts = type_->report_facts(with("status", "planned"));
  EXPECT_EQ(facts.figures.at("households_reached"), 0);
  EXPECT_EQ(facts.figures.at("individuals_reached"), 0);
}

// Version 2 of the type (tests/fixture_plugins/distribution_v2), as HQ would publish it after
// version 1: a required modality, and vulnerable households.
class DistributionPluginV2 : public fieldsync::testing::PluginTest {
 protected:
  DistributionPluginV2()
      : PluginTest(fieldsync::testing::PluginLibrary{std::filesystem::path(FIELDSYNC_TEST_FIXTURE_PLUGIN_DIR) /
                                                     "distribution_v2" / "libfieldsync_distribution_v2.so"},
                   with_modality(valid_distribution())) {}
  static json with_modality(json fields) {
    fields["modality"] = "in_kind";
    fields["vulnerable_households"] = 80;
    return fields;
  }
};

TEST_F(DistributionPluginV2, KeepsEveryFieldOfVersion1AndAddsItsOwn) {
  EXPECT_EQ(type_->name(), "distribution");
  EXPECT_EQ(type_->schema_version(), 2);
  expect_valid(valid_);
  expect_rejected(without("modality"), "modality", "required");
  expect_rejected(with("modality", "hawala"), "modality", "enum");
  const auto issues = type_->check(with("vulnerable_households", 351));
  ASSERT_NE(find_issue(issues, "vulnerable_households", "vulnerable_at_most_households"), nullptr) << describe(issues);
  EXPECT_EQ(type_->merge_policy("vulnerable_households"), MergePolicy::max);
  EXPECT_EQ(type_->merge_policy("partners"), MergePolicy::union_set) << "version 1's policies stay";
}

TEST_F(DistributionPluginV2, MigratesVersion1RecordsToValidOnesWithTheModalityTheirUnitGives) {
  json old = valid_distribution();  // written under version 1: no modality
  expect_rejected(old, "modality", "required");
  const json migrated = type_->migrate(old, 1);
  EXPECT_EQ(migrated["modality"], "in_kind");
  expect_valid(migrated);
  old.erase("modality");
  old["unit"] = "usd";
  EXPECT_EQ(type_->migrate(old, 1)["modality"], "cash");
  old["unit"] = "voucher";
  EXPECT_EQ(type_->migrate(old, 1)["modality"], "voucher");
  // Everything version 1 wrote stays as it was, Arabic included.
  const json written = valid_distribution();
  for (const auto& [key, value] : written.items()) EXPECT_EQ(migrated[key], value) << key;
  EXPECT_EQ(type_->migrate(valid_, 2), valid_) << "its own version: as it is";
  EXPECT_THROW(type_->migrate(valid_, 3), fieldsync::Error) << "a newer version than its own";
}

TEST_F(DistributionPluginV2, ReportAddsVulnerableHouseholdsReached) {
  const auto figures = type_->report_figures();
  ASSERT_EQ(figures.size(), 3u);
  EXPECT_EQ(figures[2].key, "vulnerable_households_reached");
  EXPECT_EQ(type_->report_facts(valid_).figures.at("vulnerable_households_reached"), 80);
  EXPECT_EQ(type_->report_facts(valid_).figures.at("households_reached"), 350);
}

}  // namespace
