// HttpServer against real clients on 127.0.0.1: libcurl with certificate verification on, and raw
// TLS / TCP clients that stall, send garbage or hold idle connections.
#include "sync/transport/http_server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <future>
#include <thread>

#include <nlohmann/json.hpp>

#include "hq_fixture.hpp"
#include "https_test_client.hpp"
#include "sync/transport/compression.hpp"
#include "sync/transport/internal/rate_limiter.hpp"
#include "sync/protocol.hpp"
#include "sync/transport/tls_identity.hpp"
#include "test_support.hpp"

namespace fieldsync {
namespace {

using namespace std::chrono_literals;
using test::CurlReply;
using test::CurlRequest;
using test::curl_request;

std::chrono::milliseconds since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                               start);
}

nlohmann::json json_of(const std::string& body) {
  return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
}

class HttpServerTest : public ::testing::Test {
 protected:
  void SetUp() override { identity_ = create_tls_identity(dir_.path() / "tls"); }

  ServerConfig config() const {
    ServerConfig c;
    c.cert_file = identity_.server_cert;
    c.key_file = identity_.server_key;
    c.threads = 2;
    c.handler_threads = 4;
    c.max_body_bytes = 64 * 1024;
    c.read_timeout = 2s;
    c.body_timeout = 4s;
    c.write_timeout = 2s;
    c.stop_grace = 5s;
    c.close_timeout = 500ms;
    return c;
  }

  // The handler every test uses unless it passes its own: /v1/health answers, /echo returns the
  // body it got, /slow sleeps a little first; everything counts the calls.
  HttpResponse handle(const HttpRequest& req) {
    ++calls_;
    {
      std::lock_guard lock(mu_);
      last_ = req;
    }
    if (req.target == "/v1/health") return {200, "application/json", R"({"status":"ok"})", {}};
    if (req.target.rfind("/slow", 0) == 0) {
      entered_slow_ = true;
      std::this_thread::sleep_for(300ms);
      return {200, "text/plain", "slow " + req.target, {}};
    }
    if (req.target == "/echo") return {200, "application/octet-stream", req.body, {}, /*compress=*/true};
    if (req.target == "/invalid") {
      throw Error(Errc::validation, "record rejected", "record 0190",
                  {{"end_date", "end_after_start", "must be on or after start_date"}});
    }
    if (req.target == "/missing") throw Error(Errc::not_found, "no such record");
    if (req.target == "/crash") throw std::runtime_error("secret internal detail");
    return {404, "application/json", error_body("not_found", "no route"), {}};
  }

  // An authorizer like HQ's: /echo needs "Authorization: Bearer good" or "Bearer other" (each
  // its own principal); anything else passes, anonymous.
  static Authorization authorize(const HttpRequestHead& head) {
    Authorization verdict;
    if (head.target != "/echo") return verdict;
    const auto it = head.headers.find("authorization");
    if (it != head.headers.end() && (it->second == "Bearer good" || it->second == "Bearer other")) {
      verdict.principal = it->second;
    } else {
      verdict.refusal = HttpResponse{401, "application/json", error_body("unauthorized", "no token"), {}};
    }
    return verdict;
  }

  void start(ServerConfig c) {
    server_ = std::make_unique<HttpServer>(std::move(c),
                                           [this](const HttpRequest& r) { return handle(r); });
    server_->start();
  }
  void start() { start(config()); }

  std::string url(const std::string& path) const {
    return "https://127.0.0.1:" + std::to_string(server_->port()) + path;
  }

  CurlRequest get(const std::string& path) const {
    CurlRequest r;
    r.url = url(path);
    r.ca_file = identity_.ca_cert;
    return r;
  }

  CurlRequest post(const std::string& path, std::string body,
                   std::vector<std::string> headers = {}) const {
    CurlRequest r = get(path);
    r.method = "POST";
    r.body = std::move(body);
    r.headers = std::move(headers);
    return r;
  }

  TempDir dir_;
  TlsIdentityPaths identity_;
  std::unique_ptr<HttpServer> server_;
  std::atomic<int> calls_{0};
  std::atomic<bool> entered_slow_{false};
  std::mutex mu_;
  HttpRequest last_;
};

TEST_F(HttpServerTest, HealthOverVerifiedTls) {
  start();
  ASSERT_NE(server_->port(), 0);
  CurlReply reply = curl_request(get("/v1/health"));
  ASSERT_EQ(reply.code, CURLE_OK) << reply.error;
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(json_of(reply.body)["status"], "ok");
  EXPECT_EQ(reply.headers["content-type"], "application/json");
  EXPECT_EQ(calls_, 1);
  std::lock_guard lock(mu_);
  EXPECT_EQ(last_.method, "GET");
  EXPECT_EQ(last_.target, "/v1/health");
  EXPECT_EQ(last_.peer.rfind("127.0.0.1:", 0), 0u) << last_.peer;
  EXPECT_EQ(last_.headers["host"], "127.0.0.1:" + std::to_string(server_->port()));
}

TEST_F(HttpServerTest, ClientPinningAnotherCaIsRefused) {
  start();
  const TlsIdentityPaths other = create_tls_identity(dir_.path() / "other");
  CurlRequest r = get("/v1/health");
  r.ca_file = other.ca_cert;
  CurlReply reply = curl_request(r);
  EXPECT_EQ(reply.code, CURLE_PEER_FAILED_VERIFICATION) << reply.error;
  EXPECT_EQ(calls_, 0);
  // The server is unharmed.
  EXPECT_EQ(curl_request(get("/v1/health")).status, 200);
}

TEST_F(HttpServerTest, TwentyConcurrentClientsAllAnswered) {
  start();
  std::vector<std::future<CurlReply>> replies;
  for (int i = 0; i < 20; ++i) {
    replies.push_back(std::async(std::launch::async, [this, i] {
      return curl_request(get("/slow/" + std::to_string(i)));
    }));
  }
  const auto start_time = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    ASSERT_EQ(replies[i].wait_for(10s), std::future_status::ready);
    CurlReply reply = replies[i].get();
    ASSERT_EQ(reply.code, CURLE_OK) << reply.error;
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.body, "slow /slow/" + std::to_string(i));
  }
  EXPECT_EQ(calls_, 20);
  // 20 handlers of 300 ms on 4 handler threads: about 1.5 s when they overlap, 6 s if serial.
  EXPECT_LT(since(start_time), 4500ms);
}

TEST_F(HttpServerTest, ZstdRequestArrivesDecompressedAndZstdResponseDecodes) {
  start();
  std::string payload;
  for (int i = 0; i < 2000; ++i) payload += R"({"field":"value )" + std::to_string(i) + "\"}\n";
  CurlReply reply = curl_request(post(
      "/echo", zstd_compress(payload), {"Content-Encoding: zstd", "Accept-Encoding: zstd"}));
  ASSERT_EQ(reply.code, CURLE_OK) << reply.error;
  ASSERT_EQ(reply.status, 200);
  {
    std::lock_guard lock(mu_);
    EXPECT_EQ(last_.body, payload);
    EXPECT_EQ(last_.headers.count("content-encoding"), 0u);
  }
  EXPECT_EQ(reply.headers["content-encoding"], "zstd");
  EXPECT_LT(reply.body.size(), payload.size() / 4);
  EXPECT_EQ(zstd_decompress(reply.body, 1 << 20), payload);
}

TEST_F(HttpServerTest, GzipBothWaysWhenTheClientLacksZstd) {
  start();
  const std::string payload(10000, 'g');
  CurlReply reply = curl_request(post(
      "/echo", gzip_compress(payload), {"Content-Encoding: gzip", "Accept-Encoding: gzip, deflate"}));
  ASSERT_EQ(reply.code, CURLE_OK) << reply.error;
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.headers["content-encoding"], "gzip");
  EXPECT_EQ(gzip_decompress(reply.body, 1 << 20), payload);

  // No Accept-Encoding: plain.
  CurlReply plain = curl_request(post("/echo", "abc"));
  EXPECT_EQ(plain.body, "abc");
  EXPECT_EQ(plain.headers.count("content-encoding"), 0u);
}

TEST_F(HttpServerTest, BodyOverTheLimitIs413AndNeverReachesTheHandler) {
  start();
  // Sent at once (curl adds no Expect under 1 MB): refused from its Content-Length.
  CurlReply small = curl_request(post("/echo", std::string(256 * 1024, 'x')));
  ASSERT_EQ(small.code, CURLE_OK) << small.error;
  EXPECT_EQ(small.status, 413);
  EXPECT_EQ(json_of(small.body)["error"]["code"], "body_too_large");

  // With "Expect: 100-continue" (curl, over 1 MB): refused before the body is sent.
  const auto start_time = std::chrono::steady_clock::now();
  CurlReply large = curl_request(post("/echo", std::string(2 * 1024 * 1024, 'x')));
  ASSERT_EQ(large.code, CURLE_OK) << large.error;
  EXPECT_EQ(large.status, 413);
  EXPECT_LT(since(start_time), 900ms);  // no wait for curl's 1 s Expect timeout
  EXPECT_EQ(calls_, 0);

  // A body just under the limit, with Expect, gets through.
  CurlRequest fits = post("/echo", std::string(60 * 1024, 'y'), {"Expect: 100-continue"});
  CurlReply ok = curl_request(fits);
  ASSERT_EQ(ok.code, CURLE_OK) << ok.error;
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body.size(), 60u * 1024);
}

TEST_F(HttpServerTest, CompressionBombIs413) {
  start();
  const std::string bomb = zstd_compress(std::string(32 * 1024 * 1024, '\0'));
  ASSERT_LT(bomb.size(), 64u * 1024);  // small enough to pass the wire limit
  CurlReply reply = curl_request(post("/echo", bomb, {"Content-Encoding: zstd"}));
  ASSERT_EQ(reply.code, CURLE_OK) << reply.error;
  EXPECT_EQ(reply.status, 413);
  EXPECT_EQ(json_of(reply.body)["error"]["code"], "body_too_large");

  const std::string gzip_bomb = gzip_compress(std::string(32 * 1024 * 1024, '\0'));
  CurlReply gz = curl_request(post("/echo", gzip_bomb, {"Content-Encoding: gzip"}));
  EXPECT_EQ(gz.status, 413);
  EXPECT_EQ(calls_, 0);
}

TEST_F(HttpServerTest, CorruptOrUnknownEncodingIs4xxWithJsonError) {
  start();
  std::string corrupt = zstd_compress(std::string(5000, 'a'));
  corrupt.resize(corrupt.size() / 2);
  CurlReply bad = curl_request(post("/echo", corrupt, {"Content-Encoding: zstd"}));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json_of(bad.body)["error"]["code"], "invalid_input");

  CurlReply br = curl_request(post("/echo", "x", {"Content-Encoding: br"}));
  EXPECT_EQ(br.status, 415);
  EXPECT_EQ(json_of(br.body)["error"]["code"], "unsupported_encoding");
  EXPECT_EQ(calls_, 0);
}

TEST_F(HttpServerTest, HandlerExceptionsBecomeJsonErrors) {
  start();
  CurlReply invalid = curl_request(get("/invalid"));
  EXPECT_EQ(invalid.status, 400);
  const auto j = json_of(invalid.body);
  EXPECT_EQ(j["error"]["code"], "validation");
  EXPECT_EQ(j["error"]["where"], "record 0190");
  EXPECT_EQ(j["error"]["issues"][0]["field"], "end_date");

  EXPECT_EQ(curl_request(get("/missing")).status, 404);

  CurlReply crash = curl_request(get("/crash"));
  EXPECT_EQ(crash.status, 500);
  EXPECT_EQ(json_of(crash.body)["error"]["code"], "internal");
  EXPECT_EQ(crash.body.find("secret"), std::string::npos);

  EXPECT_EQ(curl_request(get("/v1/health")).status, 200);  // still serving
}

TEST_F(HttpServerTest, MalformedHttpIs400) {
  start();
  test::RawTlsClient client(server_->port(), identity_.ca_cert);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.write("THIS IS NOT HTTP\r\n\r\n"));
  bool closed = false;
  const std::string answer = client.read_until_close(3s, closed);
  EXPECT_EQ(answer.rfind("HTTP/1.1 400", 0), 0u) << answer;
  EXPECT_NE(answer.find("\"bad_request\""), std::string::npos) << answer;
  EXPECT_TRUE(closed);
  EXPECT_EQ(calls_, 0);
}

TEST_F(HttpServerTest, StalledClientsAreCutOffWhileOthersAreServed) {
  ServerConfig c = config();
  c.read_timeout = 1s;
  start(c);

  // Half a request header, then silence.
  test::RawTlsClient half_header(server_->port(), identity_.ca_cert);
  ASSERT_TRUE(half_header.connected());
  ASSERT_TRUE(half_header.write("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le"));
  // A whole header and half its body, then silence.
  test::RawTlsClient half_body(server_->port(), identity_.ca_cert);
  ASSERT_TRUE(half_body.connected());
  ASSERT_TRUE(half_body.write("POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n"
                              "only part of it"));
  // A bare TCP connection that starts a TLS record and never finishes its handshake.
  const int raw = test::connect_loopback(server_->port());
  ASSERT_GE(raw, 0);
  ASSERT_EQ(::send(raw, "\x16\x03\x01", 3, MSG_NOSIGNAL), 3);

  // Meanwhile, others are served at once.
  for (int i = 0; i < 3; ++i) {
    const auto t = std::chrono::steady_clock::now();
    CurlReply reply = curl_request(get("/v1/health"));
    EXPECT_EQ(reply.status, 200) << reply.error;
    EXPECT_LT(since(t), 500ms);
  }

  bool closed = false;
  std::chrono::milliseconds took{};
  half_header.read_until_close(4s, closed, &took);
  EXPECT_TRUE(closed) << "half a header held the connection";
  EXPECT_LT(took, 3s);
  half_body.read_until_close(4s, closed, &took);
  EXPECT_TRUE(closed) << "half a body held the connection";
  EXPECT_LT(took, 3s);
  EXPECT_LT(test::wait_for_tcp_close(raw, 4s), 3s) << "an unfinished handshake held the connection";
  ::close(raw);
  EXPECT_EQ(calls_, 3);
}

TEST_F(HttpServerTest, TrickledBodyIsCutOffAtTheBodyTimeout) {
  ServerConfig c = config();
  c.read_timeout = 1s;
  c.body_timeout = 1500ms;
  start(c);
  test::RawTlsClient client(server_->port(), identity_.ca_cert);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.write("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"));
  // One byte every 300 ms never trips the per-read timeout; the whole-body deadline stops it.
  const auto start_time = std::chrono::steady_clock::now();
  bool write_failed = false;
  while (since(start_time) < 4s) {
    if (!client.write("x")) {
      write_failed = true;
      break;
    }
    std::this_thread::sleep_for(300ms);
  }
  bool closed = write_failed;
  if (!closed) client.read_until_close(1s, closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(calls_, 0);
}

TEST_F(HttpServerTest, StopIsPromptWithIdleKeepAliveConnections) {
  start();
  // Three curl handles whose connections stay open after their request.
  std::vector<CURL*> handles;
  for (int i = 0; i < 3; ++i) {
    handles.push_back(curl_easy_init());
    CurlReply reply = test::curl_perform(handles.back(), get("/v1/health"));
    ASSERT_EQ(reply.status, 200) << reply.error;
  }
  // A TLS connection that never sent a request, and a TCP one that never began its handshake.
  test::RawTlsClient idle(server_->port(), identity_.ca_cert);
  ASSERT_TRUE(idle.connected());
  const int raw = test::connect_loopback(server_->port());
  ASSERT_GE(raw, 0);
  std::this_thread::sleep_for(100ms);

  const auto start_time = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(since(start_time), 1s);  // far under stop_grace (5 s) and the idle timeout (2 s)

  bool closed = false;
  idle.read_until_close(2s, closed);
  EXPECT_TRUE(closed);
  EXPECT_LT(test::wait_for_tcp_close(raw, 2s), 2s);
  ::close(raw);
  for (CURL* h : handles) curl_easy_cleanup(h);
  server_->stop();  // idempotent
}

TEST_F(HttpServerTest, StopLetsARequestInFlightFinish) {
  start();
  auto reply = std::async(std::launch::async, [this] { return curl_request(get("/slow/x")); });
  const auto wait_start = std::chrono::steady_clock::now();
  while (!entered_slow_ && since(wait_start) < 5s) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(entered_slow_);
  const auto start_time = std::chrono::steady_clock::now();
  server_->stop();
  EXPECT_LT(since(start_time), 3s);
  ASSERT_EQ(reply.wait_for(5s), std::future_status::ready);
  CurlReply r = reply.get();
  ASSERT_EQ(r.code, CURLE_OK) << r.error;
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "slow /slow/x");
  EXPECT_EQ(r.headers["connection"], "close");
  // And nothing is accepted any more.
  CurlRequest after = get("/v1/health");
  after.timeout_ms = 2000;
  EXPECT_NE(curl_request(after).code, CURLE_OK);
}

TEST_F(HttpServerTest, Tls11ClientIsRefused) {
  start();
  CurlRequest old = get("/v1/health");
  old.ssl_version = static_cast<long>(CURL_SSLVERSION_TLSv1_0) | static_cast<long>(CURL_SSLVERSION_MAX_TLSv1_1);
  old.cipher_list = "DEFAULT:@SECLEVEL=0";  // so the refusal is the server's, not our client's
  CurlReply reply = curl_request(old);
  EXPECT_EQ(reply.code, CURLE_SSL_CONNECT_ERROR) << reply.error;
  EXPECT_EQ(calls_, 0);

  CurlRequest tls12 = get("/v1/health");
  tls12.ssl_version = static_cast<long>(CURL_SSLVERSION_TLSv1_2) | static_cast<long>(CURL_SSLVERSION_MAX_TLSv1_2);
  EXPECT_EQ(curl_request(tls12).status, 200);
}

TEST_F(HttpServerTest, ConnectionsOverTheLimitAreClosed) {
  ServerConfig c = config();
  c.max_connections = 1;
  start(c);
  test::RawTlsClient first(server_->port(), identity_.ca_cert);
  ASSERT_TRUE(first.connected());
  CurlRequest second = get("/v1/health");
  second.timeout_ms = 2000;
  EXPECT_NE(curl_request(second).code, CURLE_OK);
}

TEST_F(HttpServerTest, StartFailsClearlyOnBadFilesOrBusyPort) {
  ServerConfig c = config();
  c.key_file = dir_.path() / "missing.key";
  HttpServer no_key(c, [](const HttpRequest&) { return HttpResponse{}; });
  try {
    no_key.start();
    FAIL() << "started without a key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::invalid_input);
  }

  const TlsIdentityPaths other = create_tls_identity(dir_.path() / "other");
  c = config();
  c.key_file = other.server_key;  // a key that is not the certificate's
  HttpServer mismatched(c, [](const HttpRequest&) { return HttpResponse{}; });
  EXPECT_THROW(mismatched.start(), Error);

  start();
  c = config();
  c.port = server_->port();
  HttpServer busy(c, [](const HttpRequest&) { return HttpResponse{}; });
  try {
    busy.start();
    FAIL() << "bound a busy port";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::storage);
  }
}

TEST_F(HttpServerTest, LogsOneLinePerRequestOnlyWhenVerbose) {
  start();
  ::testing::internal::CaptureStderr();
  curl_request(get("/v1/health"));
  server_->stop();
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "");

  ServerConfig c = config();
  c.verbose = true;
  start(c);
  ::testing::internal::CaptureStderr();
  curl_request(get("/v1/health"));
  curl_request(get("/missing"));
  server_->stop();
  const std::string log = ::testing::internal::GetCapturedStderr();
  EXPECT_EQ(std::count(log.begin(), log.end(), '\n'), 2) << log;
  EXPECT_NE(log.find("\"GET /v1/health\" 200"), std::string::npos) << log;
  EXPECT_NE(log.find("\"GET /missing\" 404"), std::string::npos) << log;
}

TEST_F(HttpServerTest, HeadGetsHeadersWithoutABody) {
  start();
  CURL* handle = curl_easy_init();
  curl_easy_setopt(handle, CURLOPT_NOBODY, 1L);
  CurlRequest head = get("/v1/health");
  head.method = "HEAD";
  CurlReply reply = test::curl_perform(handle, head);
  ASSERT_EQ(reply.code, CURLE_OK) << reply.error;
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "");
  EXPECT_EQ(reply.headers["content-length"], std::to_string(std::string(R"({"status":"ok"})").size()));
  // The connection is still in step: a GET on it works.
  curl_easy_setopt(handle, CURLOPT_NOBODY, 0L);
  reply = test::curl_perform(handle, get("/v1/health"));
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(json_of(reply.body)["status"], "ok");
  curl_easy_cleanup(handle);
}

TEST_F(HttpServerTest, RunUntilSignalReturnsOnSigterm) {
  start();
  // Let run_until_signal install its handler, then send SIGTERM to this process.
  std::thread killer([] {
    const auto start_time = std::chrono::steady_clock::now();
    while (since(start_time) < 5s) {
      struct sigaction current {};
      ::sigaction(SIGTERM, nullptr, &current);
      if (current.sa_handler != SIG_DFL) break;
      std::this_thread::sleep_for(5ms);
    }
    ::kill(::getpid(), SIGTERM);
  });
  auto done = std::async(std::launch::async, [this] { server_->run_until_signal(); });
  const bool returned = done.wait_for(5s) == std::future_status::ready;
  killer.join();
  ASSERT_TRUE(returned);
  CurlRequest after = get("/v1/health");
  after.timeout_ms = 2000;
  EXPECT_NE(curl_request(after).code, CURLE_OK);
}

TEST_F(HttpServerTest, RunUntilSignalReturnsWhenStoppedElsewhere) {
  start();
  auto done = std::async(std::launch::async, [this] { server_->run_until_signal(); });
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(curl_request(get("/v1/health")).status, 200);
  server_->stop();
  EXPECT_EQ(done.wait_for(5s), std::future_status::ready);
}


// --- framing: a request whose length is not certain is answered 400 and the connection closed ---

std::size_t count_responses(const std::string& wire) {
  std::size_t n = 0;
  for (auto at = wire.find("HTTP/1.1 "); at != std::string::npos; at = wire.find("HTTP/1.1 ", at + 1)) ++n;
  return n;
}

// Sends `bytes` on a fresh TLS connection and reads until the server closes it (at most 3 s).
std::string send_raw(unsigned short port, const std::filesystem::path& ca, const std::string& bytes,
                     bool& closed) {
  test::RawTlsClient client(port, ca);
  closed = false;
  if (!client.connected() || !client.write(bytes)) return "(no connection)";
  return client.read_until_close(3s, closed);
}

TEST_F(HttpServerTest, UnknownTransferEncodingIsRefusedAndItsBodyNeverReadAsARequest) {
  start();
  // The "body" is itself a request: read on, it would be a smuggled second request.
  bool closed = false;
  const std::string wire = send_raw(server_->port(), identity_.ca_cert,
                                    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\n\r\n"
                                    "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n",
                                    closed);
  EXPECT_EQ(count_responses(wire), 1u) << wire;
  EXPECT_EQ(wire.rfind("HTTP/1.1 400", 0), 0u) << wire;
  EXPECT_NE(wire.find("\"bad_request\""), std::string::npos) << wire;
  EXPECT_NE(wire.find("Connection: close"), std::string::npos) << wire;
  EXPECT_TRUE(closed);
  EXPECT_EQ(calls_, 0);
}

TEST_F(HttpServerTest, EveryUncertainFramingIsRefusedAndClosed) {
  start();
  const std::string smuggled = "GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"TE then CL", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"},
      {"CL then TE", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"},
      {"CL then unknown TE", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nTransfer-Encoding: foo\r\n\r\n"},
      {"chunked not last", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, foo\r\n\r\n"},
      {"two TE fields", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"TE in HTTP/1.0", "POST /echo HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
      {"two different CL", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n"},
      {"two equal CL", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 0\r\n\r\n"},
      {"CL list", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 0\r\n\r\n"},
      {"CL not a number", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: +0\r\n\r\n"},
      {"bad chunk size", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"},
      {"obs-fold", "POST /echo HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n Content-Length: 0\r\n\r\n"},
      {"space before first field", "POST /echo HTTP/1.1\r\n Host: x\r\n\r\n"},
      {"bare LF", "GET /v1/health HTTP/1.1\nHost: x\n\n"},
      {"bad version", "GET /v1/health HTTP/2.0\r\nHost: x\r\n\r\n"},
      {"bad request line", "GET  /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"no Host", "GET /v1/health HTTP/1.1\r\n\r\n"},
      {"two Hosts", "GET /v1/health HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"},
      {"absolute target", "GET http://x/v1/health HTTP/1.1\r\nHost: x\r\n\r\n"},
      {"space in a field name", "GET /v1/health HTTP/1.1\r\nHost : x\r\n\r\n"},
      // Found by fuzz_http_request: trailer fields would join the checked header fields.
      {"trailer field", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "2\r\nhi\r\n0\r\nHost: y\r\n\r\n"},
      {"trailer Authorization", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                                "0\r\nAuthorization: Bearer z\r\n\r\n"},
  };
  for (const auto& [name, bytes] : cases) {
    bool closed = false;
    const std::string wire = send_raw(server_->port(), identity_.ca_cert, bytes + smuggled, closed);
    EXPECT_EQ(count_responses(wire), 1u) << name << ": " << wire;
    EXPECT_EQ(wire.rfind("HTTP/1.1 400", 0), 0u) << name << ": " << wire;
    EXPECT_NE(wire.find("{\"error\":{\"code\":\"bad_request\""), std::string::npos) << name << ": " << wire;
    EXPECT_TRUE(closed) << name;
  }
  EXPECT_EQ(calls_, 0);
  EXPECT_EQ(curl_request(get("/v1/health")).status, 200);  // still serving
}

TEST_F(HttpServerTest, PipelinedAndChunkedRequestsStillWork) {
  start();
  test::RawTlsClient client(server_->port(), identity_.ca_cert);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.write("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                           "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"
                           "GET /v1/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  bool closed = false;
  const std::string wire = client.read_until_close(3s, closed);
  EXPECT_EQ(count_responses(wire), 2u) << wire;
  EXPECT_NE(wire.find("\r\n\r\nabcde"), std::string::npos) << wire;
  EXPECT_NE(wire.find("{\"status\":\"ok\"}"), std::string::npos) << wire;
  EXPECT_TRUE(closed);
  EXPECT_EQ(calls_, 2);
}

TEST_F(HttpServerTest, TooManyHeaderFieldsIs431AndALongTargetIs414) {
  ServerConfig c = config();
  c.max_header_fields = 20;
  c.max_target_bytes = 100;
  start(c);
  std::string many = "GET /v1/health HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 30; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
  bool closed = false;
  std::string wire = send_raw(server_->port(), identity_.ca_cert, many + "\r\n", closed);
  EXPECT_EQ(wire.rfind("HTTP/1.1 431", 0), 0u) << wire;
  EXPECT_TRUE(closed);
  wire = send_raw(server_->port(), identity_.ca_cert,
                  "GET /" + std::string(200, 'a') + " HTTP/1.1\r\nHost: x\r\n\r\n", closed);
  EXPECT_EQ(wire.rfind("HTTP/1.1 414", 0), 0u) << wire;
  EXPECT_NE(wire.find("\"target_too_long\""), std::string::npos) << wire;
  EXPECT_TRUE(closed);
  EXPECT_EQ(calls_, 0);
}

// --- exhaustion ---

TEST_F(HttpServerTest, OneAddressAtItsConnectionCapLeavesOthersServed) {
  ServerConfig c = config();
  c.max_connections = 64;
  c.max_connections_per_address = 4;
  start(c);
  std::vector<int> idle;
  for (int i = 0; i < 6; ++i) {  // 4 held, 2 closed at once
    const int fd = test::connect_loopback(server_->port());
    ASSERT_GE(fd, 0);
    idle.push_back(fd);
  }
  std::this_thread::sleep_for(200ms);  // let the server accept them all
  CurlRequest same = get("/v1/health");
  same.timeout_ms = 1500;
  EXPECT_NE(curl_request(same).code, CURLE_OK) << "127.0.0.1 is over its cap";
  CurlRequest other = get("/v1/health");
  other.local_address = "127.0.0.2";
  CurlReply reply = curl_request(other);
  ASSERT_EQ(reply.code, CURLE_OK) << reply.error;
  EXPECT_EQ(reply.status, 200);
  // Once 127.0.0.1's idle sockets go, it is served again.
  for (int fd : idle) ::close(fd);
  bool served = false;
  for (int i = 0; i < 40 && !served; ++i) {
    served = curl_request(get("/v1/health")).status == 200;
    if (!served) std::this_thread::sleep_for(50ms);
  }
  EXPECT_TRUE(served);
}

TEST_F(HttpServerTest, TokenIsCheckedWhenTheHeadersArriveBeforeAnyBody) {
  ServerConfig c = config();
  c.max_body_bytes = 2 * 1024 * 1024;  // the announced body fits: only the token can refuse it
  c.authorize = authorize;
  start(c);
  for (const std::string auth : {"", "Authorization: Bearer wrong\r\n"}) {
    test::RawTlsClient client(server_->port(), identity_.ca_cert);
    ASSERT_TRUE(client.connected());
    ASSERT_TRUE(client.write("POST /echo HTTP/1.1\r\nHost: x\r\n" + auth +
                             "Content-Length: 1000000\r\n\r\n"));
    const auto t = std::chrono::steady_clock::now();
    const std::string first = client.read_some(3s);  // and no byte of the body sent
    EXPECT_LT(since(t), 1s) << "the 401 waited for the body";
    EXPECT_EQ(first.rfind("HTTP/1.1 401", 0), 0u) << first;
    bool closed = false;
    const std::string rest = client.read_until_close(2s, closed);
    EXPECT_NE((first + rest).find("\"unauthorized\""), std::string::npos) << first << rest;
    EXPECT_TRUE(closed) << "a refused request's connection stays open";
  }
  EXPECT_EQ(calls_, 0);
  CurlReply good = curl_request(post("/echo", "hello", {"Authorization: Bearer good"}));
  EXPECT_EQ(good.status, 200);
  EXPECT_EQ(good.body, "hello");
}

TEST_F(HttpServerTest, EachTokenIsRateLimitedWith429AndRetryAfter) {
  ServerConfig c = config();
  c.authorize = authorize;
  c.rate_per_second = 2;
  c.rate_burst = 3;
  start(c);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(curl_request(post("/echo", "x", {"Authorization: Bearer good"})).status, 200) << i;
  }
  CurlReply limited = curl_request(post("/echo", "x", {"Authorization: Bearer good"}));
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(json_of(limited.body)["error"]["code"], "rate_limited") << limited.body;
  EXPECT_EQ(limited.headers["retry-after"], "1");
  EXPECT_EQ(calls_, 3);
  // Another token, and anonymous requests, are not held back by it.
  EXPECT_EQ(curl_request(post("/echo", "x", {"Authorization: Bearer other"})).status, 200);
  EXPECT_EQ(curl_request(get("/v1/health")).status, 200);
  // After Retry-After, the token is served again.
  std::this_thread::sleep_for(1100ms);
  EXPECT_EQ(curl_request(post("/echo", "x", {"Authorization: Bearer good"})).status, 200);
}

TEST_F(HttpServerTest, RequestsWithoutAGoodTokenAreRateLimitedPerAddress) {
  ServerConfig c = config();
  c.authorize = authorize;
  c.anonymous_rate_per_second = 0.5;
  c.anonymous_burst = 4;
  start(c);
  // A wrong-token flood: 401s, then 429s.
  int unauthorized = 0, limited = 0;
  for (int i = 0; i < 8; ++i) {
    const CurlReply r = curl_request(post("/echo", "x", {"Authorization: Bearer guess" + std::to_string(i)}));
    unauthorized += r.status == 401;
    limited += r.status == 429 && r.headers.count("retry-after") == 1;
  }
  EXPECT_EQ(unauthorized, 4);
  EXPECT_EQ(limited, 4);
  // Health probes from that address are held back too; another address and a good token are not.
  EXPECT_EQ(curl_request(get("/v1/health")).status, 429);
  CurlRequest other = get("/v1/health");
  other.local_address = "127.0.0.2";
  EXPECT_EQ(curl_request(other).status, 200);
  EXPECT_EQ(curl_request(post("/echo", "x", {"Authorization: Bearer good"})).status, 200);
}

TEST(RateLimiterTest, MemoryIsBoundedAndADebtorStaysLimited) {
  http_detail::RateLimiter limiter(1.0, 2, 100);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(limiter.take("a", t0));
  EXPECT_FALSE(limiter.take("a", t0));
  EXPECT_EQ(limiter.take("a", t0), 1L);
  // 10,000 other keys, each seen once: the table never grows past its bound.
  for (int i = 0; i < 10000; ++i) limiter.take("k" + std::to_string(i), t0 + 1ms);
  EXPECT_LE(limiter.keys(), 100u);
  // A key that refilled is as good as new.
  EXPECT_FALSE(limiter.take("a", t0 + 5s));
}

// --- TLS and compression ---

TEST_F(HttpServerTest, CbcOnlyTls12ClientIsRefusedAndTls13Works) {
  start();
  CurlRequest cbc = get("/v1/health");
  cbc.ssl_version = static_cast<long>(CURL_SSLVERSION_TLSv1_2) | static_cast<long>(CURL_SSLVERSION_MAX_TLSv1_2);
  cbc.cipher_list =
      "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES256-SHA384:"
      "ECDHE-RSA-AES128-SHA:AES128-SHA:AES256-SHA:AES128-GCM-SHA256:@SECLEVEL=0";
  CurlReply refused = curl_request(cbc);
  EXPECT_EQ(refused.code, CURLE_SSL_CONNECT_ERROR) << refused.error;

  CurlRequest aead12 = cbc;
  aead12.cipher_list = "ECDHE-ECDSA-AES128-GCM-SHA256";
  EXPECT_EQ(curl_request(aead12).status, 200);

  CurlRequest tls13 = get("/v1/health");
  tls13.ssl_version = static_cast<long>(CURL_SSLVERSION_TLSv1_3) | static_cast<long>(CURL_SSLVERSION_MAX_TLSv1_3);
  CurlReply reply = curl_request(tls13);
  ASSERT_EQ(reply.code, CURLE_OK) << reply.error;
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(calls_, 2);
}

TEST_F(HttpServerTest, OnlyResponsesTheHandlerMarksAreCompressed) {
  start();
  for (const std::string path : {"/", "/v1/health", "/missing"}) {
    CurlRequest r = get(path);
    r.headers = {"Accept-Encoding: gzip, zstd"};
    const CurlReply reply = curl_request(r);
    EXPECT_EQ(reply.headers.count("content-encoding"), 0u) << path;
    EXPECT_EQ(json_of(reply.body).is_discarded(), false) << path << ": " << reply.body;
  }
  CurlReply echo = curl_request(post("/echo", std::string(1000, 'e'), {"Accept-Encoding: gzip"}));
  EXPECT_EQ(echo.headers["content-encoding"], "gzip");
}


// --- the same at the real `fieldsync-hq serve` (HqService::authorize wired in) ---

TEST(HqServeTest, TokenCheckedOnHeadersAndOnlySyncBodiesCompressed) {
  TempDir dir;
  RunningHq hq(dir.path() / "hq");
  const std::string token = hq.add_office("NER");
  hq.start();
  const auto port = static_cast<unsigned short>(std::stoi(hq.url().substr(hq.url().rfind(':') + 1)));

  // No token, a body announced and never sent: 401 at once, connection closed.
  test::RawTlsClient client(port, hq.ca_file());
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.write("POST /v1/sync HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"));
  const auto t = std::chrono::steady_clock::now();
  const std::string first = client.read_some(3s);
  EXPECT_LT(since(t), 1s);
  EXPECT_EQ(first.rfind("HTTP/1.1 401", 0), 0u) << first;
  bool closed = false;
  const std::string rest = client.read_until_close(3s, closed);
  EXPECT_NE((first + rest).find("\"unauthorized\""), std::string::npos);
  EXPECT_TRUE(closed);

  // Only sync bodies are compressed: not `/`, not the health answer.
  for (const std::string path : {"/", "/v1/health"}) {
    CurlRequest r;
    r.url = hq.url() + path;
    r.ca_file = hq.ca_file();
    r.headers = {"Accept-Encoding: gzip, zstd"};
    const CurlReply reply = curl_request(r);
    EXPECT_EQ(reply.headers.count("content-encoding"), 0u) << path;
  }
  protocol::SyncRequest sync;
  sync.replica = "0123456789abcdef";
  CurlRequest r;
  r.url = hq.url() + "/v1/sync";
  r.ca_file = hq.ca_file();
  r.method = "POST";
  r.body = protocol::encode(sync);
  r.headers = {"Authorization: Bearer " + token, "Content-Type: application/json", "Accept-Encoding: gzip"};
  CurlReply reply = curl_request(r);
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(reply.headers["content-encoding"], "gzip");
}

}  // namespace
}  // namespace fieldsync
