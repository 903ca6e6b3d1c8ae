// Record ids: UUIDv7 for records made here (time-ordered, so new rows append to the B-tree),
// any well-formed UUID for records imported with an id of their own.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace fieldsync::uuid {

// A new UUIDv7 for the given Unix time in milliseconds, lower-case hex.
std::string v7(std::uint64_t unix_millis);

// The lower-case canonical form of `text` when it is a UUID (8-4-4-4-12 hex digits), else nullopt.
std::optional<std::string> canonical(std::string_view text);

// `bytes` random bytes as lower-case hex (replica ids, tokens).
std::string random_hex(std::size_t bytes);

}  // namespace fieldsync::uuid
