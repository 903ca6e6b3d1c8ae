// The two hand-written JSON loops on the hot path, held to nlohmann's answers over many seeded
// documents: parse_json_input (its own lexer first, nlohmann's parser when that one gives up) must
// accept exactly what nlohmann accepts, with the same value; json_text must write exactly what
// dump() writes. A store written by one and read by the other must never tell them apart.
#include <gtest/gtest.h>

#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/json_input.hpp"
#include "core/json_text.hpp"

namespace fieldsync {
namespace {

using nlohmann::json;

// Pieces of text a JSON document is made of, the tricky ones over-represented: escapes of every
// kind, surrogate pairs whole and broken, Arabic and French letters, bytes that are not UTF-8.
const std::vector<std::string> kStringPieces = {
    "a", "Niamey", "\xD9\x88\xD8\xB1\xD8\xB4\xD8\xA9",  // ورشة
    "\xC3\xA9t\xC3\xA9", "\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u0041", "\\u00e9",
    "\\u0627", "\\uD83D\\uDE00", "\\uD83D", "\\uDE00", "\\u12", "\\x", "\xF0\x9F\x98\x80", "\xE2\x82\xAC",
    "\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xE2\x82", "\x01", "\x7F", " ", "\xEF\xBB\xBF"};

const std::vector<std::string> kNumbers = {
    "0", "-0", "1", "-1", "007", "1.5", "-2.25e3", "1e400", "-1e400", "1E-7", "0.1", "1.", ".5", "-",
    "18446744073709551615", "18446744073709551616", "-9223372036854775808", "-9223372036854775809",
    "123456789012345678", "1234567890123456789", "9223372036854775807", "4.9e-324", "2e", "1e+", "+1"};

class DocumentMaker {
 public:
  explicit DocumentMaker(std::uint32_t seed) : rng_(seed) {}

  std::string value(int depth) {
    switch (pick(depth > 4 ? 5 : 7)) {
      case 0: return string();
      case 1: return kNumbers[pick(kNumbers.size())];
      case 2: return std::vector<std::string>{"true", "false", "null", "tru", "nul"}[pick(5)];
      case 3: case 4: return string();
      case 5: {
        std::string out = "[" + space();
        const std::size_t n = pick(4);
        for (std::size_t i = 0; i < n; ++i) out += (i ? "," + space() : "") + value(depth + 1) + space();
        return out + "]";
      }
      default: {
        std::string out = "{" + space();
        const std::size_t n = pick(4);
        for (std::size_t i = 0; i < n; ++i) {
          // Keys unique in their object, as the input rules require ("k0", "k1"… with a piece).
          out += (i ? "," + space() : "") + "\"k" + std::to_string(i) + piece() + "\"" + space() + ":" + space() +
                 value(depth + 1);
        }
        return out + space() + "}";
      }
    }
  }

  // A few bytes of `text` replaced, dropped or doubled.
  std::string mutate(std::string text) {
    const std::size_t edits = 1 + pick(3);
    for (std::size_t i = 0; i < edits && !text.empty(); ++i) {
      const std::size_t at = pick(text.size());
      switch (pick(3)) {
        case 0: text[at] = static_cast<char>(pick(256)); break;
        case 1: text.erase(at, 1); break;
        default: text.insert(at, 1, text[at]);
      }
    }
    return text;
  }

 private:
  std::size_t pick(std::size_t n) { return std::uniform_int_distribution<std::size_t>(0, n - 1)(rng_); }
  std::string piece() { return pick(3) == 0 ? kStringPieces[pick(kStringPieces.size())] : ""; }
  std::string string() {
    std::string out = "\"";
    const std::size_t n = pick(6);
    for (std::size_t i = 0; i < n; ++i) out += kStringPieces[pick(kStringPieces.size())];
    return out + "\"";
  }
  std::string space() { return std::vector<std::string>{"", "", " ", "\n\t", "\r\n  "}[pick(5)]; }

  std::mt19937 rng_;
};

// nlohmann's own parse of `text`, or nothing when it refuses it.
std::optional<json> reference_parse(const std::string& text) {
  try {
    return json::parse(text);
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

// Our parse of `text`, or nothing when it refuses it; `rule` says which rule refused it.
std::optional<json> our_parse(const std::string& text, std::string& rule) {
  try {
    return parse_json_input(text, "test input");
  } catch (const Error& e) {
    rule = e.issues().empty() ? std::string() : e.issues().front().rule;
    return std::nullopt;
  }
}

// The document maker never repeats a key nor nests past the depth limit, so the only rules of ours
// beyond nlohmann's that can apply are a key twice, which a mutation may make ("k0", "k1" both
// cut to "k"), and a NUL byte a mutation wrote (nlohmann takes one after a value as the end of
// its input): otherwise both must give the same answer.
void expect_same_answer(const std::string& text) {
  const auto reference = reference_parse(text);
  std::string rule;
  const auto ours = our_parse(text, rule);
  if (reference && !ours && (rule == "duplicate_key" || rule == "nul")) return;
  ASSERT_EQ(ours.has_value(), reference.has_value()) << "text: " << text << " (our rule: " << rule << ")";
  if (!ours) return;
  EXPECT_EQ(*ours, *reference) << "text: " << text;
  EXPECT_EQ(ours->dump(), reference->dump()) << "text: " << text;
}

TEST(JsonFastPath, AcceptsExactlyWhatNlohmannAcceptsWithTheSameValue) {
  DocumentMaker maker(20261203);
  std::size_t accepted = 0;
  for (int i = 0; i < 20'000; ++i) {
    const std::string text = maker.value(0);
    expect_same_answer(text);
    if (reference_parse(text)) ++accepted;
    expect_same_answer(maker.mutate(text));
    if (HasFatalFailure()) return;
  }
  // The corpus must hold both answers in number, or the comparison proves little.
  EXPECT_GT(accepted, 2'000u);
  EXPECT_LT(accepted, 18'000u);
}

// Every real record of shared/data, as read from its line.
std::vector<std::string> real_record_lines() {
  std::ifstream in(std::string(FIELDSYNC_SHARED_DATA_DIR) + "/activities.jsonl");
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

TEST(JsonFastPath, RealRecordsReadAsNlohmannReadsThem) {
  const auto lines = real_record_lines();
  ASSERT_GT(lines.size(), 400u);
  for (const auto& line : lines) expect_same_answer(line);
}

TEST(JsonText, WritesWhatDumpWritesForEveryRealRecord) {
  for (const auto& line : real_record_lines()) {
    const json record = json::parse(line);
    EXPECT_EQ(json_text(record), record.dump());
  }
}

TEST(JsonText, WritesWhatDumpWritesForEveryAcceptedDocument) {
  DocumentMaker maker(7);
  std::size_t compared = 0;
  for (int i = 0; i < 20'000; ++i) {
    const auto value = reference_parse(maker.value(0));
    if (!value) continue;
    ASSERT_EQ(json_text(*value), value->dump());
    ++compared;
  }
  EXPECT_GT(compared, 2'000u);
}

TEST(JsonText, ControlCharactersAndFloatsAreWrittenAsDumpWritesThem) {
  json value = {{"control", std::string("a\x01\x1F\b\f\n\r\t\"\\/\x7F", 13)}, {"float", 0.1}, {"big", 1e300},
                {"negative", -5}, {"unsigned", 18446744073709551615ull}, {"arabic", "\xD8\xB9\xD9\x85\xD9\x84"}};
  EXPECT_EQ(json_text(value), value.dump());
}

TEST(JsonText, TextThatIsNotUtf8IsRefusedAsDumpRefusesIt) {
  const json value = {{"bad", std::string("ok\xC3(")}};
  EXPECT_THROW(json_text(value), json::type_error);
}

}  // namespace
}  // namespace fieldsync
