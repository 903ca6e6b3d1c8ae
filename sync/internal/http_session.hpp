// Internal to HttpServer: what the listener and every connection (Session) share, and how a
// connection is started. Nothing outside sync/http_server.cpp and sync/http_session.cpp uses it.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "sync/http_server.hpp"

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

  // Registers a new connection; false when the server is stopping or has max_connections open.
  bool add(const std::shared_ptr<Session>& session);
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
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
};

// Starts serving an accepted connection (TLS handshake, then requests until it closes).
void start_session(boost::asio::ip::tcp::socket socket, ServerCore& core);

// Posted by stop(): close the connection if it is idle, else close it after the current response.
void notify_stopping(const std::shared_ptr<Session>& session);
// Posted when the stop grace period is over: close the connection now.
void force_close(const std::shared_ptr<Session>& session);

}  // namespace fieldsync::http_detail
