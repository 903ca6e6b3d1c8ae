// How the sync commands (sync, watch, status) say amounts and times to a person: bytes as
// "12.3 KB", durations as "5 min", moments as local "2026-05-12 10:31:02" (and ISO-8601 UTC for
// --json). Header-only: a few small functions, shared by three commands.
#pragma once

#include <cstdint>
#include <cstdio>
#include <ctime>
#include <iterator>
#include <string>

namespace fieldsync::cli {

// 812 B, 12.3 KB, 4.5 MB, 1.2 GB (powers of 1000, as a download meter shows them).
inline std::string format_bytes(double bytes) {
  static constexpr const char* kUnits[] = {"B", "KB", "MB", "GB", "TB"};
  std::size_t unit = 0;
  while (bytes >= 1000 && unit + 1 < std::size(kUnits)) {
    bytes /= 1000;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[unit]);
  return text;
}

// 100000 as "100,000".
inline std::string format_count(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

// A span of time in the largest unit that fits: "40 s", "5 min", "3 h", "2 days".
inline std::string format_span(double seconds) {
  if (seconds < 0) seconds = 0;
  const auto whole = [](double value, const char* unit) { return std::to_string(static_cast<long long>(value + 0.5)) + unit; };
  if (seconds < 10) {
    char text[16];
    std::snprintf(text, sizeof text, "%.1f s", seconds);
    return text;
  }
  if (seconds < 90) return whole(seconds, " s");
  if (seconds < 90 * 60) return whole(seconds / 60, " min");
  if (seconds < 36 * 3600) return whole(seconds / 3600, " h");
  return whole(seconds / 86400, " days");
}

// "just now", "5 min ago".
inline std::string format_ago(std::int64_t then_millis, std::int64_t now_millis) {
  const double seconds = static_cast<double>(now_millis - then_millis) / 1000.0;
  if (seconds < 5) return "just now";
  if (seconds < 90) return std::to_string(static_cast<long long>(seconds)) + " s ago";
  return format_span(seconds) + " ago";
}

// Unix milliseconds as this laptop's local time, "2026-05-12 10:31:02".
inline std::string format_local_time(std::int64_t millis) {
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm parts{};
  localtime_r(&seconds, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &parts);
  return text;
}

// Unix milliseconds as ISO-8601 UTC with milliseconds, "2026-05-12T08:31:02.123Z", for --json.
inline std::string format_utc_time(std::int64_t millis) {
  const std::time_t seconds = static_cast<std::time_t>(millis / 1000);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[40];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(millis % 1000));
  return text;
}

}  // namespace fieldsync::cli
