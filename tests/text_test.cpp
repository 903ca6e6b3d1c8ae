// core/text: strict UTF-8, NFC, trimming, graphemes, bidi isolation, search folding.
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "core/text.hpp"

namespace text = fieldsync::text;
using fieldsync::Errc;
using fieldsync::Error;

namespace {

constexpr auto npos = std::string_view::npos;

std::string_view bytes(const char* s, std::size_t n) { return {s, n}; }

}  // namespace

TEST(TextNfc, ComposesDecomposedFrench) {
  EXPECT_EQ(text::nfc("e\u0301"), "\u00E9");
  EXPECT_EQ(text::nfc("Cafe\u0301 de l'ame\u0301nagement"), "Caf\u00E9 de l'am\u00E9nagement");
  EXPECT_EQ(text::nfc("plain ascii"), "plain ascii");
}

TEST(TextNfc, ArabicWithHarakatStaysByteExact) {
  // Already canonical: each letter followed by one haraka.
  const std::string arabic = "\u0639\u064F\u0642\u0650\u062F\u064E \u0627\u062C\u062A\u0650\u0645\u064E\u0627\u0639\u064C";
  EXPECT_EQ(text::nfc(arabic), arabic);
  EXPECT_EQ(text::normalize(arabic), arabic);
}

TEST(TextNfc, ArabicComposesHamzaAndOrdersMarks) {
  // ALEF + HAMZA ABOVE composes to ALEF WITH HAMZA ABOVE.
  EXPECT_EQ(text::nfc("\u0627\u0654"), "\u0623");
  // SHADDA (ccc 33) typed before FATHA (ccc 30): NFC puts them in canonical order, so two
  // keyboards that type them in different orders store the same bytes.
  EXPECT_EQ(text::nfc("\u0645\u0651\u064E"), "\u0645\u064E\u0651");
  EXPECT_EQ(text::nfc("\u0645\u064E\u0651"), "\u0645\u064E\u0651");
}

TEST(TextUtf8, AcceptsWellFormed) {
  EXPECT_TRUE(text::is_valid_utf8(""));
  EXPECT_TRUE(text::is_valid_utf8("ascii only, longer than eight bytes"));
  EXPECT_TRUE(text::is_valid_utf8("\u00E9\u0639\u20AC\U0001F600"));
  EXPECT_TRUE(text::is_valid_utf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
  EXPECT_TRUE(text::is_valid_utf8(bytes("a\0b", 3)));    // NUL is a character
  EXPECT_EQ(text::first_invalid_utf8("\u0645\u0624\u062A\u0645\u0631"), npos);
}

TEST(TextUtf8, FindsTheFirstIllFormedByte) {
  EXPECT_EQ(text::first_invalid_utf8("\x80"), 0u);                  // lone continuation
  EXPECT_EQ(text::first_invalid_utf8("ab\x80" "cd"), 2u);
  EXPECT_EQ(text::first_invalid_utf8("0123456789abcdef\xBF"), 16u); // after the 8-byte fast path
  EXPECT_EQ(text::first_invalid_utf8("\xC0\xAF"), 0u);              // overlong '/'
  EXPECT_EQ(text::first_invalid_utf8("x\xC1\xBF"), 1u);             // overlong
  EXPECT_EQ(text::first_invalid_utf8("xy\xE0\x80\xAF"), 2u);        // overlong 3-byte
  EXPECT_EQ(text::first_invalid_utf8("\xF0\x80\x80\xAF"), 0u);      // overlong 4-byte
  EXPECT_EQ(text::first_invalid_utf8("ok \xED\xA0\x80"), 3u);       // surrogate U+D800
  EXPECT_EQ(text::first_invalid_utf8("\xED\xBF\xBF"), 0u);          // surrogate U+DFFF
  EXPECT_EQ(text::first_invalid_utf8("abc\xE2\x82"), 3u);           // truncated euro sign
  EXPECT_EQ(text::first_invalid_utf8("\xE2\x82" "abc"), 0u);        // truncated, then text
  EXPECT_EQ(text::first_invalid_utf8("\xD9"), 0u);                  // truncated Arabic letter
  EXPECT_EQ(text::first_invalid_utf8("\xF4\x90\x80\x80"), 0u);      // above U+10FFFF
  EXPECT_EQ(text::first_invalid_utf8("\u00E9\xF5\x80\x80\x80"), 2u);
  EXPECT_EQ(text::first_invalid_utf8("\xFF"), 0u);
  EXPECT_FALSE(text::is_valid_utf8("\xC3"));
}

TEST(TextUtf8, NfcAndNormalizeRefuseInvalidText) {
  try {
    text::nfc("ab\x80");
    FAIL() << "nfc accepted invalid UTF-8";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_input);
    EXPECT_STREQ(e.what(), "text is not valid UTF-8 (byte 2)");
  }
  EXPECT_THROW(text::normalize("  \xED\xA0\x80"), Error);
  EXPECT_THROW(text::fold_for_search("\xC0\xAF"), Error);
}

TEST(TextTrim, RemovesUnicodeSpaces) {
  EXPECT_EQ(text::trim("\u00A0\u3000 Niamey\t\n\u2003\u00A0"), "Niamey");
  EXPECT_EQ(text::trim("  inner  space  "), "inner  space");
  EXPECT_EQ(text::trim("\u3000"), "");
  EXPECT_EQ(text::trim(""), "");
  // A right-to-left mark is not white space: it carries meaning and is kept.
  EXPECT_EQ(text::trim("\u200F\u0645 "), "\u200F\u0645");
}

TEST(TextNormalize, TrimsThenComposes) {
  EXPECT_EQ(text::normalize("\u00A0 Cafe\u0301 \u3000"), "Caf\u00E9");
  EXPECT_EQ(text::normalize("  plain  "), "plain");
  const std::string once = text::normalize("\u2003Re\u0301union\u00A0");
  EXPECT_EQ(once, "R\u00E9union");
  EXPECT_EQ(text::normalize(once), once);
}

TEST(TextGraphemes, LengthCountsUserPerceivedCharacters) {
  EXPECT_EQ(text::length(""), 0u);
  EXPECT_EQ(text::length("e\u0301"), 1u);
  EXPECT_EQ(text::length("\r\n"), 1u);
  // Five letters, each carrying a haraka.
  EXPECT_EQ(text::length("\u0645\u064F\u0624\u0652\u062A\u064E\u0645\u064E\u0631\u064C"), 5u);
}

TEST(TextGraphemes, TruncateNeverSplitsALetterFromItsMarks) {
  const std::string word = "\u0645\u064F\u0624\u0652\u062A\u064E\u0645\u064E\u0631\u064C";
  EXPECT_EQ(text::truncate(word, 3), "\u0645\u064F\u0624\u0652\u2026");
  EXPECT_EQ(text::truncate(word, 5), word);
  EXPECT_EQ(text::truncate(word, 80), word);
  for (std::size_t n = 1; n < 5; ++n) {
    const std::string cut = text::truncate(word, n);
    EXPECT_TRUE(text::is_valid_utf8(cut));
    EXPECT_EQ(text::length(cut), n) << n;
    // What is kept is a prefix of whole letters with their marks.
    const std::string kept = cut.substr(0, cut.size() - std::string("\u2026").size());
    EXPECT_EQ(word.compare(0, kept.size(), kept), 0);
    EXPECT_EQ(text::length(kept), n - 1);
  }
  EXPECT_EQ(text::truncate(word, 0), "");
}

TEST(TextGraphemes, TruncateLatin) {
  EXPECT_EQ(text::truncate("short", 80), "short");
  EXPECT_EQ(text::truncate("abcdef", 4), "abc\u2026");
  EXPECT_EQ(text::truncate("ab cdef", 4), "ab\u2026");  // no space before the ellipsis
  // truncate keeps the text's own bytes (it does not normalize): e + U+0301 stay together.
  EXPECT_EQ(text::truncate("Re\u0301union", 3), "Re\u0301\u2026");
}

TEST(TextBidi, IsolatesRightToLeftTextOnly) {
  const std::string arabic = "\u0648\u0631\u0634\u0629 \u0639\u0645\u0644";
  EXPECT_TRUE(text::has_rtl(arabic));
  EXPECT_TRUE(text::has_rtl("\u05E9\u05DC\u05D5\u05DD"));  // Hebrew
  EXPECT_TRUE(text::has_rtl("Niamey \u0645"));
  EXPECT_FALSE(text::has_rtl("Atelier r\u00E9gional 2018"));
  EXPECT_FALSE(text::has_rtl("\u0661\u0662"));  // Arabic-Indic digits are weak, not strong R/AL
  EXPECT_EQ(text::isolate(arabic), "\u2068" + arabic + "\u2069");
  EXPECT_EQ(text::isolate("Atelier r\u00E9gional"), "Atelier r\u00E9gional");
  EXPECT_EQ(text::isolate(""), "");
}

TEST(TextSearch, FoldsCaseAndComposes) {
  EXPECT_EQ(text::fold_for_search("\u00C9COLE"), "\u00E9cole");
  EXPECT_EQ(text::fold_for_search("E\u0301COLE"), "\u00E9cole");
  EXPECT_EQ(text::fold_for_search("Stra\u00DFe"), "strasse");
  EXPECT_EQ(text::fold_for_search("UNICEF"), "unicef");
  const std::string arabic = "\u0645\u0624\u062A\u0645\u0631";
  EXPECT_EQ(text::fold_for_search(arabic), arabic);
}
