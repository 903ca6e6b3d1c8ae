#include "sync/transport/compression.hpp"

#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <limits>
#include <memory>

#include "core/tuning.hpp"

namespace fieldsync {

namespace {

// Output is produced this many bytes at a time, so a bomb is stopped within one chunk of the bound.
constexpr std::size_t kChunk = 64 * 1024;

[[noreturn]] void corrupt(const char* format, const std::string& detail) {
  throw Error(Errc::invalid_input, std::string("corrupt ") + format + " data: " + detail);
}

// Appends `n` bytes of `chunk` to `out`, refusing to pass `max_output`.
void append_bounded(std::string& out, const char* chunk, std::size_t n, std::size_t max_output) {
  if (n > max_output - out.size()) throw DecompressedTooLarge(max_output);
  out.append(chunk, n);
}

struct CctxFree {
  void operator()(ZSTD_CCtx* c) const noexcept { ZSTD_freeCCtx(c); }
};

struct DctxFree {
  void operator()(ZSTD_DCtx* d) const noexcept { ZSTD_freeDCtx(d); }
};

}  // namespace

DecompressedTooLarge::DecompressedTooLarge(std::size_t max_output)
    : Error(Errc::invalid_input,
            "decompressed body is larger than the limit of " + std::to_string(max_output) + " bytes"),
      max_output_(max_output) {}

std::string zstd_compress(std::string_view data) {
  std::unique_ptr<ZSTD_CCtx, CctxFree> cctx(ZSTD_createCCtx());
  if (!cctx) throw Error(Errc::internal, "zstd: out of memory");
  const bool bulk = data.size() >= tuning::kZstdBulkBytes;
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_compressionLevel, bulk ? tuning::kZstdBulkLevel : tuning::kZstdLevel);
  if (bulk) {  // the level's search with smaller tables: see tuning.hpp
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_windowLog, tuning::kZstdBulkWindowLog);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_hashLog, tuning::kZstdBulkHashLog);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_chainLog, tuning::kZstdBulkChainLog);
    ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_minMatch, tuning::kZstdBulkMinMatch);
  }
  // A 4-byte checksum per frame, so a body damaged in transit fails to decompress instead of
  // decompressing into different bytes.
  ZSTD_CCtx_setParameter(cctx.get(), ZSTD_c_checksumFlag, 1);
  std::string out(ZSTD_compressBound(data.size()), '\0');
  const std::size_t n = ZSTD_compress2(cctx.get(), out.data(), out.size(), data.data(), data.size());
  if (ZSTD_isError(n)) {
    throw Error(Errc::internal, std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
  }
  out.resize(n);
  return out;
}

std::string zstd_decompress(std::string_view compressed, std::size_t max_output) {
  if (compressed.empty()) corrupt("zstd", "empty input");
  std::unique_ptr<ZSTD_DCtx, DctxFree> dctx(ZSTD_createDCtx());
  if (!dctx) throw Error(Errc::internal, "zstd: out of memory");
  // A frame may ask the decoder for a window of up to 2 GB; refuse more than we ever produce.
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, tuning::kZstdMaxWindowLog);

  std::string out;
  std::unique_ptr<char[]> chunk(new char[kChunk]);
  ZSTD_inBuffer in{compressed.data(), compressed.size(), 0};
  std::size_t last = 0;
  while (true) {
    ZSTD_outBuffer o{chunk.get(), kChunk, 0};
    last = ZSTD_decompressStream(dctx.get(), &o, &in);
    if (ZSTD_isError(last)) corrupt("zstd", ZSTD_getErrorName(last));
    append_bounded(out, chunk.get(), o.pos, max_output);
    // Done when all input is consumed and the decoder has nothing left to flush (a full chunk may
    // mean more output is waiting).
    if (in.pos == in.size && o.pos < kChunk) break;
  }
  // `last` is 0 only at the end of a frame: anything else means the input stopped mid-frame.
  if (last != 0) corrupt("zstd", "truncated frame");
  return out;
}

std::string gzip_compress(std::string_view data) {
  z_stream zs{};
  // 15 window bits + 16: a gzip wrapper rather than zlib's.
  if (deflateInit2(&zs, tuning::kGzipLevel, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw Error(Errc::internal, "gzip: cannot initialise the compressor");
  }
  std::string out;
  std::unique_ptr<char[]> chunk(new char[kChunk]);
  std::size_t offset = 0;
  int rc = Z_OK;
  do {
    // zlib counts in 32-bit uInt: feed very large inputs in slices.
    const std::size_t slice =
        std::min<std::size_t>(data.size() - offset, std::numeric_limits<uInt>::max());
    zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data() + offset));
    zs.avail_in = static_cast<uInt>(slice);
    const int flush = offset + slice == data.size() ? Z_FINISH : Z_NO_FLUSH;
    do {
      zs.next_out = reinterpret_cast<Bytef*>(chunk.get());
      zs.avail_out = kChunk;
      rc = deflate(&zs, flush);
      out.append(chunk.get(), kChunk - zs.avail_out);
    } while (zs.avail_out == 0);
    offset += slice;
  } while (rc != Z_STREAM_END && offset < data.size());
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw Error(Errc::internal, "gzip compression failed");
  return out;
}

std::string gzip_decompress(std::string_view compressed, std::size_t max_output) {
  if (compressed.empty()) corrupt("gzip", "empty input");
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) {
    throw Error(Errc::internal, "gzip: cannot initialise the decompressor");
  }
  struct End {
    z_stream* zs;
    ~End() { inflateEnd(zs); }
  } end{&zs};

  std::string out;
  std::unique_ptr<char[]> chunk(new char[kChunk]);
  std::size_t offset = 0;
  bool member_done = false;
  while (true) {
    if (zs.avail_in == 0 && offset < compressed.size()) {
      const std::size_t slice =
          std::min<std::size_t>(compressed.size() - offset, std::numeric_limits<uInt>::max());
      zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data() + offset));
      zs.avail_in = static_cast<uInt>(slice);
      offset += slice;
    }
    zs.next_out = reinterpret_cast<Bytef*>(chunk.get());
    zs.avail_out = kChunk;
    const int rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) {
      corrupt("gzip", zs.msg != nullptr ? zs.msg : "inflate error " + std::to_string(rc));
    }
    append_bounded(out, chunk.get(), kChunk - zs.avail_out, max_output);
    const bool input_left = zs.avail_in > 0 || offset < compressed.size();
    if (rc == Z_STREAM_END) {
      member_done = true;
      if (!input_left) break;
      // Another member follows (RFC 1952 allows several); garbage fails on its header.
      inflateReset(&zs);
      member_done = false;
      continue;
    }
    if (rc == Z_BUF_ERROR && !input_left && zs.avail_out > 0) break;  // no progress possible
  }
  if (!member_done) corrupt("gzip", "truncated stream");
  return out;
}

}  // namespace fieldsync

// --- HTTP content codings ---

namespace fieldsync {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// True unless the parameters hold q=0 (any number of zero decimals): RFC 9110 section 12.4.2.
bool q_allows(std::string_view params) {
  while (!params.empty()) {
    const std::size_t semi = params.find(';');
    std::string_view p = trim(params.substr(0, semi));
    params = semi == std::string_view::npos ? std::string_view{} : params.substr(semi + 1);
    if (p.size() < 2 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=') continue;
    std::string_view v = trim(p.substr(2));
    if (v.empty() || v[0] != '0') return true;  // "1", "1.0"
    for (char c : v.substr(1)) {
      if (c != '.' && c != '0') return true;  // "0.5"
    }
    return false;
  }
  return true;
}

}  // namespace

const char* to_string(ContentCoding coding) noexcept {
  switch (coding) {
    case ContentCoding::zstd: return "zstd";
    case ContentCoding::gzip: return "gzip";
    case ContentCoding::identity: return "identity";
  }
  return "identity";
}

std::optional<ContentCoding> parse_content_encoding(std::string_view header) {
  header = trim(header);
  if (header.empty() || iequals(header, "identity")) return ContentCoding::identity;
  if (iequals(header, "zstd")) return ContentCoding::zstd;
  if (iequals(header, "gzip") || iequals(header, "x-gzip")) return ContentCoding::gzip;
  return std::nullopt;
}

ContentCoding preferred_coding(std::string_view accept_encoding) {
  bool zstd = false, gzip = false, wildcard = false;
  bool zstd_named = false, gzip_named = false;
  while (!accept_encoding.empty()) {
    const std::size_t comma = accept_encoding.find(',');
    std::string_view item = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view{} : accept_encoding.substr(comma + 1);
    const std::size_t semi = item.find(';');
    const std::string_view token = trim(item.substr(0, semi));
    const bool allowed = q_allows(semi == std::string_view::npos ? "" : item.substr(semi + 1));
    if (iequals(token, "zstd")) {
      zstd_named = true;
      zstd = allowed;
    } else if (iequals(token, "gzip") || iequals(token, "x-gzip")) {
      gzip_named = true;
      gzip = allowed;
    } else if (token == "*") {
      wildcard = allowed;
    }
  }
  if (zstd || (wildcard && !zstd_named)) return ContentCoding::zstd;
  if (gzip || (wildcard && !gzip_named)) return ContentCoding::gzip;
  return ContentCoding::identity;
}

std::string encode_body(ContentCoding coding, std::string_view data) {
  switch (coding) {
    case ContentCoding::zstd: return zstd_compress(data);
    case ContentCoding::gzip: return gzip_compress(data);
    case ContentCoding::identity: break;
  }
  return std::string(data);
}

std::string decode_body(ContentCoding coding, std::string_view data, std::size_t max_output) {
  switch (coding) {
    case ContentCoding::zstd: return zstd_decompress(data, max_output);
    case ContentCoding::gzip: return gzip_decompress(data, max_output);
    case ContentCoding::identity: break;
  }
  if (data.size() > max_output) throw DecompressedTooLarge(max_output);
  return std::string(data);
}

}  // namespace fieldsync
