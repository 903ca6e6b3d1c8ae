// Fuzz target: HQ's HTTP request path from raw bytes — the framing of sync/transport/internal/
// request_framing (header scan, head checks, body admission, Beast's request_parser with the
// limits the session sets, from core/tuning.hpp via FramingLimits::of(ServerConfig{})), then what
// the session does with a framed request before the handler: header names lowered and repeats
// joined into an HttpRequest, and the body decoded by its Content-Encoding within the body limit.
// Pipelined requests are framed one after another, as a keep-alive connection reads them.
//
// Asserts: no crash or hang; a refusal is a 4xx with an error code; a framed request meets the
// framing promises (RFC 9112) — one Host (HTTP/1.0: at most one), a target in origin form ("/…") within its
// limit, not both Transfer-Encoding and Content-Length, a Content-Length equal to the body read,
// the body within the limit, at least one byte consumed and never more than given — and a
// decoded body stays within the limit.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "sync/transport/compression.hpp"
#include "sync/transport/http_server.hpp"
#include "sync/transport/internal/request_framing.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

namespace http = boost::beast::http;
using namespace fieldsync::http_detail;

const FramingLimits limits = FramingLimits::of(fieldsync::ServerConfig{});

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// What the session hands on for a framed request (http_session.cpp: head_ and handle_request()).
fieldsync::HttpRequest to_request(http::request<http::string_body>& message) {
  fieldsync::HttpRequest request;
  request.method = std::string(message.method_string());
  request.target = std::string(message.target());
  for (const auto& field : message) {
    auto [it, fresh] = request.headers.try_emplace(lower(field.name_string()), std::string(field.value()));
    if (!fresh) it->second += ", " + std::string(field.value());
  }
  request.body = std::move(message.body());
  request.peer = "127.0.0.1:40000";
  return request;
}

void check_framed(ParsedRequest& parsed, std::size_t given) {
  FUZZ_CHECK(parsed.consumed > 0 && parsed.consumed <= given,
             "consumed " + std::to_string(parsed.consumed) + " of " + std::to_string(given) + " bytes");
  auto& message = parsed.message;
  FUZZ_CHECK(message.body().size() <= limits.max_body_bytes, "a body over the limit was framed");
  // HTTP/1.1 needs exactly one Host (RFC 9112 3.2); HTTP/1.0 may omit it, never repeat it.
  const std::size_t hosts = message.count(http::field::host);
  FUZZ_CHECK(hosts == 1 || (hosts == 0 && message.version() < 11), "a request with " + std::to_string(hosts) + " Host fields was framed");
  const std::string_view target = message.target();
  FUZZ_CHECK(!target.empty() && target.front() == '/' && target.size() <= limits.max_target_bytes,
             "target not in origin form or too long: " + std::string(target.substr(0, 100)));
  const bool has_te = message.count(http::field::transfer_encoding) > 0;
  const bool has_cl = message.count(http::field::content_length) > 0;
  FUZZ_CHECK(!(has_te && has_cl), "both Transfer-Encoding and Content-Length were accepted");
  if (has_cl) {
    FUZZ_CHECK(message.count(http::field::content_length) == 1, "several Content-Length fields were accepted");
    // 1*DIGIT, so leading zeros are allowed ("0593" is 593).
    const std::string_view declared = message[http::field::content_length];
    std::uint64_t length = 0;
    const auto [end, error] = std::from_chars(declared.data(), declared.data() + declared.size(), length);
    FUZZ_CHECK(error == std::errc() && end == declared.data() + declared.size() && length == message.body().size(),
               "Content-Length " + std::string(declared) + " but a body of " + std::to_string(message.body().size()) +
                   " bytes");
  }

  fieldsync::HttpRequest request = to_request(message);
  const auto it = request.headers.find("content-encoding");
  if (it == request.headers.end()) return;
  const auto coding = fieldsync::parse_content_encoding(it->second);
  if (!coding) return;  // the session's 415
  try {
    const std::string body = fieldsync::decode_body(*coding, request.body, limits.max_body_bytes);
    FUZZ_CHECK(body.size() <= limits.max_body_bytes, "a decoded body over the limit");
  } catch (const fieldsync::Error& e) {
    FUZZ_CHECK(e.code() == fieldsync::Errc::invalid_input, std::string("decoding: ") + e.what());  // 400/413
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::string_view rest(reinterpret_cast<const char*>(bytes), size);
  // Each round consumes at least one byte (checked), so this ends.
  while (!rest.empty()) {
    ParseOutcome outcome = parse_request(rest, limits);
    if (auto* refusal = std::get_if<Refusal>(&outcome)) {
      FUZZ_CHECK(refusal->status >= 400 && refusal->status < 500 && !refusal->code.empty(),
                 "refusal " + std::to_string(refusal->status) + " '" + refusal->code + "'");
      return 0;  // the session answers and closes: nothing after is read
    }
    if (std::holds_alternative<Incomplete>(outcome)) return 0;
    auto& parsed = std::get<ParsedRequest>(outcome);
    const std::size_t given = rest.size();
    const bool keep_alive = parsed.message.keep_alive();
    check_framed(parsed, given);
    if (!keep_alive) return 0;  // the session closes after answering
    rest.remove_prefix(parsed.consumed);
  }
  return 0;
}
