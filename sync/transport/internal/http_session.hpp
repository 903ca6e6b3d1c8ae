// Internal to HttpServer: what the listener and every connection (Session) share, and how a
// connection is started. Nothing outside sync/transport/http_server.cpp and sync/http_session.cpp uses it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "sync/transport/http_server.hpp"
#include "sync/transport/internal/rate_limiter.hpp"
#include "sync/transport/internal/request_framing.hpp"

namespace fieldsync::http_detail {

class Session;

// The part of a server every connection uses. Outlives every Session: HttpServer destroys its
// io_context and handler pool (which may still own sessions) before this.
class ServerCore {
 public:
  ServerCore(ServerConfig config, RequestHandler handler);

  const ServerConfig config;
  const RequestHandler handler;
  boost::asio::ssl::context ssl{boost::asio::ssl::context::tls_server};
  boost::asio::thread_pool* handler_pool = nullptr;  // set by HttpServer before start
  const FramingLimits limits;
  RateLimiter principal_rate;  // per Authorization::principal
  RateLimiter address_rate;    // per client address, for requests without a principal

  // Registers a new connection from `address` (address_key()); false when the server is stopping,
  // has max_connections open, or max_connections_per_address from that address.
  bool add(const std::shared_ptr<Session>& session, const std::string& address);
  void remove(Session* session) noexcept;
  // Marks the server stopping (add() refuses from now on) and returns the open connections.
  std::vector<std::shared_ptr<Session>> begin_stop();
  std::vector<std::shared_ptr<Session>> open_sessions();
  // Waits until no connection is open, for at most `limit`; true when none is.
  bool wait_until_empty(std::chrono::milliseconds limit);

 private:
  std::mutex mu_;
  std::condition_variable empty_;
  bool stopping_ = false;
  struct Entry {
    std::weak_ptr<Session> session;
    std::string address;
  };
  std::unordered_map<Session*, Entry> sessions_;
  std::unordered_map<std::string, std::size_t> per_address_;
};

// The key a client address is counted under: an IPv4 address as is (also when IPv4-mapped), an
// IPv6 address by its /64 (one host or site commonly holds a whole /64).
std::string address_key(const boost::asio::ip::address& address);

// Starts serving an accepted connection (TLS handshake, then requests until it closes).
void start_session(boost::asio::ip::tcp::socket socket, ServerCore& core);

// Posted by stop(): close the connection if it is idle, else close it after the current response.
void notify_stopping(const std::shared_ptr<Session>& session);
// Posted when the stop grace period is over: close the connection now.
void force_close(const std::shared_ptr<Session>& session);

}  // namespace fieldsync::http_detail
