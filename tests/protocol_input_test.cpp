// The sync protocol's decoders (HQ decoding a request, a laptop decoding HQ's answer) on hostile
// bodies: nesting past the limit, a key twice, a NUL — each an Error(invalid_input) naming the
// rule, never a crash. (The same bodies against a running HQ: hq_bad_input_test.)
#include <gtest/gtest.h>

#include <string>

#include "core/error.hpp"
#include "sync/protocol.hpp"

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

}  // namespace
}  // namespace fieldsync
