// Request framing for HttpServer (sync/transport/internal/request_framing.hpp).
#include "sync/transport/internal/request_framing.hpp"

#include <iterator>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include <algorithm>

namespace fieldsync::http_detail {

namespace http = boost::beast::http;
namespace net = boost::asio;

namespace {

Refusal bad_request(std::string message) { return Refusal{400, "bad_request", std::move(message)}; }

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

FramingLimits FramingLimits::of(const ServerConfig& config) {
  FramingLimits l;
  l.max_header_bytes = config.max_header_bytes;
  l.max_body_bytes = config.max_body_bytes;
  l.max_header_fields = config.max_header_fields;
  l.max_target_bytes = config.max_target_bytes;
  return l;
}

HeaderScan scan_header_block(std::string_view data, std::size_t from, const FramingLimits& limits) {
  HeaderScan scan;
  const std::size_t stop = std::min<std::size_t>(data.size(), limits.max_header_bytes);
  for (std::size_t i = from >= 3 ? from - 3 : 0; i < stop; ++i) {
    const char c = data[i];
    if (c == '\n') {
      if (i == 0 || data[i - 1] != '\r') {
        scan.refusal = bad_request("malformed HTTP request: a line ends in LF without CR");
        return scan;
      }
      if (i >= 3 && data[i - 2] == '\n' && data[i - 3] == '\r') {
        scan.end = i + 1;
        return scan;
      }
    } else if ((c == ' ' || c == '\t') && i >= 2 && data[i - 1] == '\n' && data[i - 2] == '\r') {
      // obs-fold (RFC 9112 §5.2), or whitespace before the first header line (§2.2).
      scan.refusal = bad_request("malformed HTTP request: a header line starts with whitespace (obs-fold)");
      return scan;
    }
  }
  if (data.size() >= limits.max_header_bytes) {
    scan.refusal = Refusal{431, "headers_too_large",
                           "the request headers are larger than the limit of " +
                               std::to_string(limits.max_header_bytes) + " bytes"};
  }
  return scan;
}

Refusal refusal_for(const boost::beast::error_code& ec, const FramingLimits& limits) {
  if (ec == http::error::header_limit) {
    return Refusal{431, "headers_too_large",
                   "the request headers are larger than the limit of " +
                       std::to_string(limits.max_header_bytes) + " bytes"};
  }
  if (ec == http::error::body_limit) {
    return Refusal{413, "body_too_large",
                   "the request body is larger than the limit of " +
                       std::to_string(limits.max_body_bytes) + " bytes"};
  }
  return bad_request("malformed HTTP request: " + ec.message());
}

std::optional<Refusal> parse_head(std::string_view block, RequestParser& parser,
                                  const FramingLimits& limits) {
  parser.eager(false);
  parser.header_limit(limits.max_header_bytes);
  // The body limit is checked by admit_body, after the token: an unauthorized client learns
  // nothing, not even that its body is too large.
  parser.body_limit(boost::none);
  boost::beast::error_code ec;
  const std::size_t used = parser.put(net::buffer(block.data(), block.size()), ec);
  if (ec) return refusal_for(ec, limits);
  if (!parser.is_header_done() || used != block.size()) {
    return bad_request("malformed HTTP request: the header block does not parse as one header");
  }
  const auto& req = parser.get();
  std::size_t fields = 0, hosts = 0, lengths = 0, codings = 0, auths = 0, encodings = 0;
  std::string_view coding, length;
  for (const auto& f : req) {
    ++fields;
    switch (f.name()) {
      case http::field::host: ++hosts; break;
      case http::field::content_length: ++lengths; length = f.value(); break;
      case http::field::transfer_encoding: ++codings; coding = f.value(); break;
      case http::field::authorization: ++auths; break;
      case http::field::content_encoding: ++encodings; break;
      default: break;
    }
  }
  if (fields > limits.max_header_fields) {
    return Refusal{431, "headers_too_large",
                   "the request has more than " + std::to_string(limits.max_header_fields) + " header fields"};
  }
  const std::string_view target = req.target();
  if (target.size() > limits.max_target_bytes) {
    return Refusal{414, "target_too_long",
                   "the request target is longer than " + std::to_string(limits.max_target_bytes) + " bytes"};
  }
  if (target.empty() || target.front() != '/') {
    return bad_request("malformed HTTP request: the target must be a path starting with '/'");
  }
  if (hosts > 1 || (hosts == 0 && req.version() >= 11)) {
    return bad_request("malformed HTTP request: exactly one Host header is required");
  }
  if (auths > 1 || encodings > 1) {
    return bad_request("malformed HTTP request: Authorization and Content-Encoding may appear once");
  }
  if (codings > 0) {
    if (req.version() < 11) return bad_request("malformed HTTP request: Transfer-Encoding in HTTP/1.0");
    if (codings > 1 || !boost::beast::iequals(trim(coding), "chunked")) {
      return bad_request("malformed HTTP request: Transfer-Encoding '" + std::string(coding) +
                         "' is not supported; send Content-Length or 'chunked'");
    }
    if (lengths > 0) return bad_request("malformed HTTP request: both Transfer-Encoding and Content-Length");
  }
  if (lengths > 1) return bad_request("malformed HTTP request: more than one Content-Length");
  if (lengths == 1) {
    const std::string_view digits = trim(length);
    if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      return bad_request("malformed HTTP request: Content-Length is not a number");
    }
  }
  return std::nullopt;
}

std::optional<Refusal> admit_body(RequestParser& parser, const FramingLimits& limits) {
  const auto length = parser.content_length();
  if (length && *length > limits.max_body_bytes) {
    return refusal_for(http::error::body_limit, limits);
  }
  parser.body_limit(limits.max_body_bytes);  // counts a chunked body as it arrives
  return std::nullopt;
}

std::size_t field_count(const RequestParser& parser) {
  const auto& fields = parser.get().base();
  return static_cast<std::size_t>(std::distance(fields.begin(), fields.end()));
}

std::optional<Refusal> refuse_trailers(const RequestParser& parser, std::size_t head_fields) {
  if (field_count(parser) == head_fields) return std::nullopt;
  return bad_request("malformed HTTP request: trailer fields after a chunked body are not accepted");
}

ParseOutcome parse_request(std::string_view bytes, const FramingLimits& limits) {
  const HeaderScan scan = scan_header_block(bytes, 0, limits);
  if (scan.refusal) return *scan.refusal;
  if (scan.end == 0) return Incomplete{};
  RequestParser parser;
  if (auto r = parse_head(bytes.substr(0, scan.end), parser, limits)) return *r;
  if (auto r = admit_body(parser, limits)) return *r;
  const std::size_t head_fields = field_count(parser);
  std::size_t consumed = scan.end;
  // Each put() makes some progress (a chunk header, a piece of body); bounded by the bytes.
  while (!parser.is_done()) {
    boost::beast::error_code ec;
    const std::string_view rest = bytes.substr(consumed);
    const std::size_t n = parser.put(net::buffer(rest.data(), rest.size()), ec);
    consumed += n;
    if (ec == http::error::need_more) {
      if (n == 0) return Incomplete{};
      continue;
    }
    if (ec) return refusal_for(ec, limits);
    if (n == 0) return Incomplete{};
  }
  if (auto r = refuse_trailers(parser, head_fields)) return *r;
  return ParsedRequest{parser.release(), consumed};
}

}  // namespace fieldsync::http_detail
