// Body compression for the sync protocol: zstd, and gzip as the fallback (DESIGN "Sync protocol").
//
// Compressing cannot fail except on memory exhaustion. Decompressing takes a bound on the output:
// a few kilobytes of hostile input can expand to gigabytes (a "zip bomb"), so the output is
// produced in chunks and refused as soon as it would pass `max_output`, before it is held in
// memory. Every failure to decompress — corrupt, truncated or trailing garbage, or over the
// bound — throws Error(Errc::invalid_input); over the bound is told apart by
// DecompressedTooLarge, a subclass, so an HTTP server can answer 413 rather than 400.
//
// All functions are thread-safe (no shared state).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace fieldsync {

// The output of a decompression would be larger than the caller's bound.
class DecompressedTooLarge : public Error {
 public:
  explicit DecompressedTooLarge(std::size_t max_output);
  std::size_t max_output() const noexcept { return max_output_; }

 private:
  std::size_t max_output_;
};

// One zstd frame holding `data`: level tuning::kZstdLevel, or kZstdBulkLevel for a bulk body.
std::string zstd_compress(std::string_view data);
// The content of one or more concatenated zstd frames. Empty input is not a frame: it throws.
std::string zstd_decompress(std::string_view compressed, std::size_t max_output);

// A gzip (RFC 1952) member holding `data`, as sent with "Content-Encoding: gzip".
std::string gzip_compress(std::string_view data);
// The content of a gzip stream (one or more members). Empty input throws.
std::string gzip_decompress(std::string_view compressed, std::size_t max_output);

// --- HTTP content codings (Content-Encoding / Accept-Encoding), for the server and the client ---

enum class ContentCoding { identity, zstd, gzip };

// "identity", "zstd" or "gzip": the token for a Content-Encoding header.
const char* to_string(ContentCoding coding) noexcept;

// The coding a Content-Encoding header names: empty or "identity", "zstd", "gzip" (or "x-gzip"),
// any case. Nothing for anything else, including stacked codings ("gzip, zstd").
std::optional<ContentCoding> parse_content_encoding(std::string_view header);

// The coding to answer with given a request's Accept-Encoding: zstd if acceptable, else gzip,
// else identity. Honours q-values ("zstd;q=0" refuses zstd) and "*".
ContentCoding preferred_coding(std::string_view accept_encoding);

// Compresses with `coding` (identity: a copy).
std::string encode_body(ContentCoding coding, std::string_view data);
// Decompresses with `coding`, bounded by `max_output` as above (identity: checks the size only).
std::string decode_body(ContentCoding coding, std::string_view data, std::size_t max_output);

}  // namespace fieldsync
