// Text as FieldSync carries it: UTF-8, Unicode NFC, trimmed, byte-exact after that.
//
// Arabic and French text is data. Everything that enters a record goes through normalize(), so
// the same words typed on two laptops are the same bytes on every replica.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace fieldsync::text {

// True when `s` is well-formed UTF-8 (no overlongs, no surrogates, nothing above U+10FFFF).
bool is_valid_utf8(std::string_view s) noexcept;

// Byte offset of the first ill-formed sequence, or std::string_view::npos when valid.
std::size_t first_invalid_utf8(std::string_view s) noexcept;

// Unicode NFC. Throws Error(invalid_input) on invalid UTF-8.
std::string nfc(std::string_view s);

// Removes leading and trailing Unicode white space (including U+00A0, U+200F-style marks are kept).
std::string trim(std::string_view s);

// trim + NFC: the canonical form of every text value stored in a record.
std::string normalize(std::string_view s);

// True when `s` holds a strong right-to-left character (Arabic, Hebrew, …).
bool has_rtl(std::string_view s);

// Wraps `s` in FIRST STRONG ISOLATE (U+2068) … POP DIRECTIONAL ISOLATE (U+2069) when it holds
// right-to-left text, so that it shows correctly inside a left-to-right line.
std::string isolate(std::string_view s);

// At most `max_chars` user-perceived characters (grapheme clusters) of `s`; when cut, ends with
// "…". Never splits a UTF-8 sequence or a base letter from its combining marks.
std::string truncate(std::string_view s, std::size_t max_chars);

// Number of grapheme clusters in `s`.
std::size_t length(std::string_view s);

// Lower-cases for search (Unicode case folding) and applies NFC.
std::string fold_for_search(std::string_view s);

}  // namespace fieldsync::text
