// Hybrid logical clock values and field versions.
//
// An Hlc packs 48 bits of milliseconds since the Unix epoch and a 16-bit counter into one
// integer, so versions compare with `<` and store as one SQLite INTEGER. A FieldVersion adds the
// replica that wrote the value: (hlc, replica) is unique and totally ordered on every replica,
// which is what makes last-writer-wins deterministic.
#pragma once

#include <compare>
#include <cstdint>
#include <string>

namespace fieldsync {

using Hlc = std::uint64_t;

constexpr Hlc make_hlc(std::uint64_t millis, std::uint16_t counter) { return (millis << 16) | counter; }
constexpr std::uint64_t hlc_millis(Hlc h) { return h >> 16; }
constexpr std::uint16_t hlc_counter(Hlc h) { return static_cast<std::uint16_t>(h & 0xffff); }

// "2026-11-23T19:21:05.123Z" (the counter is left out: it is for ordering, not for people).
std::string format_hlc_time(Hlc h);

struct FieldVersion {
  Hlc hlc = 0;
  std::string replica;  // the replica id that wrote the value

  auto operator<=>(const FieldVersion&) const = default;
  bool empty() const { return hlc == 0 && replica.empty(); }
};

}  // namespace fieldsync
