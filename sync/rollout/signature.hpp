// Ed25519 signatures (libsodium) over HQ's plugin documents — a bundle's manifest, the catalogue of
// what is published — and the SHA-256 that ties a manifest to its library.
//
// A signature covers a purpose line and the document's exact bytes ("fieldsync-plugin-manifest\n"
// + text), so a manifest's signature never passes for a catalogue's, and a verifier checks the
// bytes it received, never a re-serialization of them.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace fieldsync::rollout {

inline constexpr std::string_view kManifestPurpose = "fieldsync-plugin-manifest";
inline constexpr std::string_view kCataloguePurpose = "fieldsync-plugin-catalogue";

// A public key: 32 raw bytes, as HQ's signing.pub holds it.
struct PublicKey {
  std::string bytes;
  // The first 16 hex digits of the key's SHA-256: what a person compares, and what a signed
  // document names as its key ("signed by key 3f2a…").
  std::string id() const;
};

// Reads a public key file (32 bytes) or secret key file (64 bytes); Error(invalid_input) naming
// the file when it is not one.
PublicKey read_public_key(const std::filesystem::path& file);

// The base64 (standard, padded) Ed25519 signature of `purpose` + "\n" + `text` by the secret key in
// `secret_key_file` (HQ's signing.key, 0600).
std::string sign_document(const std::filesystem::path& secret_key_file, std::string_view purpose, std::string_view text);

// Throws Error(plugin) "<what>: …" unless `signature` (base64) is `key`'s signature of `purpose` +
// "\n" + `text`: a signature that is not base64 of the right length, or that does not verify —
// altered bytes, or another key's.
void verify_document(const PublicKey& key, std::string_view purpose, std::string_view text, std::string_view signature,
                     const std::string& what);

// Lower-case hex SHA-256 of `bytes`.
std::string sha256_hex(std::string_view bytes);

// Base64 (standard, padded) both ways; from_base64 throws Error(invalid_input) "<what> is not base64".
std::string to_base64(std::string_view bytes);
std::string from_base64(std::string_view text, const std::string& what);

}  // namespace fieldsync::rollout
