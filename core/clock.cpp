#include "core/clock.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace fieldsync {

Clock::Clock(Hlc last, WallClock wall) : last_(last), wall_(std::move(wall)) {}

std::int64_t Clock::system_millis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::uint64_t Clock::physical_millis() const {
  const std::int64_t ms = wall_() + offset_;
  // 48 bits of milliseconds last until the year 10889; a negative reading means a broken clock.
  if (ms <= 0) return 0;
  return static_cast<std::uint64_t>(ms) & ((std::uint64_t{1} << 48) - 1);
}

Hlc Clock::now() {
  const std::uint64_t physical = physical_millis();
  if (physical > hlc_millis(last_)) {
    last_ = make_hlc(physical, 0);
  } else {
    // Wall clock behind or equal: stay on the logical time and count. When the counter is full,
    // borrow the next millisecond, which keeps values strictly increasing.
    last_ = last_ + 1;
  }
  return last_;
}

void Clock::observe(Hlc seen) {
  if (seen > last_) last_ = seen;
}

std::string format_hlc_time(Hlc h) {
  const std::uint64_t ms = hlc_millis(h);
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char buffer[80];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d.%03uZ", utc.tm_year + 1900,
                utc.tm_mon + 1, utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec,
                static_cast<unsigned>(ms % 1000));
  return buffer;
}

std::string format_utc_seconds(std::int64_t unix_seconds) {
  const std::time_t seconds = static_cast<std::time_t>(unix_seconds);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
  return text;
}

}  // namespace fieldsync
