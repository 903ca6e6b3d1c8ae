// The quick schema check (core/schema_quick_check.hpp) vouches for documents valijson would
// accept, so valijson is skipped for them: it must never say yes where valijson says no, and it
// must say yes to the real records it exists for.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "core/schema_quick_check.hpp"
#include "core/schema_validator.hpp"
#include "json_mutation.hpp"

namespace fieldsync {
namespace {

nlohmann::json activity_schema() {
  std::ifstream in(FIELDSYNC_ACTIVITY_SCHEMA);
  return nlohmann::json::parse(in);
}

// valijson alone: a keyword the quick check does not know keeps it out of SchemaValidator
// (valijson ignores it), so this validator always asks valijson.
SchemaValidator valijson_only(nlohmann::json schema) {
  schema["x-valijson-only"] = true;
  EXPECT_FALSE(SchemaQuickCheck::compile(schema).has_value());
  return SchemaValidator(schema);
}

std::vector<nlohmann::json> real_records() {
  std::vector<nlohmann::json> out;
  std::ifstream in(std::string(FIELDSYNC_SHARED_DATA_DIR) + "/activities.jsonl");
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line)["fields"]);
  return out;
}

// A value put in place of another by the mutation test: each of JSON's types, numbers at and
// around the bounds schemas give, texts around lengths and patterns, in Arabic and French.
const std::vector<nlohmann::json>& replacements() {
  static const std::vector<nlohmann::json> values = {
      nullptr, true, false, 0, -1, 1, 18, 19, 1.0, 1.5, 18.0, -0.5, 1e300, 9007199254740993ull, "", " ", "x",
      "ar", "fr", "en", "arabic", "AR", "2018-09-26", "2018-9-26", "x2018-09-26", "2018-09-26\n", "2.1", "2.18.3",
      "2.19", "2.1.123", "2.0", "NER", "ner", "NERR", "planned", "implemented", "Planned", "workshop",
      std::string(300, 'a'), std::string(150, 'x'), "عُقد اجتماع استثنائي", std::string(100, 'e') + "é",
      nlohmann::json::array(), nlohmann::json::array({"NER", "NER"}), nlohmann::json::array({"NER", "AFG"}),
      nlohmann::json::array({1, 1.0}), nlohmann::json::array({"x"}), nlohmann::json::object(),
      nlohmann::json::object({{"a", 1}})};
  return values;
}


// Thousands of documents made from `good` with one to three places changed (a value replaced, a
// key dropped, a key or item added): the quick check must never accept one valijson refuses.
void holds_to_valijson(const nlohmann::json& schema, const std::vector<nlohmann::json>& goods, std::uint32_t seed) {
  const auto quick = SchemaQuickCheck::compile(schema);
  ASSERT_TRUE(quick.has_value());
  const SchemaValidator reference = valijson_only(schema);
  SchemaQuickCheck::Memo memo;
  std::mt19937 rng(seed);
  auto pick = [&](std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng); };
  std::size_t quick_yes = 0, valijson_no = 0;
  for (int i = 0; i < 4'000; ++i) {
    const nlohmann::json doc =
        test::mutated(goods[pick(goods.size())], rng, replacements(), {"title", "status", "extra", "priority_area", "languages", "x"}, 3);
    const bool yes = quick->accepts(doc, memo);
    const bool valid = reference.validate(doc).empty();
    quick_yes += yes;
    valijson_no += !valid;
    ASSERT_TRUE(!yes || valid) << "the quick check accepts what valijson refuses: " << doc.dump();
  }
  // Both answers were seen often, so the comparison covered both sides.
  EXPECT_GT(quick_yes, 400u);
  EXPECT_GT(valijson_no, 1'000u);
}

TEST(SchemaQuickCheck, AcceptsTheRealRecordsValijsonAccepts) {
  const auto quick = SchemaQuickCheck::compile(activity_schema());
  ASSERT_TRUE(quick.has_value()) << "the activity schema uses a keyword the quick check does not compile";
  const SchemaValidator reference = valijson_only(activity_schema());
  SchemaQuickCheck::Memo memo;
  std::size_t valid = 0, vouched = 0;
  for (const auto& record : real_records()) {
    const bool ok = reference.validate(record).empty();
    const bool yes = quick->accepts(record, memo);
    valid += ok;
    vouched += yes;
    EXPECT_TRUE(!yes || ok) << record.dump();
    EXPECT_EQ(yes, ok) << "valid, yet sent to valijson: " << record.dump();
  }
  EXPECT_GT(valid, 400u);
  EXPECT_EQ(vouched, valid);
}

TEST(SchemaQuickCheck, NeverSaysYesWhereValijsonSaysNoOnActivities) {
  holds_to_valijson(activity_schema(), real_records(), 42);
}

// Every keyword the quick check compiles, on a schema of its own: type lists, enum of numbers
// (1 and 1.0 are one value to valijson), uniqueItems, lengths counted in code points (Arabic
// letters are two bytes each), bounds on floats, patterns, closed and open objects.
TEST(SchemaQuickCheck, NeverSaysYesWhereValijsonSaysNoOnEveryKeyword) {
  const nlohmann::json schema = nlohmann::json::parse(R"({
    "type": "object", "required": ["title", "count"], "additionalProperties": false,
    "properties": {
      "title": {"type": "string", "minLength": 3, "maxLength": 20, "pattern": "^[^ ]"},
      "count": {"type": ["integer", "null"], "minimum": 1, "maximum": 18},
      "share": {"type": "number", "minimum": -0.5, "maximum": 1.5},
      "status": {"enum": ["planned", "implemented", 1, null]},
      "languages": {"type": "array", "uniqueItems": true, "items": {"type": "string", "pattern": "^[a-z]{2,3}$"}},
      "open": {"type": "object", "properties": {"a": {"type": "integer"}}},
      "x": {}
    }})");
  const std::vector<nlohmann::json> goods = {
      nlohmann::json::parse(R"({"title": "ورشة عمل", "count": 18, "share": 0.5, "status": "planned", "languages": ["ar", "fr"], "open": {"a": 1, "b": 2}})"),
      nlohmann::json::parse(R"({"title": "Atelier régional", "count": null, "status": 1.0, "x": [1, {}]})"),
      nlohmann::json::parse(R"({"title": "abc", "count": 1, "share": -0.5, "languages": []})")};
  holds_to_valijson(schema, goods, 7);
}

TEST(SchemaQuickCheck, LeavesToValijsonTheSchemasItDoesNotKnow) {
  for (const char* schema : {R"({"type": "string", "format": "date"})", R"({"$ref": "#/definitions/x"})",
                             R"({"oneOf": [{"type": "string"}]})", R"({"items": [{"type": "string"}]})",
                             R"({"additionalProperties": {"type": "string"}})", R"({"exclusiveMaximum": 3})",
                             R"({"type": "decimal"})", R"({"pattern": "("})",
                             R"({"properties": {"a": {"minItems": 1}}})"}) {
    EXPECT_FALSE(SchemaQuickCheck::compile(nlohmann::json::parse(schema)).has_value()) << schema;
  }
  EXPECT_TRUE(SchemaQuickCheck::compile(nlohmann::json::parse(R"({"title": "t", "description": "d", "examples": [1]})")).has_value());
}

}  // namespace
}  // namespace fieldsync
