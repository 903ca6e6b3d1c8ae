// Text as FieldSync carries it: strict UTF-8, NFC, trimmed (see text.hpp).
//
// normalize() runs for every text value of every imported record, so the common cases cost one
// pass over the bytes and one copy: ASCII text needs no ICU at all, and text that ICU's quick
// check finds already in NFC is copied as it is. UTF-8 validation is our own (Unicode 15,
// Table 3-7) rather than ICU's, because ICU substitutes U+FFFD where we must refuse and report
// the offending byte.
#include "core/text.hpp"

#include <cstdint>
#include <cstring>
#include <memory>

#include <unicode/brkiter.h>
#include <unicode/bytestream.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>
#include <unicode/utext.h>
#include <unicode/utf8.h>

#include "core/error.hpp"

namespace fieldsync::text {
namespace {

constexpr std::string_view kEllipsis = "\u2026";
constexpr std::string_view kFirstStrongIsolate = "\u2068";
constexpr std::string_view kPopDirectionalIsolate = "\u2069";

struct Scan {
  std::size_t invalid_at = std::string_view::npos;  // first ill-formed byte, npos when none
  bool ascii = true;                                // no byte >= 0x80
};

bool is_continuation(unsigned char b) { return (b & 0xC0) == 0x80; }

// One pass: validity and whether the text is pure ASCII (the fast path of everything else).
Scan scan(std::string_view s) noexcept {
  Scan result;
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  while (i < n) {
    // Most field text is ASCII or has long ASCII runs: skip them eight bytes at a time.
    while (i + 8 <= n) {
      std::uint64_t word;
      std::memcpy(&word, p + i, sizeof word);
      if (word & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= n) break;
    const unsigned char b = p[i];
    if (b < 0x80) {
      ++i;
      continue;
    }
    result.ascii = false;
    // Two-byte sequences (Latin accents, Arabic, Hebrew) are most of the non-ASCII text we see.
    if (b >= 0xC2 && b <= 0xDF && i + 1 < n && is_continuation(p[i + 1])) {
      i += 2;
      continue;
    }
    // Lead byte -> sequence length and the allowed range of the second byte (Table 3-7); the
    // narrowed ranges are what exclude overlongs (E0, F0), surrogates (ED) and > U+10FFFF (F4).
    std::size_t len = 0;
    unsigned char lo = 0x80, hi = 0xBF;
    if (b >= 0xC2 && b <= 0xDF) {
      len = 2;
    } else if (b >= 0xE0 && b <= 0xEF) {
      len = 3;
      if (b == 0xE0) lo = 0xA0;
      if (b == 0xED) hi = 0x9F;
    } else if (b >= 0xF0 && b <= 0xF4) {
      len = 4;
      if (b == 0xF0) lo = 0x90;
      if (b == 0xF4) hi = 0x8F;
    } else {
      result.invalid_at = i;  // C0, C1, F5..FF, or a continuation byte without a lead
      return result;
    }
    if (i + len > n || p[i + 1] < lo || p[i + 1] > hi) {
      result.invalid_at = i;
      return result;
    }
    for (std::size_t k = 2; k < len; ++k) {
      if (!is_continuation(p[i + k])) {
        result.invalid_at = i;
        return result;
      }
    }
    i += len;
  }
  return result;
}

[[noreturn]] void throw_invalid(std::size_t offset) {
  throw Error(Errc::invalid_input, "text is not valid UTF-8 (byte " + std::to_string(offset) + ")");
}

const icu::Normalizer2& nfc_normalizer() {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* normalizer = icu::Normalizer2::getNFCInstance(status);
  if (U_FAILURE(status) || normalizer == nullptr) {
    throw Error(Errc::internal, std::string("ICU NFC data unavailable: ") + u_errorName(status));
  }
  return *normalizer;
}

// NFC of text already known to be valid UTF-8.
std::string nfc_valid(std::string_view s, bool ascii) {
  if (ascii) return std::string(s);  // ASCII is always NFC
  const icu::Normalizer2& normalizer = nfc_normalizer();
  UErrorCode status = U_ZERO_ERROR;
  const icu::StringPiece piece(s.data(), static_cast<int32_t>(s.size()));
  if (normalizer.isNormalizedUTF8(piece, status) && U_SUCCESS(status)) return std::string(s);
  std::string out;
  out.reserve(s.size());
  icu::StringByteSink<std::string> sink(&out);
  status = U_ZERO_ERROR;
  normalizer.normalizeUTF8(0, piece, sink, nullptr, status);
  if (U_FAILURE(status)) {
    throw Error(Errc::internal, std::string("ICU NFC failed: ") + u_errorName(status));
  }
  return out;
}

// Leading / trailing White_Space code points. Ill-formed bytes count as text (not space), so
// trimming never swallows or splits them.
std::string_view ltrim_view(std::string_view s) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto n = static_cast<int32_t>(s.size());
  int32_t begin = 0;
  while (begin < n) {
    int32_t next = begin;
    UChar32 c;
    U8_NEXT(p, next, n, c);
    if (c < 0 || !u_isUWhiteSpace(c)) break;
    begin = next;
  }
  return s.substr(static_cast<std::size_t>(begin));
}

std::string_view rtrim_view(std::string_view s) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  int32_t end = static_cast<int32_t>(s.size());
  while (end > 0) {
    int32_t prev = end;
    UChar32 c;
    U8_PREV(p, 0, prev, c);
    if (c < 0 || !u_isUWhiteSpace(c)) break;
    end = prev;
  }
  return s.substr(0, static_cast<std::size_t>(end));
}

std::string_view trim_view(std::string_view s) { return rtrim_view(ltrim_view(s)); }

// Creating a character BreakIterator loads rules and costs far more than using one: keep one
// per thread (BreakIterator is not thread-safe).
icu::BreakIterator& grapheme_iterator() {
  thread_local std::unique_ptr<icu::BreakIterator> iterator = [] {
    UErrorCode status = U_ZERO_ERROR;
    std::unique_ptr<icu::BreakIterator> it(
        icu::BreakIterator::createCharacterInstance(icu::Locale::getRoot(), status));
    if (U_FAILURE(status) || !it) {
      throw Error(Errc::internal, std::string("ICU break iterator unavailable: ") + u_errorName(status));
    }
    return it;
  }();
  return *iterator;
}

// Calls `on_boundary(byte_offset)` for every grapheme boundary after the start, in order, until
// it returns false. Works on the UTF-8 bytes directly (UText), so offsets are byte offsets.
template <typename F>
void for_each_grapheme_end(std::string_view s, F&& on_boundary) {
  UErrorCode status = U_ZERO_ERROR;
  UText* ut = utext_openUTF8(nullptr, s.data(), static_cast<int64_t>(s.size()), &status);
  if (U_FAILURE(status)) {
    throw Error(Errc::internal, std::string("ICU UText failed: ") + u_errorName(status));
  }
  // Close the UText on every way out, including an exception from the callback.
  std::unique_ptr<UText, decltype(&utext_close)> guard(ut, &utext_close);
  icu::BreakIterator& it = grapheme_iterator();
  it.setText(ut, status);
  if (U_FAILURE(status)) {
    throw Error(Errc::internal, std::string("ICU break iterator failed: ") + u_errorName(status));
  }
  for (int32_t pos = it.next(); pos != icu::BreakIterator::DONE; pos = it.next()) {
    if (!on_boundary(static_cast<std::size_t>(pos))) break;
  }
  // Do not leave the thread's iterator pointing at a UText about to be closed.
  static const char kEmpty[] = "";
  UText empty = UTEXT_INITIALIZER;
  status = U_ZERO_ERROR;
  utext_openUTF8(&empty, kEmpty, 0, &status);
  it.setText(&empty, status);
  utext_close(&empty);
}

}  // namespace

bool is_valid_utf8(std::string_view s) noexcept {
  return scan(s).invalid_at == std::string_view::npos;
}

std::size_t first_invalid_utf8(std::string_view s) noexcept { return scan(s).invalid_at; }

std::string nfc(std::string_view s) {
  const Scan sc = scan(s);
  if (sc.invalid_at != std::string_view::npos) throw_invalid(sc.invalid_at);
  return nfc_valid(s, sc.ascii);
}

std::string trim(std::string_view s) { return std::string(trim_view(s)); }

std::string normalize(std::string_view s) {
  const Scan sc = scan(s);
  if (sc.invalid_at != std::string_view::npos) throw_invalid(sc.invalid_at);
  const std::string_view trimmed = trim_view(s);
  if (sc.ascii) return std::string(trimmed);
  std::string out = nfc_valid(trimmed, false);
  // NFC never turns text into white space in practice, but the canonical form must be a fixed
  // point of normalize(): trim once more if composition changed anything at the edges.
  const std::string_view again = trim_view(out);
  if (again.size() != out.size()) return std::string(again);
  return out;
}

bool has_rtl(std::string_view s) {
  const auto* p = reinterpret_cast<const std::uint8_t*>(s.data());
  const auto n = static_cast<int32_t>(s.size());
  int32_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {  // ASCII is never right-to-left
      ++i;
      continue;
    }
    UChar32 c;
    U8_NEXT(p, i, n, c);
    if (c < 0) continue;  // skip ill-formed bytes
    const UCharDirection dir = u_charDirection(c);
    if (dir == U_RIGHT_TO_LEFT || dir == U_RIGHT_TO_LEFT_ARABIC) return true;
  }
  return false;
}

std::string isolate(std::string_view s) {
  if (!has_rtl(s)) return std::string(s);
  std::string out;
  out.reserve(s.size() + kFirstStrongIsolate.size() + kPopDirectionalIsolate.size());
  out.append(kFirstStrongIsolate).append(s).append(kPopDirectionalIsolate);
  return out;
}

std::string truncate(std::string_view s, std::size_t max_chars) {
  // Every grapheme takes at least one byte: text this short cannot be too long.
  if (s.size() <= max_chars) return std::string(s);
  if (max_chars == 0) return {};
  // Keep max_chars - 1 graphemes and spend the last one on the ellipsis.
  const std::size_t keep = max_chars - 1;
  std::size_t count = 0;
  std::size_t cut = 0;  // end of the kept graphemes
  bool too_long = false;
  for_each_grapheme_end(s, [&](std::size_t end) {
    ++count;
    if (count <= keep) cut = end;
    too_long = count > max_chars;
    return !too_long;
  });
  if (!too_long) return std::string(s);
  // Do not leave a space dangling before the ellipsis.
  std::string out(rtrim_view(s.substr(0, cut)));
  out.append(kEllipsis);
  return out;
}

std::size_t length(std::string_view s) {
  if (s.empty()) return 0;
  std::size_t count = 0;
  for_each_grapheme_end(s, [&](std::size_t) {
    ++count;
    return true;
  });
  return count;
}

std::string fold_for_search(std::string_view s) {
  const Scan sc = scan(s);
  if (sc.invalid_at != std::string_view::npos) throw_invalid(sc.invalid_at);
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(
      icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  u.foldCase(U_FOLD_CASE_DEFAULT);
  std::string folded;
  u.toUTF8String(folded);
  // Folding can undo composition (e.g. a precomposed capital folds to base + mark in a few
  // cases), so NFC comes last.
  return nfc_valid(folded, false);
}

}  // namespace fieldsync::text
