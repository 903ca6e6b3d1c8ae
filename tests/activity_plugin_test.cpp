// The activity plugin as the host sees it: the real built .so, loaded with Boost.DLL.
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/data_type.hpp"
#include "core/error.hpp"
#include "core/text.hpp"
#include "tests/support/plugin_test.hpp"

using fieldsync::DataType;
using fieldsync::DataTypeFactory;
using fieldsync::Errc;
using fieldsync::Error;
using fieldsync::FieldIssue;
using fieldsync::MergePolicy;
using nlohmann::json;

using fieldsync::testing::describe;
using fieldsync::testing::find_issue;

namespace {

json valid_activity() {
  return {{"title", "Atelier r\u00E9gional sur la s\u00E9curit\u00E9 alimentaire"},
          {"priority_area", 8},
          {"goal", "2.8.3"},
          {"kind", "workshop"},
          {"status", "implemented"},
          {"start_date", "2018-03-08"},
          {"end_date", "2018-03-10"},
          {"place", "Niamey"},
          {"language", "fr"}};
}

class ActivityPlugin : public fieldsync::testing::PluginTest {
 protected:
  ActivityPlugin() : PluginTest("activity", valid_activity()) {}
  static json valid() { return valid_activity(); }
};

}  // namespace

TEST_F(ActivityPlugin, Identity) {
  ASSERT_NE(type_, nullptr);
  EXPECT_EQ(type_->name(), "activity");
  EXPECT_EQ(type_->schema_version(), 1);
  EXPECT_NE(type_->description().find("OIC Programme of Action"), std::string::npos);
  EXPECT_EQ(type_->schema()["type"], "object");
  EXPECT_EQ(type_->schema()["additionalProperties"], false);
  EXPECT_TRUE(type_->schema()["properties"].contains("priority_area"));
}

TEST_F(ActivityPlugin, EveryRealRecordIsCanonicalAndValid) {
  std::ifstream in(std::string(FIELDSYNC_SHARED_DATA_DIR) + "/activities.jsonl");
  ASSERT_TRUE(in) << FIELDSYNC_SHARED_DATA_DIR;
  std::string line;
  int records = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const json record = json::parse(line);
    const json& fields = record.at("fields");
    const json normalized = type_->normalize(fields);
    EXPECT_EQ(normalized.dump(), fields.dump()) << "record " << record["id"];
    const auto issues = type_->check(normalized);
    EXPECT_TRUE(issues.empty()) << "record " << record["id"] << ": " << describe(issues);
    EXPECT_FALSE(type_->summary(normalized).empty());
    ++records;
  }
  EXPECT_EQ(records, 440);
}

TEST_F(ActivityPlugin, ValidRecordPasses) { expect_valid(valid()); }

TEST_F(ActivityPlugin, PriorityAreaRange) {
  expect_rejected(with("priority_area", 0), "priority_area", "minimum");
  expect_rejected(with("priority_area", 19), "priority_area", "maximum");
  // A number typed as text is not converted by normalize: check says so.
  const json typed = type_->normalize(with("priority_area", "8"));
  EXPECT_EQ(typed["priority_area"], "8");
  expect_rejected(typed, "priority_area", "type");
}

TEST_F(ActivityPlugin, GoalMustBelongToThePriorityArea) {
  const auto issues = type_->check(with("goal", "2.5.1"));
  const FieldIssue* issue = find_issue(issues, "goal", "goal_matches_priority_area");
  ASSERT_NE(issue, nullptr) << describe(issues);
  EXPECT_NE(issue->message.find("2.5.1"), std::string::npos) << issue->message;
  EXPECT_NE(issue->message.find("8"), std::string::npos) << issue->message;
  EXPECT_EQ(issues.size(), 1u) << describe(issues);
  // One undivided goal for the area, as in the report.
  json fields = with("goal", "2.7");
  fields["priority_area"] = 7;
  expect_valid(fields);
  expect_rejected(with("goal", "3.8.1"), "goal", "pattern");
}

TEST_F(ActivityPlugin, KindMustBeKnown) { expect_rejected(with("kind", "party"), "kind", "enum"); }

TEST_F(ActivityPlugin, RequiredFields) {
  json fields = valid();
  fields.erase("status");
  expect_rejected(fields, "status", "required");
}

TEST_F(ActivityPlugin, EndMustNotPrecedeStart) {
  const auto issues = type_->check(with("end_date", "2018-03-07"));
  const FieldIssue* issue = find_issue(issues, "end_date", "end_after_start");
  ASSERT_NE(issue, nullptr) << describe(issues);
  EXPECT_NE(issue->message.find("2018-03-08"), std::string::npos) << issue->message;
  expect_valid(with("end_date", "2018-03-08"));  // a one-day activity
}

TEST_F(ActivityPlugin, EndNeedsStart) {
  json fields = valid();
  fields.erase("start_date");
  expect_rejected(fields, "end_date", "end_needs_start");
  fields.erase("end_date");
  expect_valid(fields);  // no dates at all is fine
}

TEST_F(ActivityPlugin, DatesMustBeRealCalendarDates) {
  json fields = valid();
  fields.erase("end_date");
  fields["start_date"] = "2018-02-30";
  expect_rejected(fields, "start_date", "calendar_date");
  fields["start_date"] = "2020-02-29";
  expect_valid(fields);
  fields["start_date"] = "2000-02-29";  // divisible by 400: leap
  expect_valid(fields);
  fields["start_date"] = "2019-02-29";
  expect_rejected(fields, "start_date", "calendar_date");
  fields["start_date"] = "1900-02-29";  // divisible by 100 only: not leap
  expect_rejected(fields, "start_date", "calendar_date");
  fields["start_date"] = "2018-13-01";
  expect_rejected(fields, "start_date", "calendar_date");
  expect_rejected(with("end_date", "2018-04-31"), "end_date", "calendar_date");
}

TEST_F(ActivityPlugin, ParticipantsNotNegative) {
  expect_rejected(with("participants", -1), "participants", "minimum");
  expect_valid(with("participants", 0));
}

TEST_F(ActivityPlugin, UnknownFieldIsNamed) {
  const auto issues = type_->check(with("titel", "typo"));
  ASSERT_EQ(issues.size(), 1u) << describe(issues);
  EXPECT_EQ(issues[0].field, "titel");
  EXPECT_EQ(issues[0].rule, "additionalProperties");
}

TEST_F(ActivityPlugin, InvalidUtf8IsKeptByNormalizeAndReportedByCheck) {
  const std::string broken = "Atelier \xC3(";
  json normalized;
  ASSERT_NO_THROW(normalized = type_->normalize(with("title", broken)));
  EXPECT_EQ(normalized["title"].get<std::string>(), broken);
  const auto issues = type_->check(normalized);
  const FieldIssue* issue = find_issue(issues, "title", "utf8");
  ASSERT_NE(issue, nullptr) << describe(issues);
  EXPECT_EQ(issues.size(), 1u) << describe(issues);
}

TEST_F(ActivityPlugin, NormalizeMakesCanonicalText) {
  json fields = valid();
  fields["title"] = "\u00A0 Atelier re\u0301gional \u3000";
  fields["institutions"] = {" UNICEF", "IDB", "UNICEF", "", "IDB\u00A0", "\u0627\u0654\u0644\u0628\u0646\u0643"};
  fields["countries"] = {"ner", "SOM ", "NER"};
  fields["language"] = "FR";
  const json n = type_->normalize(fields);
  EXPECT_EQ(n["title"], "Atelier r\u00E9gional");
  EXPECT_EQ(n["institutions"], json({"IDB", "UNICEF", "\u0623\u0644\u0628\u0646\u0643"}));
  EXPECT_EQ(n["countries"], json({"NER", "SOM"}));
  EXPECT_EQ(n["language"], "fr");
  expect_valid(n);
  EXPECT_EQ(type_->normalize(n).dump(), n.dump());  // a fixed point
}

TEST_F(ActivityPlugin, NormalizeNeverThrowsOnWrongShapes) {
  EXPECT_NO_THROW(type_->normalize(json::array({1, 2})));
  EXPECT_NO_THROW(type_->normalize(json("text")));
  json fields = valid();
  fields["institutions"] = "IDB";
  fields["countries"] = {"NER", 3, nullptr};
  fields["place"] = json::object({{"city", " Niamey "}});
  json n;
  ASSERT_NO_THROW(n = type_->normalize(fields));
  EXPECT_EQ(n["institutions"], "IDB");
  expect_rejected(n, "institutions", "type");
  expect_rejected(n, "countries", "type");
  expect_rejected(n, "place", "type");
}

TEST_F(ActivityPlugin, SummaryShowsGoalAndIsolatedArabicTitle) {
  json fields = valid();
  fields.erase("end_date");
  fields["title"] = "Atelier r\u00E9gional";
  EXPECT_EQ(type_->summary(fields),
            "[2.8.3] workshop \u00B7 implemented \u00B7 2018-03-08 \u00B7 Niamey \u00B7 Atelier r\u00E9gional");

  fields["end_date"] = "2018-03-10";
  EXPECT_NE(type_->summary(fields).find("2018-03-08 \u2013 2018-03-10"), std::string::npos);

  const std::string arabic =
      "\u0639\u064F\u0642\u0650\u062F\u064E \u0627\u062C\u062A\u0645\u0627\u0639 "
      "\u0627\u0633\u062A\u062B\u0646\u0627\u0626\u064A \u0644\u0644\u062C\u0646\u0629 "
      "\u0627\u0644\u062A\u0646\u0641\u064A\u0630\u064A\u0629 \u0639\u0644\u0649 \u0645\u0633\u062A\u0648\u0649 "
      "\u0648\u0632\u0631\u0627\u0621 \u0627\u0644\u062E\u0627\u0631\u062C\u064A\u0629 \u0641\u064A "
      "\u0646\u064A\u0648\u064A\u0648\u0631\u0643 \u0641\u064A 26 \u0633\u0628\u062A\u0645\u0628\u0631";
  fields = json{{"title", arabic}, {"priority_area", 1}, {"goal", "2.1.1"}, {"kind", "meeting"},
                {"status", "implemented"}};
  const std::string line = type_->summary(fields);
  const std::string title = fieldsync::text::truncate(arabic, 80);
  EXPECT_NE(line.find("[2.1.1]"), std::string::npos) << line;
  EXPECT_NE(line.find("\u2068" + title + "\u2069"), std::string::npos) << line;
  EXPECT_EQ(line.find("\u00B7  \u00B7"), std::string::npos) << line;  // nothing empty in between
  EXPECT_LE(fieldsync::text::length(title), 80u);
}

TEST_F(ActivityPlugin, MergePolicies) {
  EXPECT_EQ(type_->merge_policy("institutions"), MergePolicy::union_set);
  EXPECT_EQ(type_->merge_policy("countries"), MergePolicy::union_set);
  EXPECT_EQ(type_->merge_policy("status"), MergePolicy::review);
  EXPECT_EQ(type_->merge_policy("participants"), MergePolicy::max);
  EXPECT_EQ(type_->merge_policy("title"), MergePolicy::lww);
  EXPECT_EQ(type_->merge_policy("amount_usd"), MergePolicy::lww);
  EXPECT_EQ(type_->merge_policy("no_such_field"), MergePolicy::lww);
}

TEST_F(ActivityPlugin, Migrate) {
  EXPECT_EQ(type_->migrate(valid(), 1), valid());
  for (int version : {0, 2}) {
    try {
      type_->migrate(valid(), version);
      FAIL() << "migrated from version " << version;
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::plugin);
    }
  }
}

// A field value nested 200,000 deep (as a hostile file or sync body could hold, were it not
// refused while parsing) gets an issue naming the field from check(); normalize and check never
// recurse over it.
TEST_F(ActivityPlugin, ADeeplyNestedValueIsAnIssueNotACrash) {
  for (const char* field : {"institutions", "place", "title"}) {
    json deep = "SESRIC";  // built (and moved, never copied: a copy recurses) level by level
    for (int i = 0; i < 200'000; ++i) {
      json wrapper = json::array();
      wrapper.push_back(std::move(deep));
      deep = std::move(wrapper);
    }
    json fields;
    ASSERT_NO_THROW(fields = type_->normalize(with(field, std::move(deep))));
    expect_rejected(fields, field, "depth");
  }
}

TEST_F(ActivityPlugin, ReportFactsGivePriorityAreaStatusDateAndFigures) {
  const auto figures = type_->report_figures();
  ASSERT_EQ(figures.size(), 2u);
  EXPECT_EQ(figures[0].key, "participants");
  EXPECT_EQ(figures[0].ar, "المشاركون");
  EXPECT_EQ(figures[1].key, "amount_usd");
  EXPECT_EQ(figures[1].fr, "Montant (USD)");

  json fields = with("participants", 45);
  fields["amount_usd"] = 12500.5;
  const auto facts = type_->report_facts(fields);
  EXPECT_EQ(facts.date, "2018-03-08");
  EXPECT_EQ(facts.status, "implemented");
  EXPECT_EQ(facts.goal, "2.8.3");
  EXPECT_EQ(facts.priority_areas, std::vector<int>{8});
  EXPECT_EQ(facts.figures.at("participants"), 45);
  EXPECT_EQ(facts.figures.at("amount_usd"), 12500.5);

  // A record that breaks its rules still tells what it can, and nothing of the wrong shape.
  fields = with("priority_area", 40);
  fields["participants"] = "many";
  const auto partial = type_->report_facts(fields);
  EXPECT_TRUE(partial.priority_areas.empty());
  EXPECT_EQ(partial.figures.count("participants"), 0u);
  EXPECT_NO_THROW(type_->report_facts(json::array()));
}
