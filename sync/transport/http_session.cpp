// One HTTPS connection of HttpServer, after Boost.Beast's async SSL server example: a Session owns
// its TLS stream, read buffer and request parser, and keeps itself alive through each async step
// with shared_from_this. Every step runs on the connection's strand; the request handler runs on
// the server's handler pool and posts its response back to the strand.
//
// A request goes: header bytes (read here until the blank line, so obs-fold and bare LFs are seen
// raw) → head parsed and its framing checked (request_framing) → authorizer → rate limit → body
// size → body → handler. A refusal at any step before the handler is answered and the connection
// closed, its unread rest discarded (lingering) but never parsed.
//
// Timeouts live on the stream (tcp_stream::expires_*), one per step: handshake and header within
// read_timeout; each body read within read_timeout and the whole body within body_timeout; the
// response within write_timeout; closing within close_timeout. When one fires, the stream closes
// the socket and the pending step fails, which ends the session.
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <algorithm>
#include <cstdio>
#include <optional>

#include <nlohmann/json.hpp>

#include "sync/transport/compression.hpp"
#include "sync/transport/internal/http_session.hpp"

namespace fieldsync::http_detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = boost::asio::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::size_t kDrainChunk = 16 * 1024;

HttpResponse transport_error(int status, const std::string& code, const std::string& message) {
  HttpResponse r;
  r.status = status;
  r.body = error_body(code, message);
  return r;
}

bool is_http_parse_error(const beast::error_code& ec) {
  return ec.category() == http::make_error_code(http::error::bad_target).category() &&
         ec != http::error::end_of_stream && ec != http::error::partial_message;
}

HttpResponse refusal_response(const Refusal& r) { return transport_error(r.status, r.code, r.message); }

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string format_peer(const tcp::endpoint& ep) {
  const auto address = ep.address();
  const std::string a = address.to_string();
  return (address.is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(ep.port());
}

// Headers the server writes itself; a handler's value for them is ignored.
bool is_server_owned(const std::string& name) {
  const std::string n = lower(name);
  return n == "content-length" || n == "content-encoding" || n == "connection" ||
         n == "transfer-encoding";
}

bool has_line_break(const std::string& s) { return s.find_first_of("\r\n") != std::string::npos; }

}  // namespace

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ServerCore& core)
      : core_(core), cfg_(core.config), stream_(std::move(socket), core.ssl) {}
  ~Session() { core_.remove(this); }

  void run() {
    net::dispatch(stream_.get_executor(),
                  beast::bind_front_handler(&Session::on_run, shared_from_this()));
  }

  net::any_io_executor executor() { return stream_.get_executor(); }

  // The server is stopping: an idle connection closes now, a busy one after its response.
  void on_stopping() {
    stopping_ = true;
    const bool idle = state_ == State::handshake || (state_ == State::idle && buffer_.size() == 0);
    if (idle) lowest().close();
  }

  void on_force_close() { lowest().close(); }

 private:
  enum class State { starting, handshake, idle, reading, handling, writing, closing };

  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }

  void on_run() {
    beast::error_code ec;
    const auto ep = lowest().socket().remote_endpoint(ec);
    peer_ = ec ? std::string("?") : format_peer(ep);
    address_ = ec ? std::string("?") : address_key(ep.address());
    if (!core_.add(shared_from_this(), address_)) {
      log_line("connection refused: server stopping or at its connection limit (overall or for " +
               address_ + ")");
      lowest().close();
      return;
    }
    state_ = State::handshake;
    lowest().expires_after(cfg_.read_timeout);
    stream_.async_handshake(ssl::stream_base::server,
                            beast::bind_front_handler(&Session::on_handshake, shared_from_this()));
  }

  void on_handshake(beast::error_code ec) {
    if (ec) {
      log_line("TLS handshake failed: " + ec.message());
      return;
    }
    do_read_header();
  }

  void do_read_header() {
    if (stopping_) return do_close();
    state_ = State::idle;
    parser_.emplace();
    scanned_ = 0;
    method_ = "-";
    target_ = "-";
    // One deadline for the whole header: a client trickling it byte by byte is cut off too.
    lowest().expires_after(cfg_.read_timeout);
    continue_header();
  }

  std::string_view buffered() const {
    return {static_cast<const char*>(buffer_.data().data()), buffer_.size()};
  }

  // Looks for the end of the header in what is buffered (a pipelined request may already be
  // there), else reads more.
  void continue_header() {
    const HeaderScan scan = scan_header_block(buffered(), scanned_, core_.limits);
    if (scan.refusal) return refuse(*scan.refusal);
    if (scan.end != 0) return on_header(scan.end);
    scanned_ = buffer_.size();
    if (buffer_.size() > 0) state_ = State::reading;
    const std::size_t room = std::min<std::size_t>(kDrainChunk, cfg_.max_header_bytes - buffer_.size() + 1);
    stream_.async_read_some(buffer_.prepare(room),
                            beast::bind_front_handler(&Session::on_header_bytes, shared_from_this()));
  }

  void on_header_bytes(beast::error_code ec, std::size_t n) {
    buffer_.commit(n);
    if (ec) {
      // The client went away, or stalled past the timeout (the stream has closed the socket).
      if (ec == beast::error::timeout) log_line("closed: no progress within the timeout");
      return;
    }
    continue_header();
  }

  void on_header(std::size_t header_end) {
    started_ = Clock::now();
    state_ = State::reading;
    body_deadline_ = started_ + cfg_.body_timeout;
    auto refusal = parse_head(buffered().substr(0, header_end), *parser_, core_.limits);
    buffer_.consume(header_end);
    if (refusal) return refuse(*refusal);
    const auto& req = parser_->get();
    method_ = std::string(req.method_string());
    target_ = std::string(req.target());
    head_ = HttpRequestHead{};
    head_.method = method_;
    head_.target = target_;
    head_.peer = peer_;
    for (const auto& field : req) {
      auto [it, fresh] = head_.headers.try_emplace(lower(field.name_string()), std::string(field.value()));
      if (!fresh) it->second += ", " + std::string(field.value());
    }
    if (auto refused = admit()) return refuse(std::move(*refused));
    if (auto too_large = admit_body(*parser_, core_.limits)) return refuse(*too_large);
    head_fields_ = field_count(*parser_);
    // A client that waits for "100 Continue" before sending its body (curl does over 1 MB).
    if (!parser_->is_done() && beast::iequals(req[http::field::expect], "100-continue")) {
      continue_.emplace(http::status::continue_, req.version());
      lowest().expires_after(cfg_.write_timeout);
      http::async_write(stream_, *continue_,
                        beast::bind_front_handler(&Session::on_continue_sent, shared_from_this()));
      return;
    }
    do_read_body();
  }

  // The authorizer's verdict and the rate limit, for the head just read: a response to send
  // (and close) instead of reading the body, or nothing.
  std::optional<HttpResponse> admit() {
    Authorization verdict;
    if (cfg_.authorize) {
      try {
        verdict = cfg_.authorize(head_);
      } catch (const std::exception& e) {
        log_line(std::string("authorizer failed: ") + e.what());
        return transport_error(500, "internal", "internal server error");
      } catch (...) {
        log_line("authorizer failed with a non-standard exception");
        return transport_error(500, "internal", "internal server error");
      }
    }
    // Refused or anonymous requests count against the client's address, so a flood of token
    // guesses is throttled too; authorized ones against their principal.
    const bool anonymous = verdict.refusal.has_value() || verdict.principal.empty();
    const auto wait = anonymous ? core_.address_rate.take(address_)
                                : core_.principal_rate.take(verdict.principal);
    if (wait) {
      HttpResponse r = transport_error(429, "rate_limited",
                                       "too many requests from " +
                                           (anonymous ? "this address" : std::string("this token")) +
                                           ": retry after " + std::to_string(*wait) + " s");
      r.headers["Retry-After"] = std::to_string(*wait);
      return r;
    }
    if (verdict.refusal) {
      HttpResponse r = std::move(*verdict.refusal);
      r.compress = false;
      return r;
    }
    return std::nullopt;
  }

  // Answers before the handler and closes; the rest of the request is discarded, never parsed.
  void refuse(const Refusal& refusal) { refuse(refusal_response(refusal)); }
  void refuse(HttpResponse response) {
    linger_ = true;
    keep_alive_ = false;
    send(build(std::move(response), 11, ""));
  }

  void on_continue_sent(beast::error_code ec, std::size_t) {
    continue_.reset();
    if (ec) return;
    do_read_body();
  }

  void do_read_body() {
    if (parser_->is_done()) {
      if (auto trailers = refuse_trailers(*parser_, head_fields_)) return refuse(*trailers);
      return handle_request();
    }
    lowest().expires_at(std::min(Clock::now() + cfg_.read_timeout, body_deadline_));
    http::async_read_some(stream_, buffer_, *parser_,
                          beast::bind_front_handler(&Session::on_body, shared_from_this()));
  }

  void on_body(beast::error_code ec, std::size_t) {
    if (ec) return on_read_error(ec);
    do_read_body();
  }

  void on_read_error(const beast::error_code& ec) {
    // A bad chunk, a chunked body over the limit: answer, then discard what still comes.
    if (is_http_parse_error(ec)) return refuse(refusal_for(ec, core_.limits));
    // The client went away, or stalled past a timeout (the stream has closed the socket).
    if (ec == beast::error::timeout) log_line("closed: no progress within the timeout");
  }

  void handle_request() {
    state_ = State::handling;
    http::request<http::string_body> req = parser_->release();
    parser_.reset();
    keep_alive_ = req.keep_alive();
    const bool head = req.method() == http::verb::head;
    HttpRequest request;
    request.method = method_;
    request.target = target_;
    request.headers = std::move(head_.headers);
    request.body = std::move(req.body());
    request.peer = peer_;
    net::post(*core_.handler_pool, [self = shared_from_this(), request = std::move(request),
                                    version = req.version(), head]() mutable {
      const std::string accept = request.headers.count("accept-encoding")
                                     ? request.headers["accept-encoding"]
                                     : std::string();
      HttpResponse response = self->answer(std::move(request));
      auto res = self->build(std::move(response), version, accept, head);
      net::post(self->stream_.get_executor(), [self, res = std::move(res)]() mutable {
        self->send(std::move(res));
      });
    });
  }

  // On a handler-pool thread: decode the body, run the handler, never throw. Touches only
  // `request` and the immutable config and handler.
  HttpResponse answer(HttpRequest request) const {
    const auto it = request.headers.find("content-encoding");
    if (it != request.headers.end()) {
      const auto coding = parse_content_encoding(it->second);
      if (!coding) {
        return transport_error(415, "unsupported_encoding",
                               "Content-Encoding '" + it->second +
                                   "' is not supported; send zstd, gzip or no encoding");
      }
      try {
        request.body = decode_body(*coding, request.body, cfg_.max_body_bytes);
      } catch (const DecompressedTooLarge& e) {
        return transport_error(413, "body_too_large", e.what());
      } catch (const Error& e) {
        return transport_error(400, "invalid_input", e.what());
      }
      request.headers.erase(it);
      request.headers["content-length"] = std::to_string(request.body.size());
    }
    try {
      HttpResponse response = core_.handler(request);
      if (response.status < 200 || response.status > 599) {
        throw Error(Errc::internal,
                    "the handler answered with HTTP status " + std::to_string(response.status));
      }
      return response;
    } catch (const Error& e) {
      if (status_for(e.code()) >= 500) log_line("handler failed: " + e.describe());
      return error_response(e);
    } catch (const std::exception& e) {
      log_line(std::string("handler failed: ") + e.what());
    } catch (...) {
      log_line("handler failed with a non-standard exception");
    }
    return transport_error(500, "internal", "internal server error");
  }

  // The wire response: handler headers, compression the client accepts, length. Never throws
  // (a compression failure sends the body plain).
  // For a HEAD request the headers describe the body, which is not sent.
  http::response<http::string_body> build(HttpResponse response, unsigned version,
                                          const std::string& accept_encoding,
                                          bool head = false) const {
    http::response<http::string_body> res;
    res.version(version);
    res.result(static_cast<unsigned>(response.status));
    res.set(http::field::server, "FieldSync");
    // An API's answers are data, never a page to render, frame or cache (OWASP REST headers).
    res.set(http::field::cache_control, "no-store");
    res.set("X-Content-Type-Options", "nosniff");
    res.set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
    res.set(http::field::strict_transport_security, "max-age=31536000");
    for (const auto& [name, value] : response.headers) {
      if (name.empty() || is_server_owned(name) || has_line_break(name) || has_line_break(value)) {
        continue;
      }
      res.set(name, value);
    }
    if (!response.content_type.empty() && !has_line_break(response.content_type)) {
      res.set(http::field::content_type, response.content_type);
    }
    if (response.compress) res.set(http::field::vary, "Accept-Encoding");
    const ContentCoding coding =
        response.compress ? preferred_coding(accept_encoding) : ContentCoding::identity;
    if (!response.body.empty() && coding != ContentCoding::identity) {
      try {
        res.body() = encode_body(coding, response.body);
        res.set(http::field::content_encoding, to_string(coding));
      } catch (const std::exception&) {
        res.body() = std::move(response.body);
      }
    } else {
      res.body() = std::move(response.body);
    }
    res.prepare_payload();
    if (head) {
      const std::size_t length = res.body().size();
      res.body().clear();
      res.content_length(length);
    }
    return res;
  }

  void send(http::response<http::string_body> res) {
    state_ = State::writing;
    res_.emplace(std::move(res));
    res_->keep_alive(keep_alive_ && !stopping_ && !linger_);
    lowest().expires_after(cfg_.write_timeout);
    http::async_write(stream_, *res_,
                      beast::bind_front_handler(&Session::on_write, shared_from_this()));
  }

  void on_write(beast::error_code ec, std::size_t bytes) {
    const bool close = res_->need_eof();
    if (cfg_.verbose) {
      const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_);
      log_line("\"" + method_ + " " + target_ + "\" " + std::to_string(res_->result_int()) + " " +
               std::to_string(bytes) + " bytes " + std::to_string(ms.count()) + " ms" +
               (ec ? " (write failed: " + ec.message() + ")" : std::string()));
    }
    res_.reset();
    keep_alive_ = false;
    if (ec) return;
    if (!close) return do_read_header();
    if (linger_) return do_linger();
    do_close();
  }

  // Sends TLS close_notify and waits (briefly) for the client's.
  void do_close() {
    state_ = State::closing;
    lowest().expires_after(cfg_.close_timeout);
    stream_.async_shutdown([self = shared_from_this()](beast::error_code) {});
  }

  // Reads and drops the rest of a refused body so the client gets to read our 413 before the
  // connection closes (closing with unread data would reset it).
  void do_linger() {
    state_ = State::closing;
    lowest().expires_after(cfg_.close_timeout);
    drain_.reset(new char[kDrainChunk]);
    read_and_drop();
  }

  void read_and_drop() {
    stream_.async_read_some(net::buffer(drain_.get(), kDrainChunk),
                            [self = shared_from_this()](beast::error_code ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > tuning::kHttpLingerBytes) {
                                self->lowest().close();
                                return;
                              }
                              self->read_and_drop();
                            });
  }

  void log_line(const std::string& what) const {
    if (cfg_.verbose) std::fprintf(stderr, "fieldsync-hq: %s %s\n", peer_.c_str(), what.c_str());
  }

  ServerCore& core_;
  const ServerConfig& cfg_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::optional<RequestParser> parser_;
  std::size_t scanned_ = 0;  // header bytes already scanned for the blank line
  HttpRequestHead head_;
  std::size_t head_fields_ = 0;  // fields of the head, to tell trailer fields after the body
  std::optional<http::response<http::empty_body>> continue_;
  std::optional<http::response<http::string_body>> res_;
  std::unique_ptr<char[]> drain_;  // only while lingering
  std::size_t drained_ = 0;

  State state_ = State::starting;
  std::string peer_;
  std::string address_;  // address_key() of the peer: connection cap and anonymous rate limit
  std::string method_ = "-", target_ = "-";
  Clock::time_point started_ = Clock::now();
  Clock::time_point body_deadline_ = Clock::now();
  bool keep_alive_ = false;
  bool stopping_ = false;  // the server is stopping: no more requests on this connection
  bool linger_ = false;    // an unread body is left: drain it while closing
};

void start_session(tcp::socket socket, ServerCore& core) {
  std::make_shared<Session>(std::move(socket), core)->run();
}

void notify_stopping(const std::shared_ptr<Session>& session) {
  net::post(session->executor(), [session] { session->on_stopping(); });
}

void force_close(const std::shared_ptr<Session>& session) {
  net::post(session->executor(), [session] { session->on_force_close(); });
}

}  // namespace fieldsync::http_detail
