// RateLimiter: a token bucket per key (an office's token, a client address), for HttpServer's
// 429 answers. Each key may spend `burst` requests at once and gets `rate_per_second` back over
// time. Memory is bounded: at most `max_keys` buckets; when full, buckets that have refilled
// completely (indistinguishable from a new key) are forgotten first, then the least recently used.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace fieldsync::http_detail {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimiter(double rate_per_second, std::size_t burst, std::size_t max_keys);

  // Takes one request from `key`'s bucket. Nothing when allowed; else the whole seconds (at
  // least 1) after which a request will be allowed again, for Retry-After.
  std::optional<long> take(const std::string& key, Clock::time_point now = Clock::now());

  std::size_t keys() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point last;
  };
  void refill(Bucket& b, Clock::time_point now) const;
  void make_room(Clock::time_point now);

  const double rate_;
  const double burst_;
  const std::size_t max_keys_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace fieldsync::http_detail
