// Fuzz target: the body decoders of sync/transport/compression (zstd and gzip), as HQ and the sync client
// use them on bytes from the network.
//
// Input: two bytes choosing the output bound (1 … 65,536 × 16 bytes), then the compressed bytes.
// Asserts: decoding either refuses with Error(invalid_input) (DecompressedTooLarge when over the
// bound) or returns at most the bound — never a crash, a hang, a bigger output or another error;
// and compress() of the same bytes decodes back to exactly them, within a bound equal to their
// size and refused (DecompressedTooLarge) one byte below it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "sync/transport/compression.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

using fieldsync::ContentCoding;

void decode_bounded(ContentCoding coding, std::string_view data, std::size_t bound) {
  try {
    const std::string out = fieldsync::decode_body(coding, data, bound);
    FUZZ_CHECK(out.size() <= bound, std::string(fieldsync::to_string(coding)) + " output of " +
                                        std::to_string(out.size()) + " bytes passes the bound " +
                                        std::to_string(bound));
  } catch (const fieldsync::Error& e) {
    FUZZ_CHECK(e.code() == fieldsync::Errc::invalid_input,
               std::string(fieldsync::to_string(coding)) + ": unexpected error " + e.what());
  }
}

void round_trip(ContentCoding coding, std::string_view data) {
  const std::string packed = fieldsync::encode_body(coding, data);
  const std::string unpacked = fieldsync::decode_body(coding, packed, data.size());
  FUZZ_CHECK(unpacked == data, std::string(fieldsync::to_string(coding)) + " round trip changed the bytes");
  if (data.empty()) return;
  bool refused = false;
  try {
    fieldsync::decode_body(coding, packed, data.size() - 1);
  } catch (const fieldsync::DecompressedTooLarge&) {
    refused = true;
  }
  FUZZ_CHECK(refused, std::string(fieldsync::to_string(coding)) + " decoded past a bound one byte too small");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t bound = (std::size_t{bytes[0]} << 8 | bytes[1]) * 16 + 1;
  const std::string_view data(reinterpret_cast<const char*>(bytes) + 2, size - 2);
  decode_bounded(ContentCoding::zstd, data, bound);
  decode_bounded(ContentCoding::gzip, data, bound);
  decode_bounded(ContentCoding::identity, data, bound);
  round_trip(ContentCoding::zstd, data);
  round_trip(ContentCoding::gzip, data);
  // The header parsers see client text too.
  (void)fieldsync::parse_content_encoding(data);
  (void)fieldsync::preferred_coding(data);
  return 0;
}
