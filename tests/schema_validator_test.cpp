// core/schema_validator: valijson errors as FieldIssues naming the field, the rule, in words.
#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/schema_validator.hpp"

using fieldsync::Errc;
using fieldsync::Error;
using fieldsync::FieldIssue;
using fieldsync::SchemaValidator;
using nlohmann::json;

namespace {

const json& activity_schema() {
  static const json schema = [] {
    std::ifstream in(FIELDSYNC_ACTIVITY_SCHEMA);
    return json::parse(in);
  }();
  return schema;
}

json valid_activity() {
  return {{"title", "Atelier r\u00E9gional sur la s\u00E9curit\u00E9 alimentaire"},
          {"priority_area", 8},
          {"goal", "2.8.3"},
          {"kind", "workshop"},
          {"status", "implemented"},
          {"start_date", "2018-03-08"},
          {"institutions", {"IDB", "IOFS"}},
          {"countries", {"NER"}},
          {"language", "fr"}};
}

std::string describe(const std::vector<FieldIssue>& issues) {
  std::string out;
  for (const auto& i : issues) out += "[" + i.field + " / " + i.rule + ": " + i.message + "] ";
  return out;
}

// The one issue the document has; fails the test when there is not exactly one.
FieldIssue only_issue(const std::vector<FieldIssue>& issues) {
  EXPECT_EQ(issues.size(), 1u) << describe(issues);
  return issues.empty() ? FieldIssue{} : issues.front();
}

class ActivitySchema : public ::testing::Test {
 protected:
  SchemaValidator validator{activity_schema()};
};

}  // namespace

TEST_F(ActivitySchema, AcceptsAValidRecord) {
  EXPECT_TRUE(validator.validate(valid_activity()).empty());
}

TEST_F(ActivitySchema, MissingRequiredFieldIsNamed) {
  json doc = valid_activity();
  doc.erase("title");
  const FieldIssue issue = only_issue(validator.validate(doc));
  EXPECT_EQ(issue.field, "title");
  EXPECT_EQ(issue.rule, "required");
  EXPECT_EQ(issue.message, "is required");
}

TEST_F(ActivitySchema, MinimumAndMaximum) {
  json doc = valid_activity();
  doc["priority_area"] = 0;
  FieldIssue issue = only_issue(validator.validate(doc));
  EXPECT_EQ(issue.field, "priority_area");
  EXPECT_EQ(issue.rule, "minimum");
  EXPECT_EQ(issue.message, "must be at least 1");

  doc["priority_area"] = 19;
  issue = only_issue(validator.validate(doc));
  EXPECT_EQ(issue.rule, "maximum");
  EXPECT_EQ(issue.message, "must be at most 18");

  doc = valid_activity();
  doc["amount_usd"] = -0.5;
  issue = only_issue(validator.validate(doc));
  EXPECT_EQ(issue.field, "amount_usd");
  EXPECT_EQ(issue.message, "must be at least 0");
}

TEST_F(ActivitySchema, EnumListsTheAllowedValues) {
  json doc = valid_activity();
  doc["kind"] = "party";
  const FieldIssue issue = only_issue(validator.validate(doc));
  EXPECT_EQ(issue.field, "kind");
  EXPECT_EQ(issue.rule, "enum");
  EXPECT_NE(issue.message.find("workshop"), std::string::npos) << issue.message;
  EXPECT_NE(issue.message.find("field_visit"), std::string::npos) << issue.message;
}

TEST_F(ActivitySchema, PatternGivesAnExample) {
  json doc = valid_activity();
  doc["start_date"] = "08/03/2018";
  const FieldIssue issue = only_issue(validator.validate(doc));
  EXPECT_EQ(issue.field, "start_date");
  EXPECT_EQ(issue.rule, "pattern");
  EXPECT_NE(issue.message.find("2018-03-08"), std::string::npos) << issue.message;

  doc = valid_activity();
  doc["goal"] = "2.19.1";
  EXPECT_EQ(only_issue(validator.validate(doc)).rule, "pattern");
}

TEST_F(ActivitySchema, WrongTypeIsNamed) {
  json doc = valid_activity();
  doc["priority_area"] = "8";
  const FieldIssue issue = only_issue(validator.validate(doc));
  EXPECT_EQ(issue.field, "priority_area");
  EXPECT_EQ(issue.rule, "type");
  EXPECT_EQ(issue.message, "must be a whole number");
}

TEST_F(ActivitySchema, UnknownFieldsAreEachNamed) {
  json doc = valid_activity();
  doc["titel"] = "typo";
  FieldIssue issue = only_issue(validator.validate(doc));
  EXPECT_EQ(issue.field, "titel");
  EXPECT_EQ(issue.rule, "additionalProperties");
  EXPECT_EQ(issue.message, "is not allowed (unknown field)");

  doc["zzz"] = 1;
  const auto issues = validator.validate(doc);
  ASSERT_EQ(issues.size(), 2u) << describe(issues);
  std::vector<std::string> fields{issues[0].field, issues[1].field};
  std::sort(fields.begin(), fields.end());
  EXPECT_EQ(fields, (std::vector<std::string>{"titel", "zzz"}));
}

TEST_F(ActivitySchema, ArrayItemErrorsNameTheListWithoutWrapperNoise) {
  json doc = valid_activity();
  doc["institutions"] = {"IDB", ""};
  FieldIssue issue = only_issue(validator.validate(doc));
  EXPECT_EQ(issue.field, "institutions");
  EXPECT_EQ(issue.rule, "minLength");
  EXPECT_EQ(issue.message, "item 2 must not be empty");

  doc = valid_activity();
  doc["countries"] = {"NER", "ner"};
  issue = only_issue(validator.validate(doc));
  EXPECT_EQ(issue.field, "countries");
  EXPECT_EQ(issue.rule, "pattern");

  doc = valid_activity();
  doc["countries"] = {"NER", "NER", "NER"};
  issue = only_issue(validator.validate(doc));  // three pairs, one failure
  EXPECT_EQ(issue.field, "countries");
  EXPECT_EQ(issue.rule, "uniqueItems");
}

TEST_F(ActivitySchema, ReportsEveryBrokenFieldOnce) {
  json doc = valid_activity();
  doc.erase("goal");
  doc["priority_area"] = 0;
  doc["status"] = "done";
  const auto issues = validator.validate(doc);
  ASSERT_EQ(issues.size(), 3u) << describe(issues);
  std::vector<std::string> rules;
  for (const auto& i : issues) rules.push_back(i.field + "/" + i.rule);
  std::sort(rules.begin(), rules.end());
  EXPECT_EQ(rules, (std::vector<std::string>{"goal/required", "priority_area/minimum", "status/enum"}));
}

TEST_F(ActivitySchema, InvalidUtf8IsReportedNotPassedOn) {
  json doc = valid_activity();
  // A long run of continuation bytes: valijson's own length counter must never see it.
  doc["title"] = std::string("Atelier \xF0") + std::string(20, '\x80');
  const FieldIssue issue = only_issue(validator.validate(doc));
  EXPECT_EQ(issue.field, "title");
  EXPECT_EQ(issue.rule, "utf8");
  EXPECT_NE(issue.message.find("byte 8"), std::string::npos) << issue.message;
}

TEST_F(ActivitySchema, IsReusable) {
  json bad = valid_activity();
  bad["kind"] = "party";
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(validator.validate(valid_activity()).empty());
    EXPECT_EQ(validator.validate(bad).size(), 1u);
  }
  SchemaValidator moved = std::move(validator);
  EXPECT_EQ(moved.validate(bad).size(), 1u);
}

TEST(SchemaValidator, RejectsASchemaItCannotParse) {
  try {
    SchemaValidator validator(json{{"$ref", 5}});
    FAIL() << "accepted a broken schema";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::plugin);
  }
}

TEST(SchemaValidator, NestedRequiredNamesTheTopLevelField) {
  const json schema = {
      {"type", "object"},
      {"properties",
       {{"contact",
         {{"type", "object"},
          {"required", {"phone"}},
          {"properties", {{"phone", {{"type", "string"}}}}}}}}}};
  SchemaValidator validator(schema);
  const FieldIssue issue = only_issue(validator.validate(json{{"contact", json::object()}}));
  EXPECT_EQ(issue.field, "contact");
  EXPECT_EQ(issue.rule, "required");
  EXPECT_EQ(issue.message, "'phone' is required");
}

namespace {

// `levels` arrays around `leaf`, built without recursion (and destroyed without it: nlohmann
// 3.11 frees a value with a stack of its own).
json nested(std::size_t levels, json leaf) {
  for (std::size_t i = 0; i < levels; ++i) {
    json wrapper = json::array();
    wrapper.push_back(std::move(leaf));
    leaf = std::move(wrapper);
  }
  return leaf;
}

}  // namespace

// A value nested far deeper than any input may be (the walks over it used to recurse and run out
// of stack): one issue naming the field, no crash. Invalid UTF-8 at the bottom takes the repair
// path too.
TEST_F(ActivitySchema, ADeeplyNestedValueIsAnIssueNotACrash) {
  for (const char* leaf : {"Niamey", "Nia\xC3\x28mey"}) {
    json fields = valid_activity();
    fields["place"] = nested(200'000, leaf);
    const std::vector<FieldIssue> issues = validator.validate(fields);
    const FieldIssue issue = only_issue(issues);
    EXPECT_EQ(issue.field, "place");
    EXPECT_EQ(issue.rule, "depth");
  }
  // Within the limit, the value gets the usual check ("place" must be text).
  json fields = valid_activity();
  fields["place"] = nested(60, "Niamey");
  const FieldIssue issue = only_issue(validator.validate(fields));
  EXPECT_EQ(issue.field, "place");
  EXPECT_EQ(issue.rule, "type");
}

// Invalid UTF-8 deep inside a value (within the depth limit) is reported and repaired by the
// iterative walk, naming the top-level field.
TEST_F(ActivitySchema, InvalidUtf8DeepInsideAValueNamesTheTopLevelField) {
  json fields = valid_activity();
  fields["institutions"] = nested(40, json::object({{"k\xC3\x28", "Nia\xC3\x28mey"}}));
  const std::vector<FieldIssue> issues = validator.validate(fields);
  std::size_t utf8 = 0;
  for (const auto& i : issues) {
    if (i.rule == "utf8") {
      ++utf8;
      EXPECT_EQ(i.field, "institutions") << describe(issues);
    }
  }
  EXPECT_EQ(utf8, 2u) << describe(issues);
}

// A plugin's schema nested deeper than the limit is refused as a plugin error before valijson's
// recursive parser (or a copy) walks it.
TEST(SchemaValidator, RefusesASchemaNestedTooDeep) {
  json schema = {{"type", "string"}};
  for (int i = 0; i < 200'000; ++i) schema = json{{"type", "array"}, {"items", std::move(schema)}};
  try {
    SchemaValidator validator(schema);
    FAIL() << "accepted a schema nested 200,000 deep";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::plugin);
    EXPECT_NE(std::string(e.what()).find("deeper"), std::string::npos) << e.what();
  }
  // A deep but reasonable schema is fine.
  json ok = {{"type", "string"}};
  for (int i = 0; i < 20; ++i) ok = json{{"type", "array"}, {"items", std::move(ok)}};
  EXPECT_NO_THROW(SchemaValidator{ok});
}

// Messages give the schema's own numbers also inside tuples ("items": [...]) and behind a local
// "$ref", where a version's bounds live in the protocol's schemas; before, they read
// "must be at least " with the number missing, or valijson's own English.
TEST(SchemaMessages, NumbersInTuplesAndBehindLocalRefsAreNamed) {
  const json schema = json::parse(R"({
    "$defs": {"version": {"type": "array", "items": [{"type": "integer", "minimum": 1, "maximum": 99}, {"type": "string"}]}},
    "type": "object",
    "properties": {
      "created": {"$ref": "#/$defs/version"},
      "fields": {"type": "object", "minProperties": 1}
    }
  })");
  SchemaValidator validator{schema};
  const FieldIssue low = only_issue(validator.validate(json::parse(R"({"created": [0, "a"]})")));
  EXPECT_EQ(low.rule, "minimum");
  EXPECT_EQ(low.message.substr(low.message.size() - std::string("must be at least 1").size()), "must be at least 1") << low.message;
  const FieldIssue high = only_issue(validator.validate(json::parse(R"({"created": [100, "a"]})")));
  EXPECT_NE(high.message.find("must be at most 99"), std::string::npos) << high.message;
  const FieldIssue empty = only_issue(validator.validate(json::parse(R"({"fields": {}})")));
  EXPECT_EQ(empty.rule, "minProperties");
  EXPECT_NE(empty.message.find("must not be empty"), std::string::npos) << empty.message;
}
