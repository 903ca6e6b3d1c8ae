// The agreement plugin as the host sees it: the real built .so, loaded with Boost.DLL.
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/text.hpp"
#include "tests/support/plugin_test.hpp"

using fieldsync::MergePolicy;
using fieldsync::testing::describe;
using fieldsync::testing::find_issue;
using nlohmann::json;

namespace {

// A memorandum signed in Niamey between the Islamic Development Bank and Niger's ministry.
json valid_agreement() {
  return {{"title", "Mémorandum d’entente sur la sécurité alimentaire"},
          {"kind", "mou"},
          {"parties", {"البنك الإسلامي للتنمية", "Ministère de l’Agriculture du Niger"}},
          {"status", "signed"},
          {"signed_on", "2018-03-08"},
          {"place", "Niamey"},
          {"valid_from", "2018-04-01"},
          {"valid_to", "2021-03-31"},
          {"scope", {8, 2}},
          {"countries", {"NER"}},
          {"language", "fr"}};
}

class AgreementPlugin : public fieldsync::testing::PluginTest {
 protected:
  AgreementPlugin() : PluginTest("agreement", valid_agreement()) {}
  json valid() const { return type_->normalize(valid_agreement()); }
};

TEST_F(AgreementPlugin, Identity) {
  EXPECT_EQ(type_->name(), "agreement");
  EXPECT_EQ(type_->schema_version(), 1);
  EXPECT_EQ(type_->schema()["additionalProperties"], false);
  EXPECT_TRUE(type_->schema()["properties"].contains("parties"));
}

TEST_F(AgreementPlugin, ValidAgreementPasses) { expect_valid(valid()); }

TEST_F(AgreementPlugin, RequiredFieldsAndKnownKindsAndStatuses) {
  for (const char* field : {"title", "kind", "parties", "status"}) expect_rejected(without(field), field, "required");
  expect_rejected(with("kind", "treaty_of_friendship"), "kind", "enum");
  expect_rejected(with("status", "lost"), "status", "enum");
}

TEST_F(AgreementPlugin, AtLeastTwoParties) {
  expect_rejected(type_->normalize(with("parties", {"IDB"})), "parties", "minItems");
  // The same party twice is one party once normalized.
  expect_rejected(type_->normalize(with("parties", {"IDB", " IDB"})), "parties", "minItems");
}

TEST_F(AgreementPlugin, ValidToMustNotPrecedeValidFrom) {
  const auto issues = type_->check(with("valid_to", "2018-03-31"));
  const auto* issue = find_issue(issues, "valid_to", "valid_to_after_valid_from");
  ASSERT_NE(issue, nullptr) << describe(issues);
  EXPECT_NE(issue->message.find("2018-04-01"), std::string::npos) << issue->message;
  EXPECT_EQ(issues.size(), 1u) << describe(issues);
  expect_valid(with("valid_to", "2018-04-01"));  // one day in force
  expect_valid(without("valid_to"));             // open-ended
}

TEST_F(AgreementPlugin, DatesAreRealCalendarDays) {
  expect_rejected(with("signed_on", "2018-02-29"), "signed_on", "calendar_date");
  expect_rejected(with("valid_from", "2018-13-01"), "valid_from", "calendar_date");
  expect_rejected(with("valid_to", "2021-04-31"), "valid_to", "calendar_date");
  expect_rejected(with("signed_on", "8 mars 2018"), "signed_on", "pattern");
}

TEST_F(AgreementPlugin, AnAgreementPastItsDraftHasASignatureDay) {
  json fields = without("signed_on");
  for (const char* status : {"signed", "in_force", "expired", "terminated"}) {
    fields["status"] = status;
    const auto issues = type_->check(fields);
    const auto* issue = find_issue(issues, "signed_on", "signed_needs_date");
    ASSERT_NE(issue, nullptr) << status << ": " << describe(issues);
    EXPECT_NE(issue->message.find(status), std::string::npos) << issue->message;
  }
  fields["status"] = "draft";
  expect_valid(fields);
}

TEST_F(AgreementPlugin, ScopeIsPriorityAreas) {
  expect_rejected(with("scope", {0}), "scope", "minimum");
  expect_rejected(with("scope", {19}), "scope", "maximum");
  expect_rejected(with("scope", {"8"}), "scope", "type");
}

TEST_F(AgreementPlugin, NormalizeMakesSetsAndArabicTextCanonical) {
  json fields = valid_agreement();
  // Arabic with a decomposed hamza (alef + U+0654) and a no-break space; a party twice.
  fields["parties"] = {"\u0627\u0654\u0644\u0628\u0646\u0643 ", "SESRIC", "\u00A0SESRIC", "", "ISESCO"};
  fields["scope"] = {8, 2, 8};
  fields["countries"] = {"ner", "SOM"};
  fields["title"] = "  Me\u0301morandum  ";
  const json n = type_->normalize(fields);
  EXPECT_EQ(n["parties"], json({"ISESCO", "SESRIC", "\u0623\u0644\u0628\u0646\u0643"}));
  EXPECT_EQ(n["scope"], json({2, 8}));
  EXPECT_EQ(n["countries"], json({"NER", "SOM"}));
  EXPECT_EQ(n["title"], "M\u00E9morandum");
  expect_valid(n);
  EXPECT_EQ(type_->normalize(n).dump(), n.dump());  // a fixed point
}

TEST_F(AgreementPlugin, MergePolicies) {
  EXPECT_EQ(type_->merge_policy("parties"), MergePolicy::union_set);
  EXPECT_EQ(type_->merge_policy("scope"), MergePolicy::union_set);
  EXPECT_EQ(type_->merge_policy("countries"), MergePolicy::union_set);
  EXPECT_EQ(type_->merge_policy("status"), MergePolicy::review);
  EXPECT_EQ(type_->merge_policy("valid_to"), MergePolicy::lww);
}

TEST_F(AgreementPlugin, SummaryIsolatesArabicTitle) {
  json fields = valid();
  fields["title"] = "مذكرة تفاهم بشأن الأمن الغذائي";
  const std::string line = type_->summary(fields);
  EXPECT_EQ(line, "mou · signed · 2018-03-08 · Niamey · \u2068مذكرة تفاهم بشأن الأمن الغذائي\u2069 · 2 parties");
}

TEST_F(AgreementPlugin, ReportCountsSignedAgreementsUnderTheirScope) {
  const auto figures = type_->report_figures();
  ASSERT_EQ(figures.size(), 1u);
  EXPECT_EQ(figures[0].key, "agreements_signed");
  EXPECT_EQ(figures[0].fr, "Accords signés");

  auto facts = type_->report_facts(valid());
  EXPECT_EQ(facts.date, "2018-03-08");
  EXPECT_EQ(facts.status, "implemented");
  EXPECT_EQ(facts.priority_areas, (std::vector<int>{2, 8}));
  EXPECT_EQ(facts.figures.at("agreements_signed"), 1);

  json draft = without("signed_on");
  draft["status"] = "draft";
  draft.erase("valid_from");
  facts = type_->report_facts(draft);
  EXPECT_EQ(facts.status, "planned");
  EXPECT_EQ(facts.date, "");  // no day yet: in no period
  EXPECT_EQ(facts.figures.at("agreements_signed"), 0);
  EXPECT_EQ(type_->report_facts(with("status", "terminated")).status, "cancelled");
}

}  // namespace
