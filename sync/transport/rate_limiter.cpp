// RateLimiter (sync/transport/internal/rate_limiter.hpp).
#include "sync/transport/internal/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace fieldsync::http_detail {

RateLimiter::RateLimiter(double rate_per_second, std::size_t burst, std::size_t max_keys)
    : rate_(rate_per_second), burst_(static_cast<double>(burst)), max_keys_(std::max<std::size_t>(max_keys, 1)) {}

void RateLimiter::refill(Bucket& b, Clock::time_point now) const {
  if (now <= b.last) return;
  const double elapsed = std::chrono::duration<double>(now - b.last).count();
  b.tokens = std::min(burst_, b.tokens + elapsed * rate_);
  b.last = now;
}

void RateLimiter::make_room(Clock::time_point now) {
  // Full buckets first: forgetting them changes nothing.
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    refill(it->second, now);
    it = it->second.tokens >= burst_ ? buckets_.erase(it) : std::next(it);
  }
  if (buckets_.size() < max_keys_) return;
  // Then the one seen longest ago (a flood of distinct keys: each costs one pass, bounded by
  // max_keys, and refills every bucket it walks).
  auto oldest = std::min_element(buckets_.begin(), buckets_.end(), [](const auto& a, const auto& b) {
    return a.second.last < b.second.last;
  });
  buckets_.erase(oldest);
}

std::optional<long> RateLimiter::take(const std::string& key, Clock::time_point now) {
  std::lock_guard lock(mu_);
  auto it = buckets_.find(key);
  if (it == buckets_.end()) {
    if (buckets_.size() >= max_keys_) make_room(now);
    it = buckets_.emplace(key, Bucket{burst_, now}).first;
  } else {
    refill(it->second, now);
  }
  Bucket& b = it->second;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return std::nullopt;
  }
  if (rate_ <= 0) return 3600;  // never refills: tell the client to come back much later
  const double wait = (1.0 - b.tokens) / rate_;
  return std::max(1L, static_cast<long>(std::ceil(wait)));
}

std::size_t RateLimiter::keys() const {
  std::lock_guard lock(mu_);
  return buckets_.size();
}

}  // namespace fieldsync::http_detail
