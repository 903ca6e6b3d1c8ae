// HttpServer: the listener, the threads, start and a clean stop. One connection is a Session
// (http_session.cpp).
#include "sync/transport/internal/openssl_error.hpp"
#include "sync/transport/http_server.hpp"

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

#include "sync/transport/internal/http_session.hpp"

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

HttpResponse json_error(int status, const std::string& code, const std::string& message, nlohmann::json extra) {
  nlohmann::json body = nlohmann::json::parse(error_body(code, message));
  for (auto& [key, value] : extra.items()) body[key] = value;
  return HttpResponse{status, "application/json", body.dump(), {}};
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
    : config(std::move(c)),
      handler(std::move(h)),
      limits(FramingLimits::of(config)),
      principal_rate(config.rate_per_second, config.rate_burst, config.rate_limiter_keys),
      address_rate(config.anonymous_rate_per_second, config.anonymous_burst, config.rate_limiter_keys) {}

bool ServerCore::add(const std::shared_ptr<Session>& session, const std::string& address) {
  std::lock_guard lock(mu_);
  if (stopping_ || sessions_.size() >= config.max_connections) return false;
  std::size_t& from_address = per_address_[address];
  if (from_address >= config.max_connections_per_address) return false;
  ++from_address;
  sessions_.emplace(session.get(), Entry{session, address});
  return true;
}

void ServerCore::remove(Session* session) noexcept {
  std::lock_guard lock(mu_);
  const auto it = sessions_.find(session);
  if (it == sessions_.end()) return;
  const auto count = per_address_.find(it->second.address);
  if (count != per_address_.end() && --count->second == 0) per_address_.erase(count);
  sessions_.erase(it);
  if (sessions_.empty()) empty_.notify_all();
}

std::string address_key(const net::ip::address& address) {
  if (address.is_v4()) return address.to_string();
  const auto v6 = address.to_v6();
  if (v6.is_v4_mapped()) return net::ip::make_address_v4(net::ip::v4_mapped, v6).to_string();
  auto bytes = v6.to_bytes();
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  return net::ip::address_v6(bytes).to_string() + "/64";
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
  for (auto& [raw, entry] : sessions_) {
    if (auto s = entry.session.lock()) out.push_back(std::move(s));
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
      // Answers go out at once: with Nagle's algorithm a response's last segment waits for the
      // client's delayed ACK, about 40 ms on every request.
      beast::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);
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

// TLS 1.2 (ECDHE and AEAD suites only, in our order) and 1.3, HQ's certificate chain and its key.
// CBC suites (LUCKY13 and kin) and RSA key exchange (no forward secrecy) are not offered; TLS 1.3
// suites are OpenSSL's defaults, all AEAD. No renegotiation (client-initiated renegotiation is a
// CPU lever for an attacker), no TLS compression (CRIME).
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
constexpr const char* kTlsGroups = "X25519:P-256:P-384";

void configure_tls(ssl::context& ctx, const ServerConfig& config) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use | SSL_OP_NO_RENEGOTIATION |
                  SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
  SSL_CTX* native = ctx.native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_2_VERSION) != 1) {
    throw Error(Errc::internal, "cannot require TLS 1.2: " + openssl_error());
  }
  if (SSL_CTX_set_cipher_list(native, kTls12Ciphers) != 1) {
    throw Error(Errc::internal, "cannot set the TLS 1.2 ciphers: " + openssl_error());
  }
  if (SSL_CTX_set1_groups_list(native, kTlsGroups) != 1) {
    throw Error(Errc::internal, "cannot set the TLS key exchange groups: " + openssl_error());
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
  require(config.max_connections > 0 && config.max_connections_per_address > 0 &&
              config.max_body_bytes > 0 && config.max_header_bytes > 0 &&
              config.max_header_fields > 0 && config.max_target_bytes > 0 && config.rate_burst > 0 &&
              config.anonymous_burst > 0 && config.rate_limiter_keys > 0,
          "a zero limit");
  require(config.rate_per_second > 0 && config.anonymous_rate_per_second > 0, "a zero rate");
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
