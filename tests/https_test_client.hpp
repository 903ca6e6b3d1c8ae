// Test clients for HttpServer: libcurl for well-behaved HTTPS requests, and a raw OpenSSL client
// (or a bare TCP socket) for clients that misbehave — stall, send half a request, send garbage.
// Every wait is bounded. Loopback (127.0.0.1) only.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace fieldsync::test {

inline const bool kCurlReady = (curl_global_init(CURL_GLOBAL_DEFAULT), true);
// A test client writing to a connection the server has cut must see an error, not die.
inline const bool kSigpipeIgnored = (std::signal(SIGPIPE, SIG_IGN), true);

struct CurlReply {
  CURLcode code = CURLE_OK;
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names
  std::string error;                           // curl's error buffer
};

struct CurlRequest {
  std::string url;
  std::string method = "GET";
  std::string body;
  std::vector<std::string> headers;  // "Name: value"
  std::filesystem::path ca_file;
  long ssl_version = CURL_SSLVERSION_DEFAULT;
  std::string cipher_list;
  long timeout_ms = 5000;
  std::string local_address;  // e.g. "127.0.0.2": the loopback address to connect from
};

inline std::size_t curl_append(char* data, std::size_t size, std::size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

inline std::size_t curl_header(char* data, std::size_t size, std::size_t n, void* out) {
  std::string line(data, size * n);
  const auto colon = line.find(':');
  if (colon != std::string::npos) {
    std::string name = line.substr(0, colon);
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ')) value.erase(0, 1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n')) value.pop_back();
    (*static_cast<std::map<std::string, std::string>*>(out))[name] = value;
  }
  return size * n;
}

// Runs `request` on `handle` (a reused handle keeps its connection alive between calls).
inline CurlReply curl_perform(CURL* handle, const CurlRequest& request) {
  CurlReply reply;
  char error[CURL_ERROR_SIZE] = {};
  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  curl_easy_setopt(handle, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(handle, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_1_1);
  curl_easy_setopt(handle, CURLOPT_CAINFO, request.ca_file.c_str());
  curl_easy_setopt(handle, CURLOPT_CAPATH, nullptr);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(handle, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(handle, CURLOPT_SSLVERSION, request.ssl_version);
  if (!request.cipher_list.empty()) {
    curl_easy_setopt(handle, CURLOPT_SSL_CIPHER_LIST, request.cipher_list.c_str());
  }
  curl_easy_setopt(handle, CURLOPT_TIMEOUT_MS, request.timeout_ms);
  curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(handle, CURLOPT_PROXY, "");
  curl_easy_setopt(handle, CURLOPT_NOPROXY, "*");
  const std::string interface = "host!" + request.local_address;
  curl_easy_setopt(handle, CURLOPT_INTERFACE, request.local_address.empty() ? nullptr : interface.c_str());
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(handle, CURLOPT_WRITEFUNCTION, curl_append);
  curl_easy_setopt(handle, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, curl_header);
  curl_easy_setopt(handle, CURLOPT_HEADERDATA, &reply.headers);
  if (request.method == "GET") {
    curl_easy_setopt(handle, CURLOPT_HTTPGET, 1L);
  } else if (request.method == "HEAD") {
    curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  } else {
    curl_easy_setopt(handle, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDS, request.body.data());
    curl_easy_setopt(handle, CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(request.body.size()));
  }
  reply.code = curl_easy_perform(handle);
  curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &reply.status);
  reply.error = error;
  curl_easy_setopt(handle, CURLOPT_HTTPHEADER, nullptr);
  curl_easy_setopt(handle, CURLOPT_ERRORBUFFER, nullptr);
  curl_slist_free_all(headers);
  return reply;
}

inline CurlReply curl_request(const CurlRequest& request) {
  CURL* handle = curl_easy_init();
  CurlReply reply = curl_perform(handle, request);
  curl_easy_cleanup(handle);
  return reply;
}

// A TCP connection to 127.0.0.1:port, from `from` (another loopback address) when given; -1 on
// failure.
inline int connect_loopback(unsigned short port, const char* from = nullptr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (from != nullptr) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, from, &local.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ::close(fd);
      return -1;
    }
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  timeval tv{0, 200 * 1000};  // reads never block longer than this; loops count the real time
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// Waits up to `limit` for the peer to close `fd` (EOF or reset); returns how long that took,
// or `limit` when it stayed open. Drops any bytes that arrive meanwhile.
inline std::chrono::milliseconds wait_for_tcp_close(int fd, std::chrono::milliseconds limit) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + limit;
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      return std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
    }
  }
  return limit;
}

// A TLS 1.2+ client that verifies the server against `ca_file`, over a raw socket, so a test can
// send exactly the bytes it wants and stop whenever it likes.
class RawTlsClient {
 public:
  RawTlsClient(unsigned short port, const std::filesystem::path& ca_file) {
    fd_ = connect_loopback(port);
    ctx_ = SSL_CTX_new(TLS_client_method());
    SSL_CTX_load_verify_locations(ctx_, ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    ssl_ = SSL_new(ctx_);
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl_), "127.0.0.1");
    if (fd_ >= 0) {
      SSL_set_fd(ssl_, fd_);
      // The handshake's reads may hit the 200 ms socket timeout; retry them for a few seconds.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      while (true) {
        const int rc = SSL_connect(ssl_);
        if (rc == 1) {
          connected_ = true;
          break;
        }
        if (SSL_get_error(ssl_, rc) != SSL_ERROR_WANT_READ ||
            std::chrono::steady_clock::now() > deadline) {
          break;
        }
      }
    }
  }
  ~RawTlsClient() {
    SSL_free(ssl_);
    SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  RawTlsClient(const RawTlsClient&) = delete;
  RawTlsClient& operator=(const RawTlsClient&) = delete;

  bool connected() const { return connected_; }

  bool write(const std::string& bytes) {
    return SSL_write(ssl_, bytes.data(), static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }

  // Reads until at least one byte arrives, the connection closes, or `limit` passes.
  std::string read_some(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) return std::string(buf, static_cast<std::size_t>(n));
      const int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ) continue;
      if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      break;
    }
    return {};
  }

  // Reads until the server closes the connection or `limit` passes. `closed` says which.
  std::string read_until_close(std::chrono::milliseconds limit, bool& closed,
                               std::chrono::milliseconds* took = nullptr) {
    const auto start = std::chrono::steady_clock::now();
    const auto deadline = start + limit;
    std::string out;
    closed = false;
    char buf[4096];
    while (std::chrono::steady_clock::now() < deadline) {
      const int n = SSL_read(ssl_, buf, sizeof buf);
      if (n > 0) {
        out.append(buf, static_cast<std::size_t>(n));
        continue;
      }
      const int err = SSL_get_error(ssl_, n);
      if (err == SSL_ERROR_WANT_READ) continue;  // the 200 ms socket timeout
      if (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
      closed = true;  // close_notify, EOF, or reset
      break;
    }
    if (took) {
      *took = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::chrono::steady_clock::now() - start);
    }
    return out;
  }

 private:
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
  bool connected_ = false;
};

}  // namespace fieldsync::test
