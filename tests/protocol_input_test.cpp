// The sync protocol's decoders (HQ decoding a request, a laptop decoding HQ's answer) on hostile
// bodies: nesting past the limit, a key twice, a NUL — each an Error(invalid_input) naming the
// rule, never a crash. (The same bodies against a running HQ: hq_bad_input_test.)
#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "sync/internal/protocol_shape.hpp"
#include "sync/protocol.hpp"
#include "sync/record_refusals.hpp"
#include "json_mutation.hpp"

namespace fieldsync {
namespace {

// The rule of the Error `decode` throws for `body`; "" (and a test failure) when it accepts it.
template <class Decode>
std::string refusal_rule(Decode decode, const std::string& body) {
  try {
    decode(body);
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_input) << e.describe();
    return e.issues().empty() ? std::string() : e.issues().front().rule;
  }
  ADD_FAILURE() << "accepted: " << body.substr(0, 200);
  return {};
}

const std::string kEmptyRequest = R"({"protocol": 1, "replica": "0123456789abcdef", "cursor": 0, "changes": []})";
const std::string kEmptyResponse =
    R"({"protocol": 1, "stored": 0, "changes": [], "cursor": 0, "more": false, "hq_time": 1700000000000})";

std::string nested(std::size_t levels) { return std::string(levels, '[') + std::string(levels, ']'); }

TEST(ProtocolInput, TheGoodBodiesDecode) {
  EXPECT_NO_THROW(protocol::decode_sync_request(kEmptyRequest));
  EXPECT_NO_THROW(protocol::decode_sync_response(kEmptyResponse));
}

TEST(ProtocolInput, HostileRequestsAreRefusedNotACrash) {
  auto decode = [](const std::string& body) { protocol::decode_sync_request(body); };
  EXPECT_EQ(refusal_rule(decode, std::string(100'000, '[')), "depth");
  EXPECT_EQ(refusal_rule(decode, R"({"protocol": 1, "replica": "0123456789abcdef", "cursor": 0, "changes": )" +
                                     nested(100'000) + "}"),
            "depth");
  EXPECT_EQ(refusal_rule(decode, R"({"protocol": 1, "protocol": 1, "replica": "0123456789abcdef", "cursor": 0, "changes": []})"),
            "duplicate_key");
  EXPECT_EQ(refusal_rule(decode, R"({"protocol": 1, "replica": "0123456789ab\u0000cdef", "cursor": 0, "changes": []})"),
            "nul");
}

TEST(ProtocolInput, HostileAnswersFromHqAreRefusedNotACrash) {
  auto decode = [](const std::string& body) { protocol::decode_sync_response(body); };
  std::string objects;
  for (int i = 0; i < 100'000; ++i) objects += "{\"a\":";
  EXPECT_EQ(refusal_rule(decode, objects), "depth");
  EXPECT_EQ(refusal_rule(decode, R"({"protocol": 1, "stored": 0, "changes": )" + nested(100'000) +
                                     R"(, "cursor": 0, "more": false, "hq_time": 1700000000000})"),
            "depth");
  EXPECT_EQ(refusal_rule(decode, R"({"protocol": 1, "stored": 0, "changes": [], "cursor": 0, "cursor": 9, "more": false, "hq_time": 1})"),
            "duplicate_key");
}


// A push page as a laptop sends it: a record as created (its values bare) and one edited since
// (its fields' states), Arabic and French text in both.
const nlohmann::json kPushPage = nlohmann::json::parse(R"({
  "protocol": 1, "replica": "0123456789abcdef", "cursor": 12, "max_pull": 500, "max_pull_bytes": 1000000,
  "changes": [
    {"id": "6f1c2a9e-3b7d-4e21-9a0f-1c2d3e4f5a6b", "type": "activity", "office": "NER", "schema_version": 1,
     "created": [1700000000000, "0123456789abcdef"], "created_by": "Aïcha",
     "values": {"title": "ورشة عمل حول التعليم", "kind": "workshop", "participants": 40}},
    {"id": "7a2b3c4d-5e6f-4a1b-8c9d-0e1f2a3b4c5d", "type": "activity", "office": "NER", "schema_version": 1,
     "created": [1700000000001, "0123456789abcdef"], "created_by": "Aïcha",
     "fields": {"title": {"h": [[1700000000005, "fedcba9876543210", "Atelier régional", "Moussa"]],
                          "r": [[1700000000001, "0123456789abcdef"]]},
                "status": {"h": [[1700000000001, "0123456789abcdef", "planned", "Aïcha"],
                                 [1700000000003, "fedcba9876543210", "ongoing", "Moussa"]]}}}]})");


// What HQ lists of a page's refused records reads back the same; an answer that lists them in any
// other shape lists nothing, so the laptop sets nothing aside and the sync stops on it.
TEST(RecordRefusals, ReadBackWhatHqListsAndNothingFromAnyOtherShape) {
  const std::string long_id(5000, 'a');
  const HttpResponse answer = protocol::refusal_response(
      {{"0190a1b2-0000-7000-8000-000000000001", 403, "forbidden", "record 0190… belongs to AFG, not to office NER", {}},
       {long_id, 400, "validation", "the activity record would break 1 rule",
        {FieldIssue{"priority_area", "maximum", "doit être au plus 18 — يجب ألا يتجاوز 18"}}}});
  EXPECT_EQ(answer.status, 403);
  const nlohmann::json body = nlohmann::json::parse(answer.body);
  EXPECT_EQ(body["error"]["code"], "forbidden");
  const auto refusals = protocol::refusals_of(body);
  ASSERT_EQ(refusals.size(), 2u);
  EXPECT_EQ(refusals[0].id, "0190a1b2-0000-7000-8000-000000000001");
  EXPECT_EQ(refusals[0].status, 403);
  EXPECT_LT(refusals[1].id.size(), 300u) << "an echoed id is bounded";
  ASSERT_EQ(refusals[1].issues.size(), 1u);
  EXPECT_EQ(refusals[1].issues[0].message, "doit être au plus 18 — يجب ألا يتجاوز 18");

  for (const char* other : {R"({"error": {"code": "x", "message": "y"}})", R"({"error": {"records": 7}})",
                            R"({"error": {"records": [{"id": "a", "status": 500}]}})",
                            R"({"error": {"records": [{"id": "a"}]}})", R"({"error": {"records": [{"status": 400}]}})",
                            R"({"error": {"records": [{"id": "a", "status": 400}, 3]}})", R"([1])", R"("text")"}) {
    EXPECT_TRUE(protocol::refusals_of(nlohmann::json::parse(other)).empty()) << other;
  }
}

TEST(RequestShape, SaysYesToTheBodiesLaptopsSend) {
  EXPECT_TRUE(protocol::is_sync_request_shape(kPushPage));
  EXPECT_TRUE(protocol::is_sync_request_shape(nlohmann::json::parse(kEmptyRequest)));
  EXPECT_TRUE(protocol::request_schema_accepts(kPushPage));
}

// A pull page as HQ answers it: the same records, as HQ's feed sends them.
nlohmann::json pull_answer() {
  nlohmann::json answer{{"protocol", 1}, {"stored", 2}, {"cursor", 44}, {"more", true}, {"hq_time", 1700000000009}};
  answer["changes"] = kPushPage["changes"];
  return answer;
}

// Holds a quick check to its schema over thousands of bodies made from `good` with one or two
// places changed (a value replaced by one of another type or range, a key dropped or added): it
// must never say yes where the schema says no.
template <class Quick, class Schema>
void never_says_yes_where_the_schema_says_no(const nlohmann::json& good, Quick quick_check, Schema schema_check) {
  const std::vector<nlohmann::json> replacements = {
      nullptr, true, 0, -1, 1, 2, 1.0, 1.5, 9223372036854775807ll, 9223372036854775808ull, "", "x",
      "0123456789abcdef", std::string(201, 'a'), nlohmann::json::array(), nlohmann::json::object(),
      nlohmann::json::array({1, "r"}), nlohmann::json::array({1, "0123456789abcdef", "v", "author"}),
      nlohmann::json::object({{"h", nlohmann::json::array()}})};
  std::mt19937 rng(42);
  std::size_t quick_yes = 0, schema_no = 0;
  for (int i = 0; i < 5'000; ++i) {
    const nlohmann::json body = test::mutated(good, rng, replacements, {"extra"}, 2);
    const bool quick = quick_check(body);
    const bool schema = schema_check(body);
    if (quick) ++quick_yes;
    if (!schema) ++schema_no;
    ASSERT_TRUE(!quick || schema) << "the quick check accepts what the schema refuses: " << body.dump();
  }
  // Both answers were seen often, so the comparison covered both sides.
  EXPECT_GT(quick_yes, 300u);
  EXPECT_GT(schema_no, 1'000u);
}

TEST(RequestShape, NeverSaysYesWhereTheSchemaSaysNo) {
  never_says_yes_where_the_schema_says_no(kPushPage, protocol::is_sync_request_shape, protocol::request_schema_accepts);
}

TEST(ResponseShape, SaysYesToTheAnswersHqSends) {
  EXPECT_TRUE(protocol::is_sync_response_shape(pull_answer()));
  EXPECT_TRUE(protocol::is_sync_response_shape(nlohmann::json::parse(kEmptyResponse)));
  EXPECT_TRUE(protocol::response_schema_accepts(pull_answer()));
  EXPECT_EQ(protocol::decode_sync_response(pull_answer().dump()).changes.size(), 2u);
}

TEST(ResponseShape, NeverSaysYesWhereTheSchemaSaysNo) {
  never_says_yes_where_the_schema_says_no(pull_answer(), protocol::is_sync_response_shape, protocol::response_schema_accepts);
}

}  // namespace
}  // namespace fieldsync
