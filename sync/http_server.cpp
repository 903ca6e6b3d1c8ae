// HttpServer: the listener, the threads, start and a clean stop. One connection is a Session
// (http_session.cpp).
#include "sync/internal/openssl_error.hpp"
#include "sync/http_server.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "sync/internal/http_session.hpp"

namespace fieldsync {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;

// --- error bodies ---

int status_for(Errc code) noexcept {
  switch (code) {
    case Errc::invalid_input:
    case Errc::validation: return 400;
    case Errc::not_found: return 404;
    case Errc::already_exists: return 409;
    case Errc::network: return 502;  // HQ itself failed to reach something it needs
    case Errc::not_initialized:
    case Errc::storage:
    case Errc::plugin:
    case Errc::internal: return 500;
  }
  return 500;
}

std::string error_body(const std::string& code, const std::string& message) {
  return nlohmann::json{{"error", {{"code", code}, {"message", message}}}}.dump();
}

HttpResponse error_response(const Error& e) {
  HttpResponse r;
  r.status = status_for(e.code());
  nlohmann::json error{{"code", to_string(e.code())}};
  if (r.status >= 500) {
    error["message"] = "internal server error";
  } else {
    error["message"] = e.what();
    if (!e.where().empty()) error["where"] = e.where();
    if (!e.issues().empty()) {
      auto& issues = error["issues"] = nlohmann::json::array();
      for (const auto& i : e.issues()) {
        issues.push_back({{"field", i.field}, {"rule", i.rule}, {"message", i.message}});
      }
    }
  }
  // Replace, not throw, on invalid UTF-8 in a message: an error answer must always go out.
  r.body = nlohmann::json{{"error", error}}.dump(-1, ' ', false,
                                                 nlohmann::json::error_handler_t::replace);
  return r;
}

// --- connections shared state ---

namespace http_detail {

ServerCore::ServerCore(ServerConfig c, RequestHandler h)
    : config(std::move(c)), handler(std::move(h)) {}

bool ServerCore::add(const std::shared_ptr<Session>& session) {
  std::lock_guard lock(mu_);
  if (stopping_ || sessions_.size() >= config.max_connections) return false;
  sessions_.emplace(session.get(), session);
  return true;
}

void ServerCore::remove(Session* session) noexcept {
  std::lock_guard lock(mu_);
  if (sessions_.erase(session) != 0 && sessions_.empty()) empty_.notify_all();
}

std::vector<std::shared_ptr<Session>> ServerCore::begin_stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  return open_sessions();
}

std::vector<std::shared_ptr<Session>> ServerCore::open_sessions() {
  std::lock_guard lock(mu_);
  std::vector<std::shared_ptr<Session>> out;
  for (auto& [raw, weak] : sessions_) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

bool ServerCore::wait_until_empty(std::chrono::milliseconds limit) {
  std::unique_lock lock(mu_);
  return empty_.wait_for(lock, limit, [this] { return sessions_.empty(); });
}

// Accepts connections and hands each to a new Session on a strand of its own.
class Listener : public std::enable_shared_from_this<Listener> {
 public:
  Listener(net::io_context& ioc, ServerCore& core, const tcp::endpoint& endpoint)
      : ioc_(ioc), core_(core), acceptor_(net::make_strand(ioc)) {
    beast::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(net::socket_base::max_listen_connections, ec);
    if (ec) {
      throw Error(Errc::storage, "cannot listen on " + endpoint.address().to_string() + " port " +
                                     std::to_string(endpoint.port()) + ": " + ec.message());
    }
    port_ = acceptor_.local_endpoint().port();
  }

  unsigned short port() const { return port_; }

  void run() { do_accept(); }

  // Closes the acceptor on its strand (while the io threads run).
  void close() {
    net::post(acceptor_.get_executor(), [self = shared_from_this()] { self->close_now(); });
  }

  // Closes the acceptor from any thread once no io thread runs.
  void close_now() {
    beast::error_code ec;
    acceptor_.close(ec);
  }

 private:
  void do_accept() {
    acceptor_.async_accept(net::make_strand(ioc_),
                           beast::bind_front_handler(&Listener::on_accept, shared_from_this()));
  }

  void on_accept(beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;  // closed by stop()
    if (!ec) {
      start_session(std::move(socket), core_);
    } else if (core_.config.verbose) {
      std::fprintf(stderr, "fieldsync-hq: accept failed: %s\n", ec.message().c_str());
    }
    do_accept();
  }

  net::io_context& ioc_;
  ServerCore& core_;
  tcp::acceptor acceptor_;
  unsigned short port_ = 0;
};

}  // namespace http_detail

// --- the server ---

namespace {

void require(bool ok, const char* what) {
  if (!ok) throw Error(Errc::invalid_input, std::string("server configuration: ") + what);
}

using internal::openssl_error;

// TLS 1.2 and newer, HQ's certificate chain and its key.
void configure_tls(ssl::context& ctx, const ServerConfig& config) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use | SSL_OP_NO_RENEGOTIATION);
  SSL_CTX* native = ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    throw Error(Errc::internal, "cannot require TLS 1.2: " + openssl_error());
  }
  if (SSL_CTX_use_certificate_chain_file(native, config.cert_file.c_str()) != 1) {
    throw Error(Errc::invalid_input, "cannot load the server certificate: " + openssl_error(),
                config.cert_file.string());
  }
  if (SSL_CTX_use_PrivateKey_file(native, config.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    throw Error(Errc::invalid_input, "cannot load the server key: " + openssl_error(),
                config.key_file.string());
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    throw Error(Errc::invalid_input,
                "the server key does not match the certificate " + config.cert_file.string(),
                config.key_file.string());
  }
}

}  // namespace

struct HttpServer::Impl {
  // Declaration order is destruction order reversed: the io_context and the handler pool may
  // still own sessions when they are destroyed, and sessions unregister from `core`.
  http_detail::ServerCore core;
  net::io_context ioc;
  net::thread_pool handler_pool;
  std::shared_ptr<http_detail::Listener> listener;
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work;
  std::vector<std::thread> threads;

  std::mutex state_mu;  // guards started/stopped/signal_ioc; held through stop()
  bool started = false;
  bool stopped = false;
  net::io_context* signal_ioc = nullptr;  // run_until_signal's, to wake it from stop()
  std::mutex signal_mu;
  std::atomic<unsigned short> port{0};

  Impl(ServerConfig config, RequestHandler handler)
      : core(std::move(config), std::move(handler)),
        ioc(static_cast<int>(core.config.threads)),
        handler_pool(core.config.handler_threads) {
    core.handler_pool = &handler_pool;
  }
};

HttpServer::HttpServer(ServerConfig config, RequestHandler handler) {
  require(static_cast<bool>(handler), "no request handler");
  require(config.threads > 0 && config.handler_threads > 0, "zero threads");
  require(config.max_connections > 0 && config.max_body_bytes > 0 && config.max_header_bytes > 0,
          "a zero limit");
  require(config.read_timeout.count() > 0 && config.body_timeout.count() > 0 &&
              config.write_timeout.count() > 0 && config.close_timeout.count() > 0,
          "a zero timeout");
  impl_ = std::make_unique<Impl>(std::move(config), std::move(handler));
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  Impl& m = *impl_;
  std::lock_guard lock(m.state_mu);
  if (m.started) throw Error(Errc::internal, "HttpServer::start called twice");
  configure_tls(m.core.ssl, m.core.config);

  beast::error_code ec;
  const auto address = net::ip::make_address(m.core.config.host, ec);
  if (ec) throw Error(Errc::invalid_input, "not an IP address to listen on: " + m.core.config.host);
  m.listener = std::make_shared<http_detail::Listener>(m.ioc, m.core,
                                                       tcp::endpoint(address, m.core.config.port));
  m.port = m.listener->port();
  m.listener->run();
  m.work.emplace(m.ioc.get_executor());
  for (std::size_t i = 0; i < m.core.config.threads; ++i) {
    m.threads.emplace_back([&ioc = m.ioc] { ioc.run(); });
  }
  m.started = true;
}

unsigned short HttpServer::port() const { return impl_->port.load(); }

void HttpServer::stop() {
  Impl& m = *impl_;
  std::lock_guard lock(m.state_mu);
  {
    std::lock_guard signal_lock(m.signal_mu);
    if (m.signal_ioc != nullptr) m.signal_ioc->stop();
  }
  if (!m.started || m.stopped) return;
  m.stopped = true;

  // No new connections; idle ones close now, busy ones after their response.
  m.listener->close();
  for (const auto& session : m.core.begin_stop()) http_detail::notify_stopping(session);
  if (!m.core.wait_until_empty(m.core.config.stop_grace)) {
    for (const auto& session : m.core.open_sessions()) http_detail::force_close(session);
    m.core.wait_until_empty(m.core.config.close_timeout);
  }

  m.work.reset();
  m.ioc.stop();
  for (auto& t : m.threads) t.join();
  m.threads.clear();
  m.listener->close_now();  // the posted close may not have run before ioc.stop()
  m.handler_pool.join();  // a handler still running is waited for: handlers must return
}

void HttpServer::run_until_signal() {
  Impl& m = *impl_;
  {
    std::lock_guard lock(m.state_mu);
    if (m.stopped) return;
  }
  if (!m.started) start();
  net::io_context signal_ioc(1);
  net::signal_set signals(signal_ioc, SIGINT, SIGTERM);
  signals.async_wait([&](const beast::error_code& ec, int signal_number) {
    if (!ec && m.core.config.verbose) {
      std::fprintf(stderr, "fieldsync-hq: signal %d, stopping\n", signal_number);
    }
  });
  {
    std::lock_guard lock(m.signal_mu);
    m.signal_ioc = &signal_ioc;
  }
  {
    // stop() may have run between the check above and here: then do not wait at all.
    std::lock_guard lock(m.state_mu);
    if (m.stopped) signal_ioc.stop();
  }
  signal_ioc.run();
  {
    std::lock_guard lock(m.signal_mu);
    m.signal_ioc = nullptr;
  }
  stop();
}

}  // namespace fieldsync
