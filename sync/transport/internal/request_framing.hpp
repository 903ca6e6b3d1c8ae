// How HttpServer frames a request out of raw bytes, as pure functions: the session uses them on
// the bytes it reads, and a fuzz target or test can call parse_request() on any bytes.
//
// Promises (RFC 9112): a request is framed only when its length is certain. Anything else —
// Transfer-Encoding other than exactly "chunked", Transfer-Encoding with Content-Length or in
// HTTP/1.0, more than one Content-Length or Transfer-Encoding field, a Content-Length that is not
// digits, obs-fold (a header line continued on the next), a bare LF, a bad request line or
// version, a missing or repeated Host, a target not in origin form — is a Refusal: the server
// answers it and closes the connection, never reading what follows as another request.
// Header block over max_header_bytes or more than max_header_fields → 431; a target over
// max_target_bytes → 414; a declared or chunked body over max_body_bytes → 413.
#pragma once

#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "sync/transport/http_server.hpp"

namespace fieldsync::http_detail {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

struct FramingLimits {
  std::uint32_t max_header_bytes = tuning::kHttpMaxHeaderBytes;
  std::size_t max_body_bytes = tuning::kHttpMaxBodyBytes;
  std::size_t max_header_fields = tuning::kHttpMaxHeaderFields;
  std::size_t max_target_bytes = tuning::kHttpMaxTargetBytes;

  static FramingLimits of(const ServerConfig& config);
};

// A request the server answers with an error and then closes the connection.
struct Refusal {
  int status = 400;
  std::string code;     // the JSON error code, e.g. "bad_request"
  std::string message;
};

// Looks for the end of the header block (the blank line) in `data`, resuming at `from` (the
// previous call's data size; 0 at first). `end` is the offset just past the blank line once the
// block is complete, else 0. A refusal when the bytes so far can never be a header we accept.
struct HeaderScan {
  std::size_t end = 0;
  std::optional<Refusal> refusal;
};
HeaderScan scan_header_block(std::string_view data, std::size_t from, const FramingLimits& limits);

// Feeds a complete header block (from scan_header_block) to a fresh `parser`, sets the parser's
// limits, and checks the framing rules above. Nothing when the body may be read with `parser`.
std::optional<Refusal> parse_head(std::string_view block, RequestParser& parser,
                                  const FramingLimits& limits);

// After the head is accepted (and the client authorized): a declared body over max_body_bytes
// is refused (413); else the parser's body limit is set, so a chunked body is counted too.
std::optional<Refusal> admit_body(RequestParser& parser, const FramingLimits& limits);

// Fields of the message the parser holds so far: taken after the head, compared after the body.
std::size_t field_count(const RequestParser& parser);

// After the whole body: a chunked body's trailer fields land among the header fields Beast
// keeps, after the token, framing and Content-Encoding were checked (a second Host, a Connection
// or an Authorization smuggled in at the end). Our clients send none, so a message that gained
// fields since the head (`head_fields`) is refused.
std::optional<Refusal> refuse_trailers(const RequestParser& parser, std::size_t head_fields);

// The refusal for an error of Beast's parser while reading a body (bad chunk, over the limit).
Refusal refusal_for(const boost::beast::error_code& ec, const FramingLimits& limits);

// The whole path for raw bytes, as the session takes it: scan, head, body.
struct ParsedRequest {
  boost::beast::http::request<boost::beast::http::string_body> message;
  std::size_t consumed = 0;  // bytes of `bytes` the request used (a pipelined next one follows)
};
struct Incomplete {};  // more bytes are needed
using ParseOutcome = std::variant<ParsedRequest, Refusal, Incomplete>;
ParseOutcome parse_request(std::string_view bytes, const FramingLimits& limits = {});

}  // namespace fieldsync::http_detail
