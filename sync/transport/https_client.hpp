// HttpsClient: the field replica's end of the HTTPS link to HQ (DESIGN "Sync protocol"), a small
// wrapper over one libcurl easy handle.
//
// What it promises:
//   - https only: an http:// address is refused before anything is sent.
//   - HQ is trusted only if its certificate chains to the CA pinned at enrollment (`ca_file`);
//     the system's CA store is never consulted. Host name checked, TLS 1.2 or later, no
//     redirects. A certificate that fails any of this ends the request during the handshake:
//     nothing — not the token, not a record — was sent.
//   - Every request is bounded: `connect_timeout` to connect (TCP and TLS), `request_timeout` for
//     the whole request, and `max_response_bytes` for the answer both as received and after
//     decompression; past it the transfer is cut off.
//   - Request bodies go out zstd-compressed; answers in zstd or gzip are decompressed.
//   - An HTTP status is an answer, not a failure: a 4xx/5xx comes back in HttpsResult (with HQ's
//     JSON error body) for the caller to read. What throws fieldsync::Error is a request that got
//     no usable answer: Errc::network when HQ cannot be reached, the TLS check fails or time runs
//     out; Errc::invalid_input when the answer is too large or cannot be decoded; Errc::storage
//     when the pinned CA file cannot be read. Messages name HQ's address (and the CA file when
//     the certificate is refused) in words a field officer can act on.
//
// One connection is kept alive between requests (pages of one sync). An HttpsClient is not
// thread-safe: use one per thread. Proxies set in the environment (https_proxy, no_proxy) are
// honoured; TLS still runs end to end with HQ and is checked against the pinned CA.
#pragma once

#include <chrono>
#include <cstddef>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace fieldsync {

struct HttpsResult {
  long status = 0;           // HTTP status, 2xx or not
  std::string body;          // decompressed
  std::string content_type;  // as HQ sent it; empty when absent
  // HTTP bytes (headers and the body as compressed) each way; TLS framing not counted.
  std::size_t bytes_sent = 0, bytes_received = 0;
  // The answer's Retry-After in seconds (a 429 or 503 says how long to wait), when it has one.
  std::optional<std::chrono::seconds> retry_after;
  // True when this request opened a new connection (TCP and TLS) rather than reusing one.
  bool new_connection = false;
};

struct HttpsOptions {
  std::string base_url;             // https://host:port, optionally with a path prefix
  std::filesystem::path ca_file;    // the CA pinned at enrollment: the only one trusted
  std::string bearer_token;         // sent as "Authorization: Bearer …"; empty sends none
  std::chrono::milliseconds connect_timeout{0}, request_timeout{0};  // must be > 0
  std::size_t max_response_bytes = 0;  // answer size bound, compressed and decompressed
};

class HttpsClient {
 public:
  // Checks the options: Error invalid_input for an address that is not https or not a URL, or a
  // token that cannot go in a header; Error storage when the CA file is missing; Error internal
  // for a zero timeout or size bound. Connects on the first request, not here.
  explicit HttpsClient(HttpsOptions options);
  ~HttpsClient();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // `path` starts with '/' and is appended to base_url: get("/v1/health").
  HttpsResult get(const std::string& path);

  // Sends `json_body` as application/json, zstd-compressed (Content-Encoding: zstd) unless
  // `compress` is false.
  HttpsResult post_json(const std::string& path, const std::string& json_body, bool compress = true);
  // Sends a JSON body the caller has already compressed: one or more zstd frames whose contents,
  // concatenated, are the JSON (a sync page is compressed while the request before it is in flight).
  HttpsResult post_zstd_json(const std::string& path, const std::string& zstd_body);

 private:
  struct Handle;
  HttpsResult perform(const char* method, const std::string& path, const std::string* body,
                      bool compressed);

  HttpsOptions options_;
  std::unique_ptr<Handle> handle_;
};

}  // namespace fieldsync
