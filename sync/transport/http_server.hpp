// HttpServer: HQ's HTTPS endpoint — TLS, HTTP/1.1, limits, timeouts and body compression — with
// no knowledge of the sync protocol. What a request means is the RequestHandler's business.
//
// Promises:
// - TLS with the certificate chain and key from ServerConfig's files (versions and ciphers below).
// - Many clients at once (network I/O on `threads`, handlers on `handler_threads`), keep-alive.
// - No client can hold a connection without progress: the handshake, every request header and
//   every read of a body must advance within `read_timeout`; a whole body must arrive within
//   `body_timeout`; a response must be written within `write_timeout`.
// - The handler sees only complete, well-formed requests whose body fits `max_body_bytes` after
//   decompression (Content-Encoding zstd or gzip). Otherwise the client gets, without the
//   handler being called: 400 (malformed HTTP or a corrupt compressed body), 413 (too large,
//   sent or decompressed), 414 (target too long), 415 (an unknown Content-Encoding), 431 (headers
//   over the limit). "Expect: 100-continue" is honoured, so a client learns of a 413 before
//   sending the body.
// - A request whose length is not certain (see sync/transport/internal/request_framing.hpp: unknown
//   Transfer-Encoding, Transfer-Encoding with Content-Length, obs-fold, …) is answered 400 and the
//   connection closed: what follows is never read as another request (no request smuggling).
//   Every refusal before the handler closes the connection, the body unread.
// - Exhaustion: at most `max_connections` open, and `max_connections_per_address` from one client
//   address (IPv6: one /64). The `authorize` callback sees each request's head as soon as it
//   arrives, before any body is read; its refusal (401) goes out at once. Requests are rate
//   limited with a token bucket per principal (`rate_per_second`, `rate_burst`) and, for requests
//   without one (no authorizer, no principal, or refused), per client address
//   (`anonymous_rate_per_second`, `anonymous_burst`): 429 with Retry-After.
// - The response body is compressed only when the handler says so (HttpResponse::compress; BREACH:
//   a compressed answer that reflects the request leaks secrets through its length): zstd when
//   the request's Accept-Encoding allows zstd, else gzip when it allows gzip, else as is.
// - TLS 1.3 preferred; TLS 1.2 only with ECDHE key exchange and AEAD ciphers (AES-GCM,
//   ChaCha20-Poly1305), in the server's order; no renegotiation, no TLS compression.
// - A handler that throws never takes the server down: fieldsync::Error becomes a 4xx/5xx by its
//   code (status_for()), anything else a 500. Every error body has the shape
//   {"error": {"code": "...", "message": "...", ...}} (error_body()).
//
// Thread-safety: the handler is called concurrently from several threads and must be thread-safe;
// it may block (it runs on the handler pool, never on a network thread). start() and
// run_until_signal() are for the owning thread; stop() may be called from any thread except a
// handler; port() is safe once started.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/tuning.hpp"

namespace fieldsync {

struct HttpRequest {
  std::string method;                         // "GET", "POST", …
  std::string target;                         // "/v1/sync?x=1", as sent
  std::map<std::string, std::string> headers; // names in lower case; repeated headers joined ", "
  std::string body;                           // already decompressed
  std::string peer;                           // "127.0.0.1:51234"
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;                           // uncompressed; the server compresses it if it may
  // Extra headers. Content-Length, Content-Encoding and Connection are the server's own.
  std::map<std::string, std::string> headers;
  // Compress the body if the client accepts it. Only for bodies that reflect nothing secret
  // together with anything the client chose (BREACH); the handler decides per route.
  bool compress = false;
};

using RequestHandler = std::function<HttpResponse(const HttpRequest&)>;

// A request as soon as its header has arrived, before its body is read.
struct HttpRequestHead {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // as in HttpRequest
  std::string peer;
};

// An authorizer's verdict on a request head.
struct Authorization {
  // Sent at once (e.g. 401), then the connection is closed with the body unread.
  std::optional<HttpResponse> refusal;
  // Whom the request is rate limited as (e.g. "office:NER"); empty: its client address.
  std::string principal;
};

// Called on a network thread for every request head: must be quick and must not block (a file
// stat or a hash is fine) and thread-safe. An exception becomes a 500 and a closed connection.
using Authorizer = std::function<Authorization(const HttpRequestHead&)>;

struct ServerConfig {
  std::string host = "127.0.0.1";  // an address to bind, IPv4 or IPv6 ("0.0.0.0", "::")
  unsigned short port = 0;         // 0: any free port (see HttpServer::port())
  std::filesystem::path cert_file; // PEM: the server certificate (then any intermediates)
  std::filesystem::path key_file;  // PEM: its private key
  std::size_t threads = tuning::kHttpIoThreads;  // network I/O and TLS
  std::size_t handler_threads = tuning::kHttpHandlerThreads;
  std::size_t max_connections = tuning::kHttpMaxConnections;
  std::size_t max_connections_per_address = tuning::kHttpMaxConnectionsPerAddress;
  std::size_t max_header_fields = tuning::kHttpMaxHeaderFields;
  std::size_t max_target_bytes = tuning::kHttpMaxTargetBytes;
  double rate_per_second = tuning::kHttpRatePerSecond;      // per principal
  std::size_t rate_burst = tuning::kHttpRateBurst;
  double anonymous_rate_per_second = tuning::kHttpAnonymousRatePerSecond;  // per address
  std::size_t anonymous_burst = tuning::kHttpAnonymousBurst;
  std::size_t rate_limiter_keys = tuning::kHttpRateLimiterKeys;
  Authorizer authorize;  // empty: every request is anonymous
  std::size_t max_body_bytes = tuning::kHttpMaxBodyBytes;
  std::uint32_t max_header_bytes = tuning::kHttpMaxHeaderBytes;
  std::chrono::milliseconds read_timeout{std::chrono::seconds(tuning::kHttpReadTimeoutSeconds)};
  std::chrono::milliseconds body_timeout{std::chrono::seconds(tuning::kHttpBodyTimeoutSeconds)};
  std::chrono::milliseconds write_timeout{std::chrono::seconds(tuning::kHttpWriteTimeoutSeconds)};
  std::chrono::milliseconds stop_grace{std::chrono::seconds(tuning::kHttpStopGraceSeconds)};
  std::chrono::milliseconds close_timeout{std::chrono::seconds(tuning::kHttpCloseTimeoutSeconds)};
  bool verbose = false;  // one line per request on stderr
};

class HttpServer {
 public:
  // Throws Error(invalid_input) for an empty handler or a config with zero threads or limits.
  HttpServer(ServerConfig config, RequestHandler handler);
  ~HttpServer();  // stop()s if running
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Loads the certificate and key, binds, listens and starts the threads; returns at once.
  // Throws Error: invalid_input for unreadable or mismatched certificate/key files, storage when
  // the address cannot be bound. A server starts at most once.
  void start();

  // The bound port (the real one when the config asked for 0). Valid after start().
  unsigned short port() const;

  // Stops accepting, closes idle connections at once, lets requests in flight finish (for at most
  // `stop_grace`, then closes them), and joins every thread. Idempotent; any thread but the
  // server's own (never from inside a handler). A handler still running after the grace period
  // is waited for: handlers must return.
  void stop();

  // Blocks until SIGINT or SIGTERM (or until stop() is called from another thread), then stop()s.
  // Starts the server first if it is not running.
  void run_until_signal();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The HTTP status for an Error's code: invalid_input and validation 400, not_found 404,
// already_exists 409, the rest 500.
int status_for(Errc code) noexcept;

// {"error": {"code": code, "message": message}} as JSON text.
std::string error_body(const std::string& code, const std::string& message);

// A response of `status` with error_body(code, message) and the members of `extra` beside them.
HttpResponse json_error(int status, const std::string& code, const std::string& message,
                        nlohmann::json extra = nlohmann::json::object());

// A JSON error response for `e`: its code, message, and where/issues when it has them; for a 5xx
// the message is generic (internal details stay in the server's log).
HttpResponse error_response(const Error& e);

}  // namespace fieldsync
