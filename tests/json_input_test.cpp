// parse_json_input: what every JSON read from outside goes through. Nesting is bounded while
// parsing (no deep tree, no recursion, no crash), a key twice and a NUL are refused naming the
// field, and good text — Arabic and French included — comes out byte-exact.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "core/error.hpp"
#include "core/json_input.hpp"
#include "core/json_walk.hpp"
#include "core/tuning.hpp"

namespace fieldsync {
namespace {

using nlohmann::json;

// `levels` arrays inside each other: "[[[1]]]" for 3.
std::string nested_arrays(std::size_t levels) { return std::string(levels, '[') + "1" + std::string(levels, ']'); }

// {"a":{"a":…1…}} with `levels` objects.
std::string nested_objects(std::size_t levels) {
  std::string out;
  for (std::size_t i = 0; i < levels; ++i) out += "{\"a\":";
  out += "1";
  out += std::string(levels, '}');
  return out;
}

// The Error parse_json_input throws for `text` (fails the test when it accepts it).
Error refusal_of(const std::string& text) {
  try {
    parse_json_input(text, "test input");
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "accepted: " << text.substr(0, 200);
  return Error(Errc::internal, "accepted");
}

void expect_rule(const Error& e, const std::string& rule, const std::string& field) {
  EXPECT_EQ(e.code(), Errc::invalid_input);
  EXPECT_EQ(e.where(), "test input");
  ASSERT_EQ(e.issues().size(), 1u) << e.describe();
  EXPECT_EQ(e.issues()[0].rule, rule) << e.describe();
  EXPECT_EQ(e.issues()[0].field, field) << e.describe();
}

TEST(JsonInput, NestingUpToTheLimitIsAcceptedOnePastIsRefused) {
  const std::size_t limit = tuning::kJsonMaxDepth;
  const json arrays = parse_json_input(nested_arrays(limit), "test input");
  EXPECT_EQ(json_walk::depth(arrays, 1000), limit);
  const json objects = parse_json_input(nested_objects(limit), "test input");
  EXPECT_EQ(json_walk::depth(objects, 1000), limit);

  expect_rule(refusal_of(nested_arrays(limit + 1)), "depth", "");
  const Error e = refusal_of(nested_objects(limit + 1));
  expect_rule(e, "depth", "a");
  EXPECT_NE(std::string(e.what()).find(std::to_string(limit)), std::string::npos) << e.what();
}

TEST(JsonInput, HundredThousandLevelsAreRefusedQuicklyWithoutCrash) {
  const auto started = std::chrono::steady_clock::now();
  expect_rule(refusal_of(std::string(100'000, '[')), "depth", "");
  expect_rule(refusal_of(nested_arrays(100'000)), "depth", "");
  std::string objects;
  for (int i = 0; i < 100'000; ++i) objects += "{\"a\":";
  expect_rule(refusal_of(objects), "depth", "a");
  expect_rule(refusal_of(nested_objects(100'000)), "depth", "a");
  // Refused at level 65: the rest of the text is never read.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
}

TEST(JsonInput, ADuplicateKeyIsRefusedNamingIt) {
  const Error top = refusal_of(R"({"office": "AFG", "office": "NER"})");
  expect_rule(top, "duplicate_key", "office");
  EXPECT_NE(std::string(top.what()).find("\"office\" appears twice"), std::string::npos) << top.what();

  const Error nested = refusal_of(R"({"id": "x", "fields": {"title": "a", "office": "AFG", "office": "NER"}})");
  expect_rule(nested, "duplicate_key", "office");
  EXPECT_NE(nested.issues()[0].message.find("fields"), std::string::npos) << nested.describe();

  const Error in_list = refusal_of(R"({"changes": [{"id": 1}, {"id": 2, "id": 3}]})");
  expect_rule(in_list, "duplicate_key", "id");
  EXPECT_NE(in_list.issues()[0].message.find("changes[1]"), std::string::npos) << in_list.describe();

  // The same key in two different objects is fine.
  EXPECT_NO_THROW(parse_json_input(R"({"a": {"office": 1}, "b": {"office": 2}})", "test input"));
}

TEST(JsonInput, NulInAValueOrAKeyIsRefusedNamingTheField) {
  expect_rule(refusal_of(R"({"fields": {"title": "Nia\u0000mey"}})"), "nul", "title");
  expect_rule(refusal_of(R"({"institutions": ["SESRIC", "ISE\u0000SCO"]})"), "nul", "institutions");
  expect_rule(refusal_of(R"({"fields": {"tit\u0000le": "Niamey"}})"), "nul", "tit\\u0000le");
  expect_rule(refusal_of(R"("\u0000")"), "nul", "");
  // A raw 0 byte: inside a string and outside one.
  expect_rule(refusal_of(std::string("{\"title\": \"Nia\0mey\"}", 20)), "nul", "title");
  expect_rule(refusal_of(std::string("{\"title\": 1}\0", 13)), "nul", "");
}

TEST(JsonInput, MalformedAndInvalidUtf8AreRefusedSayingWhere) {
  const Error cut = refusal_of(R"({"fields": {"title": )");
  expect_rule(cut, "json", "title");
  EXPECT_NE(std::string(cut.what()).find("not valid JSON"), std::string::npos) << cut.what();
  EXPECT_NE(std::string(cut.what()).find("byte"), std::string::npos) << cut.what();
  expect_rule(refusal_of(""), "json", "");
  expect_rule(refusal_of("{} {}"), "json", "");
  const Error utf8 = refusal_of("{\"title\": \"Nia\xC3\x28mey\"}");
  expect_rule(utf8, "utf8", "title");
  EXPECT_NE(std::string(utf8.what()).find("UTF-8"), std::string::npos) << utf8.what();
  expect_rule(refusal_of(R"({"t": "\ud800"})"), "json", "t");  // a lone surrogate is not text
}

TEST(JsonInput, ArabicAndFrenchTextComesOutByteExact) {
  const std::string arabic = "ورشة عمل حول الأمن الغذائي في نيامي";
  const std::string french = "Atelier régional sur la sécurité alimentaire à Niamey, « déjà » vu — œuvre";
  const std::string text = R"({"title": ")" + arabic + R"(", "description": ")" + french +
                           R"(", "institutions": ["SESRIC", "إيسيسكو"], "n": 40, "x": 1.5, "ok": true, "none": null})";
  const json parsed = parse_json_input(text, "test input");
  EXPECT_EQ(parsed["title"].get<std::string>(), arabic);
  EXPECT_EQ(parsed["description"].get<std::string>(), french);
  EXPECT_EQ(parsed["institutions"][1].get<std::string>(), "إيسيسكو");
  EXPECT_EQ(parsed["n"], 40);
  EXPECT_EQ(parsed["x"], 1.5);
  EXPECT_EQ(parsed["ok"], true);
  EXPECT_TRUE(parsed["none"].is_null());
  EXPECT_EQ(parsed, json::parse(text)) << "the same value a plain parse builds";
  EXPECT_EQ(parse_json_input(R"("\u00e9\ud83d\ude00")", "x").get<std::string>(), "é😀");
}

// The iterative walks: any depth, no recursion.
TEST(JsonWalk, WalksAHundredThousandLevelsWithoutRecursion) {
  json deep = "leaf";
  for (int i = 0; i < 100'000; ++i) {
    json wrapper = json::array();
    wrapper.push_back(std::move(deep));
    deep = std::move(wrapper);
  }
  EXPECT_EQ(json_walk::depth(deep, 1'000'000), 100'000u);
  EXPECT_EQ(json_walk::depth(deep, 64), 65u);
  std::size_t strings = 0;
  json_walk::for_each_text(deep, [&](const std::string& s, bool is_key, const std::string&) {
    EXPECT_EQ(s, "leaf");
    EXPECT_FALSE(is_key);
    ++strings;
    return true;
  });
  EXPECT_EQ(strings, 1u);
}

TEST(JsonWalk, NamesTheTopLevelFieldOfEveryText) {
  const json value = json::parse(R"({"a": "x", "b": {"c": ["y", {"d": "z"}]}})");
  std::vector<std::string> seen;
  json_walk::for_each_text(value, [&](const std::string& s, bool is_key, const std::string& field) {
    seen.push_back((is_key ? "key " : "") + s + "@" + field);
    return true;
  });
  const std::vector<std::string> expected = {"key a@a", "x@a", "key b@b", "key c@b", "y@b", "key d@b", "z@b"};
  EXPECT_EQ(seen, expected);
}

}  // namespace
}  // namespace fieldsync
