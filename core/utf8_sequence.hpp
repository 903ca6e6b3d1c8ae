// One UTF-8 sequence checked in place, for the hot loops that read and write JSON text (the
// parser's fast path, json_text) where a call into ICU per character costs too much.
#pragma once

#include <cstddef>

namespace fieldsync {

// The length of the well-formed UTF-8 sequence of two to four bytes at `p` (before `end`), as
// nlohmann's lexer and serializer accept them (RFC 3629: no overlong form, no surrogate,
// nothing past U+10FFFF); 0 when there is none.
inline std::size_t utf8_sequence(const unsigned char* p, const unsigned char* end) {
  const unsigned char c = *p;
  // Two bytes (Latin, Greek, Cyrillic, Arabic, Hebrew…), the common case, first.
  if (c >= 0xC2 && c <= 0xDF) return end - p >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
  unsigned char low = 0x80, high = 0xBF;
  std::size_t continuation = 0;
  if (c >= 0xE0 && c <= 0xEF) {
    continuation = 2;
    if (c == 0xE0) low = 0xA0;
    if (c == 0xED) high = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    continuation = 3;
    if (c == 0xF0) low = 0x90;
    if (c == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (static_cast<std::size_t>(end - p) <= continuation) return 0;
  if (p[1] < low || p[1] > high) return 0;
  for (std::size_t i = 2; i <= continuation; ++i) {
    if (p[i] < 0x80 || p[i] > 0xBF) return 0;
  }
  return continuation + 1;
}

}  // namespace fieldsync
