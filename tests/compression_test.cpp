// zstd and gzip bodies: round trips, bounded decompression (bombs), corrupt input, HTTP codings.
#include "sync/transport/compression.hpp"

#include <gtest/gtest.h>

#include <random>

namespace fieldsync {
namespace {

std::string sample(std::size_t n) {
  std::mt19937 rng(42);
  std::string s;
  while (s.size() < n) s += R"({"id":")" + std::to_string(rng()) + R"(","title":"Atelier à Niamey"})";
  s.resize(n);
  return s;
}

struct Codec {
  const char* name;
  std::string (*compress)(std::string_view);
  std::string (*decompress)(std::string_view, std::size_t);
};

void PrintTo(const Codec& c, std::ostream* os) { *os << c.name; }

class CodecTest : public ::testing::TestWithParam<Codec> {};

TEST_P(CodecTest, RoundTrips) {
  const Codec c = GetParam();
  for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{1000}, std::size_t{300000}}) {
    const std::string data = sample(n);
    const std::string packed = c.compress(data);
    EXPECT_EQ(c.decompress(packed, n), data) << n;
  }
  const std::string big = sample(300000);
  EXPECT_LT(c.compress(big).size(), big.size() / 2);
}

TEST_P(CodecTest, BombStopsAtTheBound) {
  const Codec c = GetParam();
  const std::string bomb = c.compress(std::string(64 * 1024 * 1024, '\0'));
  EXPECT_LT(bomb.size(), 256u * 1024);
  try {
    c.decompress(bomb, 1024 * 1024);
    FAIL() << "a bomb decompressed";
  } catch (const DecompressedTooLarge& e) {
    EXPECT_EQ(e.code(), Errc::invalid_input);
    EXPECT_EQ(e.max_output(), 1024u * 1024);
  }
  // One byte over the bound is refused; exactly the bound is fine.
  const std::string data = sample(5000);
  EXPECT_THROW(c.decompress(c.compress(data), 4999), DecompressedTooLarge);
  EXPECT_EQ(c.decompress(c.compress(data), 5000), data);
}

TEST_P(CodecTest, CorruptTruncatedOrEmptyInputIsInvalidInput) {
  const Codec c = GetParam();
  const std::string packed = c.compress(sample(20000));
  std::string truncated = packed.substr(0, packed.size() / 2);
  std::string flipped = packed;
  flipped[flipped.size() / 2] ^= 0x5a;
  flipped[flipped.size() / 2 + 1] ^= 0x5a;
  std::string trailing = packed + "garbage!";
  for (const std::string& bad : {truncated, flipped, trailing, std::string(), std::string("hello")}) {
    try {
      c.decompress(bad, 1 << 20);
      ADD_FAILURE() << c.name << " accepted corrupt input of " << bad.size() << " bytes";
    } catch (const DecompressedTooLarge&) {
      ADD_FAILURE() << "corrupt input reported as too large";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::invalid_input);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Codecs, CodecTest,
                         ::testing::Values(Codec{"zstd", zstd_compress, zstd_decompress},
                                           Codec{"gzip", gzip_compress, gzip_decompress}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ContentCoding, ConcatenatedFramesAndMembers) {
  EXPECT_EQ(zstd_decompress(zstd_compress("ab") + zstd_compress("cd"), 10), "abcd");
  EXPECT_EQ(gzip_decompress(gzip_compress("ab") + gzip_compress("cd"), 10), "abcd");
}

TEST(ContentCoding, ParsesContentEncoding) {
  EXPECT_EQ(parse_content_encoding(""), ContentCoding::identity);
  EXPECT_EQ(parse_content_encoding("identity"), ContentCoding::identity);
  EXPECT_EQ(parse_content_encoding(" ZSTD "), ContentCoding::zstd);
  EXPECT_EQ(parse_content_encoding("gzip"), ContentCoding::gzip);
  EXPECT_EQ(parse_content_encoding("x-gzip"), ContentCoding::gzip);
  EXPECT_FALSE(parse_content_encoding("br"));
  EXPECT_FALSE(parse_content_encoding("gzip, zstd"));
}

TEST(ContentCoding, PrefersZstdThenGzipHonouringQ) {
  EXPECT_EQ(preferred_coding(""), ContentCoding::identity);
  EXPECT_EQ(preferred_coding("zstd"), ContentCoding::zstd);
  EXPECT_EQ(preferred_coding("deflate, gzip, br, zstd"), ContentCoding::zstd);
  EXPECT_EQ(preferred_coding("gzip;q=0.8, br"), ContentCoding::gzip);
  EXPECT_EQ(preferred_coding("zstd;q=0, gzip"), ContentCoding::gzip);
  EXPECT_EQ(preferred_coding("zstd;q=0.000, gzip;q=0"), ContentCoding::identity);
  EXPECT_EQ(preferred_coding("zstd; q=0.5"), ContentCoding::zstd);
  EXPECT_EQ(preferred_coding("*"), ContentCoding::zstd);
  EXPECT_EQ(preferred_coding("zstd;q=0, *"), ContentCoding::gzip);
  EXPECT_EQ(preferred_coding("identity"), ContentCoding::identity);
}

TEST(ContentCoding, EncodeDecodeBody) {
  const std::string data = sample(4000);
  for (auto c : {ContentCoding::identity, ContentCoding::zstd, ContentCoding::gzip}) {
    EXPECT_EQ(decode_body(c, encode_body(c, data), data.size()), data) << to_string(c);
  }
  EXPECT_THROW(decode_body(ContentCoding::identity, data, data.size() - 1), DecompressedTooLarge);
}

}  // namespace
}  // namespace fieldsync
