#include "core/uuid.hpp"

#include <openssl/rand.h>

#include <array>
#include <cctype>

#include "core/error.hpp"

namespace fieldsync::uuid {
namespace {

constexpr char kHex[] = "0123456789abcdef";

void random_bytes(unsigned char* out, std::size_t count) {
  if (RAND_bytes(out, static_cast<int>(count)) != 1) {
    throw Error(Errc::internal, "the system's random number generator failed");
  }
}

std::string to_hex(const unsigned char* bytes, std::size_t count) {
  std::string out;
  out.reserve(count * 2);
  for (std::size_t i = 0; i < count; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 0xf];
  }
  return out;
}

}  // namespace

std::string v7(std::uint64_t unix_millis) {
  std::array<unsigned char, 16> b{};
  random_bytes(b.data() + 6, 10);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(unix_millis >> (8 * (5 - i)));
  b[6] = static_cast<unsigned char>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f));  // RFC 4122 variant
  const std::string hex = to_hex(b.data(), b.size());
  return hex.substr(0, 8) + '-' + hex.substr(8, 4) + '-' + hex.substr(12, 4) + '-' + hex.substr(16, 4) +
         '-' + hex.substr(20);
}

std::optional<std::string> canonical(std::string_view text) {
  if (text.size() != 36) return std::nullopt;
  std::string out(text);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const bool dash_position = i == 8 || i == 13 || i == 18 || i == 23;
    const unsigned char c = static_cast<unsigned char>(out[i]);
    if (dash_position) {
      if (c != '-') return std::nullopt;
    } else if (!std::isxdigit(c)) {
      return std::nullopt;
    } else {
      out[i] = static_cast<char>(std::tolower(c));
    }
  }
  return out;
}

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  random_bytes(reinterpret_cast<unsigned char*>(raw.data()), bytes);
  return to_hex(reinterpret_cast<const unsigned char*>(raw.data()), bytes);
}

}  // namespace fieldsync::uuid
