// HQ's TLS identity: a private certificate authority and the server certificate it signs.
//
// Field clients pin HQ's CA certificate (`ca.pem`) at enrollment and verify the server against it
// (DESIGN "Sync protocol"); nothing depends on the public web PKI. create_tls_identity() makes a
// fresh identity with OpenSSL's C API (no `openssl` command is run):
//
//   ca.pem      self-signed CA certificate: EC P-256, 10 years, CA:TRUE, keyCertSign
//   ca.key      its private key (PKCS#8 PEM, unencrypted, mode 0600)
//   server.pem  server certificate signed by the CA: EC P-256, 2 years, serverAuth, and
//               subjectAltName IP:127.0.0.1, IP:::1, DNS:localhost plus any extra names asked for
//   server.key  its private key (mode 0600)
//
// Every file is written to a temporary name, synced and renamed, so a crash leaves no half file.
// It refuses (Errc::already_exists) to overwrite an existing identity: a new CA would cut off
// every enrolled device. Calling it on two folders gives two unrelated identities (tests use this
// for "a server signed by another CA").
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace fieldsync {

struct TlsIdentityPaths {
  std::filesystem::path ca_cert, ca_key, server_cert, server_key;
};

// Where the four files of an identity in `dir` are.
TlsIdentityPaths tls_identity_paths(const std::filesystem::path& dir);

// Creates `dir` if needed (mode 0700 when new) and the four files in it. `extra_dns_names` and
// `extra_ips` are added to the server certificate's subjectAltName (HQ's real host name, its LAN
// address). Throws Error: already_exists if any of the files exists, invalid_input for a name
// OpenSSL refuses, storage when a file cannot be written.
TlsIdentityPaths create_tls_identity(const std::filesystem::path& dir,
                                     const std::vector<std::string>& extra_dns_names = {},
                                     const std::vector<std::string>& extra_ips = {});

// The SHA-256 fingerprint of the first certificate in a PEM file, as upper-case hex pairs joined
// by ':' (the form `openssl x509 -fingerprint -sha256` prints), for an admin to compare by eye.
std::string certificate_fingerprint_sha256(const std::filesystem::path& pem_file);

}  // namespace fieldsync
