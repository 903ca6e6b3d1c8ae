// The displacement plugin as the host sees it: the real built .so, loaded with Boost.DLL.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "tests/support/plugin_test.hpp"

using fieldsync::MergePolicy;
using fieldsync::testing::describe;
using fieldsync::testing::find_issue;
using nlohmann::json;

namespace {

// A count at a settlement near Mogadishu, written in Arabic.
json valid_count() {
  return {{"site", "مخيم كاهدا"},
          {"adm1", "بنادر"},
          {"country", "SOM"},
          {"date", "2018-03-08"},
          {"idps", 1200},
          {"returnees", 300},
          {"households", 260},
          {"origin", "شبيلي السفلى"},
          {"needs", {"food", "shelter", "water"}},
          {"language", "ar"}};
}

class DisplacementPlugin : public fieldsync::testing::PluginTest {
 protected:
  DisplacementPlugin() : PluginTest("displacement", valid_count()) {}
};

TEST_F(DisplacementPlugin, Identity) {
  EXPECT_EQ(type_->name(), "displacement");
  EXPECT_EQ(type_->schema_version(), 1);
}

TEST_F(DisplacementPlugin, ValidCountPasses) { expect_valid(valid_); }

TEST_F(DisplacementPlugin, SiteAndDateRequired) {
  expect_rejected(without("site"), "site", "required");
  expect_rejected(without("date"), "date", "required");
  expect_rejected(with("date", "2019-02-29"), "date", "calendar_date");
}

TEST_F(DisplacementPlugin, ACountGivesAtLeastOneGroup) {
  json fields = without("idps");
  fields.erase("returnees");
  const auto issues = type_->check(fields);
  ASSERT_NE(find_issue(issues, "refugees", "a_count_needed"), nullptr) << describe(issues);
  fields["refugees"] = 0;  // counted, and none found
  fields["households"] = 0;
  expect_valid(fields);
}

TEST_F(DisplacementPlugin, HouseholdsAtMostThePeopleCounted) {
  const auto issues = type_->check(with("households", 1501));
  const auto* issue = find_issue(issues, "households", "households_at_most_people");
  ASSERT_NE(issue, nullptr) << describe(issues);
  EXPECT_NE(issue->message.find("1500"), std::string::npos) << issue->message;
  expect_valid(with("households", 1500));
  // A count of the wrong shape is the schema's to report, not this rule's.
  const auto typed = type_->check(with("idps", "1200"));
  EXPECT_EQ(find_issue(typed, "households", "households_at_most_people"), nullptr) << describe(typed);
  EXPECT_NE(find_issue(typed, "idps", "type"), nullptr) << describe(typed);
}

TEST_F(DisplacementPlugin, NeedsAreASetOfKnownNeeds) {
  json n = type_->normalize(with("needs", {"Water", "food", "water", "shelter "}));
  EXPECT_EQ(n["needs"], json({"food", "shelter", "water"}));
  expect_valid(n);
  expect_rejected(with("needs", {"wifi"}), "needs", "enum");
}

TEST_F(DisplacementPlugin, NormalizeKeepsArabicTextInNfc) {
  // Afgooye typed with a decomposed alef + hamza above (U+0627 U+0654) and a trailing space:
  // NFC composes it (U+0623) and the space is trimmed.
  const json n = type_->normalize(with("origin", "\u0627\u0654\u0641\u063A\u0648\u064A "));
  EXPECT_EQ(n["origin"], "\u0623\u0641\u063A\u0648\u064A");
  EXPECT_EQ(type_->normalize(n).dump(), n.dump());
}

TEST_F(DisplacementPlugin, MergePolicies) {
  EXPECT_EQ(type_->merge_policy("needs"), MergePolicy::union_set);
  EXPECT_EQ(type_->merge_policy("households"), MergePolicy::max);
  for (const char* count : {"refugees", "idps", "returnees"}) EXPECT_EQ(type_->merge_policy(count), MergePolicy::review);
  EXPECT_EQ(type_->merge_policy("site"), MergePolicy::lww);
}

TEST_F(DisplacementPlugin, SummaryIsolatesArabicSiteAndOrigin) {
  EXPECT_EQ(type_->summary(valid_),
            "\u2068مخيم كاهدا\u2069 · 2018-03-08 · 1200 IDPs · 300 returnees · from \u2068شبيلي السفلى\u2069");
}

TEST_F(DisplacementPlugin, ReportSumsThePeopleCounted) {
  const auto figures = type_->report_figures();
  ASSERT_EQ(figures.size(), 4u);
  EXPECT_EQ(figures[0].key, "people_counted");
  const auto facts = type_->report_facts(with("refugees", 40));
  EXPECT_EQ(facts.date, "2018-03-08");
  EXPECT_EQ(facts.status, "");
  EXPECT_TRUE(facts.priority_areas.empty());
  EXPECT_EQ(facts.figures.at("people_counted"), 1540);
  EXPECT_EQ(facts.figures.at("refugees"), 40);
  EXPECT_EQ(facts.figures.at("idps"), 1200);
  EXPECT_EQ(facts.figures.at("returnees"), 300);
}

}  // namespace
