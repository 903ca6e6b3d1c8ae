// HttpsClient against a real TLS server: a minimal OpenSSL server in this file (one thread, one
// connection at a time, canned HTTP/1.1 answers) with certificates from create_tls_identity().
// Covers the pinned CA (and a server signed by another CA), connection refused, a silent server,
// compressed bodies both ways, the response size bound and the https-only rule.
// Loopback (127.0.0.1) only; every wait is bounded.
#include "sync/transport/https_client.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/error.hpp"
#include "sync/transport/compression.hpp"
#include "sync/transport/tls_identity.hpp"
#include "test_support.hpp"

namespace fieldsync {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// The server writing to a client that gave up must see an error, not die.
const bool kSigpipeIgnored = (std::signal(SIGPIPE, SIG_IGN), true);

// A TCP socket bound to 127.0.0.1 on a free port; listening if asked.
int loopback_socket(unsigned short& port, bool listening) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      (listening && ::listen(fd, 8) != 0) || ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("cannot open a loopback socket");
  }
  port = ntohs(addr.sin_port);
  return fd;
}

struct SeenRequest {
  std::string head;  // request line and headers, up to and with the blank line
  std::string body;  // as sent (compressed or not)
  bool has(const std::string& header_line) const { return head.find(header_line + "\r\n") != std::string::npos; }
};

// Takes one whole request (head and Content-Length body) off the front of `buffer`.
std::optional<SeenRequest> take_request(std::string& buffer) {
  const auto end = buffer.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  SeenRequest request{buffer.substr(0, end + 4), {}};
  std::size_t length = 0;
  if (const auto at = request.head.find("Content-Length: "); at != std::string::npos) {
    length = std::stoul(request.head.substr(at + 16));
  }
  if (buffer.size() < end + 4 + length) return std::nullopt;
  request.body = buffer.substr(end + 4, length);
  buffer.erase(0, end + 4 + length);
  return request;
}

// A TLS server on 127.0.0.1 with HQ's server certificate from `identity`. `answer` turns each
// request into the raw bytes of a response, or nullopt to never answer it.
class TlsTestServer {
 public:
  using Answer = std::function<std::optional<std::string>(const SeenRequest&)>;

  TlsTestServer(const TlsIdentityPaths& identity, Answer answer) : answer_(std::move(answer)) {
    ctx_ = SSL_CTX_new(TLS_server_method());
    if (ctx_ == nullptr || SSL_CTX_use_certificate_chain_file(ctx_, identity.server_cert.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(ctx_, identity.server_key.c_str(), SSL_FILETYPE_PEM) != 1) {
      SSL_CTX_free(ctx_);
      throw std::runtime_error("cannot load the server certificate");
    }
    listen_fd_ = loopback_socket(port_, /*listening=*/true);
    thread_ = std::thread([this] { run(); });
  }
  ~TlsTestServer() {
    stop_ = true;
    thread_.join();
    ::close(listen_fd_);
    SSL_CTX_free(ctx_);
  }
  TlsTestServer(const TlsTestServer&) = delete;
  TlsTestServer& operator=(const TlsTestServer&) = delete;

  std::string url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  int connections() const { return connections_; }
  std::vector<SeenRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  void run() {
    while (!stop_) {
      pollfd p{listen_fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++connections_;
      serve(fd);
      ::close(fd);
    }
  }

  bool new_connection_waiting() const {
    pollfd p{listen_fd_, POLLIN, 0};
    return ::poll(&p, 1, 0) > 0;
  }

  static bool retry(SSL* ssl, int rc) {
    const int err = SSL_get_error(ssl, rc);
    return err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ||
           (err == SSL_ERROR_SYSCALL && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR));
  }

  // One connection: the handshake, then requests until the client leaves (keep-alive), another
  // client knocks, or the server stops. Reads wake every 50 ms to check.
  void serve(int fd) {
    const timeval tick{0, 50 * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tick, sizeof tick);
    SSL* ssl = SSL_new(ctx_);
    SSL_set_fd(ssl, fd);
    const auto deadline = Clock::now() + 5s;
    bool ready = false;
    while (!stop_ && Clock::now() < deadline) {
      const int rc = SSL_accept(ssl);
      if (rc == 1) {
        ready = true;
        break;
      }
      if (!retry(ssl, rc)) break;  // e.g. the client refused our certificate
    }
    std::string buffer;
    while (ready && !stop_) {
      if (auto request = take_request(buffer)) {
        {
          std::lock_guard lock(mutex_);
          requests_.push_back(*request);
        }
        if (const auto reply = answer_(*request)) ready = write_all(ssl, *reply);
        continue;
      }
      if (new_connection_waiting()) break;
      char chunk[16 * 1024];
      const int n = SSL_read(ssl, chunk, sizeof chunk);
      if (n > 0) {
        buffer.append(chunk, static_cast<std::size_t>(n));
      } else if (!retry(ssl, n)) {
        break;  // the client closed the connection
      }
    }
    SSL_free(ssl);
  }

  bool write_all(SSL* ssl, const std::string& bytes) {
    std::size_t done = 0;
    const auto deadline = Clock::now() + 5s;
    while (done < bytes.size() && !stop_ && Clock::now() < deadline) {
      const int n = SSL_write(ssl, bytes.data() + done, static_cast<int>(bytes.size() - done));
      if (n > 0) {
        done += static_cast<std::size_t>(n);
      } else if (!retry(ssl, n)) {
        return false;
      }
    }
    return done == bytes.size();
  }

  Answer answer_;
  SSL_CTX* ctx_ = nullptr;
  int listen_fd_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> connections_{0};
  mutable std::mutex mutex_;
  std::vector<SeenRequest> requests_;
  std::thread thread_;
};

std::string response(int status, const std::string& body, const std::string& extra_headers = "") {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body;
}

std::string chunked_response(const std::string& body) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx", body.size());
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
         std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n";
}

std::string json_sample(std::size_t n) {
  std::string s = "[";
  for (int i = 0; s.size() < n; ++i) s += R"({"id":")" + std::to_string(i) + R"(","title":"Atelier à Niamey"},)";
  s.back() = ']';
  return s;
}

// The Error `call` throws; a test failure if it throws none.
template <typename Call>
Error error_from(Call&& call) {
  try {
    call();
  } catch (const Error& e) {
    return e;
  }
  ADD_FAILURE() << "no fieldsync::Error was thrown";
  return Error(Errc::internal, "<none>");
}

class HttpsClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Talk to 127.0.0.1 directly, whatever proxy the machine running the tests has set.
    for (const char* name : {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) ::unsetenv(name);
    identity_ = create_tls_identity(dir_.path() / "hq");
  }

  HttpsOptions options(const std::string& url, std::size_t max_response_bytes = 1024 * 1024) const {
    return HttpsOptions{url, identity_.ca_cert, "office-token-123", 2000ms, 5000ms, max_response_bytes};
  }

  TempDir dir_;
  TlsIdentityPaths identity_;
};

TEST_F(HttpsClientTest, GetOverPinnedTlsReturnsTheBodyAndKeepsTheConnection) {
  const std::string body = R"({"status":"ok"})";
  TlsTestServer server(identity_, [&](const SeenRequest&) { return response(200, body); });
  HttpsClient client(options(server.url()));

  const HttpsResult first = client.get("/v1/health");
  EXPECT_EQ(first.status, 200);
  EXPECT_EQ(first.body, body);
  EXPECT_EQ(first.content_type, "application/json");
  const HttpsResult second = client.get("/v1/plugins");
  EXPECT_EQ(second.body, body);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].head.substr(0, 25), "GET /v1/health HTTP/1.1\r\n");
  EXPECT_TRUE(requests[0].has("Authorization: Bearer office-token-123")) << requests[0].head;
  EXPECT_TRUE(requests[0].has("Accept-Encoding: zstd, gzip")) << requests[0].head;
  EXPECT_EQ(requests[1].head.substr(0, 26), "GET /v1/plugins HTTP/1.1\r\n");
  EXPECT_EQ(server.connections(), 1) << "the second request should reuse the first connection";
  // What crossed the wire, exactly: the request's head (a GET has no body) and the whole answer.
  EXPECT_EQ(first.bytes_sent, requests[0].head.size());
  EXPECT_EQ(first.bytes_received, response(200, body).size());
}

TEST_F(HttpsClientTest, PostSendsAZstdBodyAndCountsCompressedBytes) {
  const std::string json = json_sample(100 * 1024);
  std::string decoded;
  TlsTestServer server(identity_, [&](const SeenRequest& request) {
    decoded = request.has("Content-Encoding: zstd") ? zstd_decompress(request.body, 1 << 20) : request.body;
    return response(200, R"({"ack":true})");
  });
  HttpsClient client(options(server.url()));

  const HttpsResult compressed = client.post_json("/v1/sync", json);
  EXPECT_EQ(compressed.status, 200);
  EXPECT_EQ(compressed.body, R"({"ack":true})");
  EXPECT_EQ(decoded, json);
  const HttpsResult plain = client.post_json("/v1/sync", json, /*compress=*/false);
  EXPECT_EQ(decoded, json);

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].head.substr(0, 24), "POST /v1/sync HTTP/1.1\r\n");
  EXPECT_TRUE(requests[0].has("Content-Type: application/json"));
  EXPECT_TRUE(requests[0].has("Content-Encoding: zstd"));
  EXPECT_FALSE(requests[1].has("Content-Encoding: zstd"));
  EXPECT_EQ(compressed.bytes_sent, requests[0].head.size() + requests[0].body.size());
  EXPECT_EQ(plain.bytes_sent, requests[1].head.size() + json.size());
  EXPECT_LT(compressed.bytes_sent * 4, plain.bytes_sent) << "JSON compresses well";
}

TEST_F(HttpsClientTest, AnErrorStatusIsAnAnswerNotAnException) {
  const std::string body = R"({"error":{"code":"forbidden","message":"office NIA may not write record 0190"}})";
  TlsTestServer server(identity_, [&](const SeenRequest&) { return response(403, body); });
  HttpsClient client(options(server.url()));
  const HttpsResult result = client.post_json("/v1/sync", "{}");
  EXPECT_EQ(result.status, 403);
  EXPECT_EQ(result.body, body);
}

TEST_F(HttpsClientTest, RedirectsAreNotFollowed) {
  TlsTestServer server(identity_, [&](const SeenRequest&) {
    return response(302, "{}", "Location: https://127.0.0.1:1/elsewhere\r\n");
  });
  HttpsClient client(options(server.url()));
  EXPECT_EQ(client.get("/v1/health").status, 302);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(HttpsClientTest, ServerSignedByAnotherCaIsRefusedBeforeAnythingIsSent) {
  const TlsIdentityPaths impostor = create_tls_identity(dir_.path() / "impostor");
  TlsTestServer server(impostor, [&](const SeenRequest&) { return response(200, "{}"); });
  HttpsClient client(options(server.url()));

  const Error error = error_from([&] { client.post_json("/v1/sync", R"({"changes":[]})"); });
  EXPECT_EQ(error.code(), Errc::network);
  const std::string message = error.what();
  EXPECT_NE(message.find("HQ's certificate is not signed by the CA pinned at enrollment (" +
                         identity_.ca_cert.string() + "): nothing was sent"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find(server.url()), std::string::npos) << message;
  EXPECT_EQ(server.connections(), 1) << "the client did connect";
  EXPECT_TRUE(server.requests().empty()) << "but the server never saw a request";
}

TEST_F(HttpsClientTest, ClosedPortSaysHqCannotBeReached) {
  unsigned short port = 0;
  const int bound = loopback_socket(port, /*listening=*/false);  // held, so no one else takes it
  const std::string url = "https://127.0.0.1:" + std::to_string(port);
  HttpsClient client(options(url));
  const auto started = Clock::now();
  const Error error = error_from([&] { client.get("/v1/health"); });
  ::close(bound);
  EXPECT_EQ(error.code(), Errc::network);
  EXPECT_EQ(std::string(error.what()).rfind("cannot reach HQ at " + url + ": ", 0), 0u) << error.what();
  EXPECT_LT(Clock::now() - started, 2s);
}

TEST_F(HttpsClientTest, SilentServerTimesOutWithinTheBound) {
  TlsTestServer server(identity_, [&](const SeenRequest&) { return std::nullopt; });
  HttpsOptions opts = options(server.url());
  opts.request_timeout = 1000ms;
  HttpsClient client(opts);

  const auto started = Clock::now();
  const Error error = error_from([&] { client.post_json("/v1/sync", "{}"); });
  const auto took = Clock::now() - started;
  EXPECT_EQ(error.code(), Errc::network);
  EXPECT_EQ(std::string(error.what()).rfind("HQ did not answer within 1 s (POST " + server.url() + "/v1/sync)", 0),
            0u)
      << error.what();
  EXPECT_GE(took, 900ms);
  EXPECT_LT(took, 4s);
  EXPECT_EQ(server.requests().size(), 1u);
}

TEST_F(HttpsClientTest, ServerThatNeverStartsTlsTimesOutWithinTheConnectBound) {
  unsigned short port = 0;
  const int listening = loopback_socket(port, /*listening=*/true);  // the kernel accepts; no one answers
  const std::string url = "https://127.0.0.1:" + std::to_string(port);
  HttpsOptions opts = options(url);
  opts.connect_timeout = 500ms;
  HttpsClient client(opts);

  const auto started = Clock::now();
  const Error error = error_from([&] { client.get("/v1/health"); });
  const auto took = Clock::now() - started;
  ::close(listening);
  EXPECT_EQ(error.code(), Errc::network);
  EXPECT_EQ(std::string(error.what()).rfind("HQ did not answer within 0.5 s (TLS handshake with " + url + ")", 0), 0u)
      << error.what();
  EXPECT_LT(took, 3s);
}

TEST_F(HttpsClientTest, UnansweredConnectSaysHqCannotBeReachedWithinTheConnectBound) {
  // A listener with a full backlog drops further SYNs: the TCP connection itself never completes,
  // as with a host that is down or firewalled.
  unsigned short port = 0;
  const int listening = loopback_socket(port, /*listening=*/true);
  ::listen(listening, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::vector<int> fillers;
  for (int i = 0; i < 4; ++i) {
    fillers.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    ::connect(fillers.back(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  }
  std::this_thread::sleep_for(100ms);
  const std::string url = "https://127.0.0.1:" + std::to_string(port);
  HttpsOptions opts = options(url);
  opts.connect_timeout = 500ms;
  HttpsClient client(opts);

  const auto started = Clock::now();
  const Error error = error_from([&] { client.get("/v1/health"); });
  const auto took = Clock::now() - started;
  for (const int fd : fillers) ::close(fd);
  ::close(listening);
  EXPECT_EQ(error.code(), Errc::network);
  EXPECT_EQ(std::string(error.what()).rfind("cannot reach HQ at " + url + ": no connection within 0.5 s", 0), 0u)
      << error.what();
  EXPECT_LT(took, 3s);
}

TEST_F(HttpsClientTest, CompressedAnswersAreDecoded) {
  const std::string json = json_sample(50 * 1024);
  std::string coding = "zstd";
  TlsTestServer server(identity_, [&](const SeenRequest&) {
    const std::string wire = coding == "zstd" ? zstd_compress(json) : gzip_compress(json);
    return response(200, wire, "Content-Encoding: " + coding + "\r\n");
  });
  HttpsClient client(options(server.url()));

  const HttpsResult zstd = client.get("/v1/plugins");
  EXPECT_EQ(zstd.body, json);
  EXPECT_LT(zstd.bytes_received * 4, json.size()) << "counted as it came, compressed";
  coding = "gzip";
  EXPECT_EQ(client.get("/v1/plugins").body, json);
}

TEST_F(HttpsClientTest, UnknownContentEncodingIsRefused) {
  TlsTestServer server(identity_, [&](const SeenRequest&) { return response(200, "xx", "Content-Encoding: br\r\n"); });
  HttpsClient client(options(server.url()));
  const Error error = error_from([&] { client.get("/v1/health"); });
  EXPECT_EQ(error.code(), Errc::invalid_input);
  EXPECT_NE(std::string(error.what()).find("Content-Encoding: br"), std::string::npos) << error.what();
}

TEST_F(HttpsClientTest, AnswerOverTheSizeBoundIsRefused) {
  constexpr std::size_t kBound = 64 * 1024;
  const std::string big = json_sample(kBound + 1);
  std::string mode;
  TlsTestServer server(identity_, [&](const SeenRequest&) -> std::optional<std::string> {
    if (mode == "length") return response(200, big);
    if (mode == "chunked") return chunked_response(big);
    return response(200, zstd_compress(big), "Content-Encoding: zstd\r\n");  // small on the wire
  });
  HttpsClient client(options(server.url(), kBound));

  for (const char* m : {"length", "chunked", "zstd"}) {
    SCOPED_TRACE(m);
    mode = m;
    const Error error = error_from([&] { client.get("/v1/plugins"); });
    EXPECT_EQ(error.code(), Errc::invalid_input);
    EXPECT_NE(std::string(error.what()).find("is larger than the 64 KiB this replica accepts"), std::string::npos)
        << error.what();
  }
  // A bound that is just enough lets the same answer through.
  mode = "chunked";
  HttpsClient roomy(options(server.url(), big.size()));
  EXPECT_EQ(roomy.get("/v1/plugins").body, big);
}

TEST_F(HttpsClientTest, PlainHttpAddressIsRefused) {
  const Error error = error_from([&] { HttpsClient client(options("http://127.0.0.1:8080")); });
  EXPECT_EQ(error.code(), Errc::invalid_input);
  EXPECT_NE(std::string(error.what()).find("is not https"), std::string::npos) << error.what();
  EXPECT_EQ(error_from([&] { HttpsClient client(options("127.0.0.1:8080")); }).code(), Errc::invalid_input);
  EXPECT_EQ(error_from([&] { HttpsClient client(options("ftp://127.0.0.1")); }).code(), Errc::invalid_input);
}

TEST_F(HttpsClientTest, BadOptionsAreRefused) {
  HttpsOptions missing_ca = options("https://127.0.0.1:1");
  missing_ca.ca_file = dir_.path() / "no-such-ca.pem";
  const Error error = error_from([&] { HttpsClient client(missing_ca); });
  EXPECT_EQ(error.code(), Errc::storage);
  EXPECT_NE(std::string(error.what()).find("no-such-ca.pem"), std::string::npos);

  HttpsOptions bad_token = options("https://127.0.0.1:1");
  bad_token.bearer_token = "abc\r\nX-Evil: 1";
  EXPECT_EQ(error_from([&] { HttpsClient client(bad_token); }).code(), Errc::invalid_input);
}

}  // namespace
}  // namespace fieldsync
