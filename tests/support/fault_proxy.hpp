// FaultProxy: a TCP proxy for tests, between a laptop and HQ on loopback, that plays the field
// link — latency each way, connections cut, stalled or truncated at random byte offsets, the
// link going down and coming back.
//
// It listens on 127.0.0.1 (a free port) and forwards raw bytes to 127.0.0.1:upstream, so TLS runs
// end to end between the laptop and HQ (HQ's certificate names 127.0.0.1: enroll with url()).
//
// What it promises:
//   - Reproducible faults: the Nth connection accepted under a plan (counted from the proxy's
//     start or the last set_plan) draws its fault from (plan.seed, N) alone, never from timing, so
//     a seed replays the same faults on the same sequence of connections.
//     A connection gets at most one fault: cut, stall or truncation with their probabilities
//     (taken in that order; their sum is capped at 1), in one direction (up or down, half the
//     time each), at an offset in [0, max_fault_offset) of the bytes of that direction. A fault
//     whose offset the connection never reaches does nothing and is not counted.
//       cut:      the bytes before the offset are forwarded, then both sides are reset (RST).
//       stall:    the bytes before the offset are forwarded, then nothing more either way; the
//                 connection stays open and silent until the client closes it (or the proxy is
//                 destroyed). Bytes still arriving are read and dropped.
//       truncate: the bytes before the offset are forwarded, then that direction is half-closed
//                 (FIN) and its later bytes dropped; the other direction carries on.
//   - Latency: each chunk is held delay_each_way after it arrives, then forwarded, in order. Reading
//     goes on meanwhile, so delays do not add up: a 350 ms delay makes a ~700 ms round trip.
//   - Its sockets are close-on-exec: a child process the test forks cannot hold a proxied
//     connection open after the proxy closed it.
//   - Everything runs on the proxy's own thread (its own io_context); the methods below may be
//     called from any thread. The destructor closes every connection and joins that thread.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

namespace fieldsync::testing {

struct FaultPlan {
  std::uint64_t seed = 1;                      // every random choice comes from it: reproducible
  double cut_probability = 0;                  // per connection: close both sides at a random byte offset
  double stall_probability = 0;                // per connection: stop forwarding at a random offset (stays open, silent)
  double truncate_probability = 0;             // per connection: forward up to a random offset of one direction, then half-close/FIN
  std::size_t max_fault_offset = 64 * 1024;    // offsets are drawn in [0, max_fault_offset) of the bytes of that direction
  std::chrono::milliseconds delay_each_way{0}; // added latency per direction (bytes held this long before being forwarded)
};

// Counts since the proxy started. A fault is counted when it fires (its offset was reached).
struct FaultStats {
  std::size_t connections = 0;  // accepted, including those closed at once while the link is down
  std::size_t cuts = 0, stalls = 0, truncations = 0;
  std::size_t bytes_up = 0, bytes_down = 0;  // forwarded to HQ, and to the client
  std::size_t refused = 0;       // accepted while the link was down, or HQ not reachable: closed at once
  std::size_t open = 0;          // connections open now (stalled ones included)
  std::size_t stalled_open = 0;  // of those, how many are stalled now
};

class FaultProxy {
 public:
  // Starts listening at once; throws std::runtime_error if it cannot.
  FaultProxy(std::uint16_t upstream_port, FaultPlan plan = {});
  ~FaultProxy();  // closes everything, joins its thread
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  std::uint16_t port() const;
  std::string url() const;                     // "https://127.0.0.1:PORT"
  void set_plan(FaultPlan plan);               // applies to connections accepted afterwards (numbered from 0 again)
  void set_link_down(bool down);               // down: open connections are cut, new ones are accepted and closed at once
                                               // (reset; counted in `refused`, not in `cuts`); returns once they are
  void set_upstream_port(std::uint16_t port);  // HQ restarted elsewhere; for connections accepted afterwards
  FaultStats stats() const;

  struct Impl;  // fault_proxy.cpp; named here so its connections can reach it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace fieldsync::testing
