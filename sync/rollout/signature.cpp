#include "sync/rollout/signature.hpp"

#include <sodium.h>

#include <fstream>
#include <iterator>

#include "core/error.hpp"

namespace fieldsync::rollout {
namespace {

void start_sodium() {
  if (sodium_init() < 0) throw Error(Errc::internal, "libsodium could not start");
}

std::string read_small_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw Error(Errc::invalid_input, "cannot read the key file", file.string());
  std::string bytes;
  char buffer[256];
  in.read(buffer, sizeof buffer);
  bytes.assign(buffer, static_cast<std::size_t>(in.gcount()));
  return bytes;
}

std::string signed_bytes(std::string_view purpose, std::string_view text) {
  std::string message;
  message.reserve(purpose.size() + 1 + text.size());
  message += purpose;
  message += '\n';
  message += text;
  return message;
}

std::string hex(const unsigned char* bytes, std::size_t size) {
  std::string out(size * 2 + 1, '\0');
  sodium_bin2hex(out.data(), out.size(), bytes, size);
  out.pop_back();
  return out;
}

}  // namespace

std::string PublicKey::id() const { return sha256_hex(bytes).substr(0, 16); }

PublicKey read_public_key(const std::filesystem::path& file) {
  std::string bytes = read_small_file(file);
  if (bytes.size() == crypto_sign_SECRETKEYBYTES) {
    // libsodium's secret key holds the public key in its second half.
    sodium_memzero(bytes.data(), crypto_sign_SECRETKEYBYTES - crypto_sign_PUBLICKEYBYTES);
    return PublicKey{bytes.substr(crypto_sign_SECRETKEYBYTES - crypto_sign_PUBLICKEYBYTES)};
  }
  if (bytes.size() != crypto_sign_PUBLICKEYBYTES) {
    throw Error(Errc::invalid_input,
                "not an Ed25519 key file (" + std::to_string(bytes.size()) + " bytes; HQ's signing.pub holds 32)",
                file.string());
  }
  return PublicKey{std::move(bytes)};
}

std::string sign_document(const std::filesystem::path& secret_key_file, std::string_view purpose, std::string_view text) {
  start_sodium();
  std::string secret = read_small_file(secret_key_file);
  if (secret.size() != crypto_sign_SECRETKEYBYTES) {
    sodium_memzero(secret.data(), secret.size());
    throw Error(Errc::invalid_input, "not HQ's Ed25519 signing key (64 bytes)", secret_key_file.string());
  }
  const std::string message = signed_bytes(purpose, text);
  unsigned char signature[crypto_sign_BYTES];
  crypto_sign_detached(signature, nullptr, reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       reinterpret_cast<const unsigned char*>(secret.data()));
  sodium_memzero(secret.data(), secret.size());
  return to_base64(std::string_view(reinterpret_cast<const char*>(signature), sizeof signature));
}

void verify_document(const PublicKey& key, std::string_view purpose, std::string_view text, std::string_view signature,
                     const std::string& what) {
  start_sodium();
  if (key.bytes.size() != crypto_sign_PUBLICKEYBYTES) {
    throw Error(Errc::plugin, what + ": no signing key of HQ is pinned to check it against");
  }
  std::string raw;
  try {
    raw = from_base64(signature, "the signature");
  } catch (const Error&) {
    throw Error(Errc::plugin, what + ": its signature is not base64");
  }
  if (raw.size() != crypto_sign_BYTES) throw Error(Errc::plugin, what + ": its signature is not an Ed25519 signature");
  const std::string message = signed_bytes(purpose, text);
  if (crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(raw.data()),
                                  reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                  reinterpret_cast<const unsigned char*>(key.bytes.data())) != 0) {
    throw Error(Errc::plugin, what + ": bad signature — altered, or signed by another key than HQ's pinned key " + key.id());
  }
}

std::string sha256_hex(std::string_view bytes) {
  start_sodium();
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(digest, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  return hex(digest, sizeof digest);
}

std::string to_base64(std::string_view bytes) {
  start_sodium();
  constexpr int kVariant = sodium_base64_VARIANT_ORIGINAL;
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), kVariant), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), kVariant);
  out.pop_back();  // the terminating NUL
  return out;
}

std::string from_base64(std::string_view text, const std::string& what) {
  start_sodium();
  std::string out(text.size() / 4 * 3 + 3, '\0');
  std::size_t size = 0;
  const char* end = nullptr;
  if (sodium_base642bin(reinterpret_cast<unsigned char*>(out.data()), out.size(), text.data(), text.size(), nullptr, &size,
                        &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size()) {
    throw Error(Errc::invalid_input, what + " is not base64");
  }
  out.resize(size);
  return out;
}

}  // namespace fieldsync::rollout
