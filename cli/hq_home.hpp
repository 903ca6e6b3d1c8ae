// An HQ home folder: HQ's replica, its TLS identity, its plugin signing key and its offices.
//
//   replica.db        HQ's replica (office "HQ")
//   offices.json      the offices and the hashes of their tokens
//   tls/              ca.pem (what devices pin), server.pem, server.key (0600)
//   signing.key/.pub  Ed25519 key pair that signs plugin bundles (secret 0600)
#pragma once

#include <filesystem>
#include <string>

namespace fieldsync::cli {

struct HqTlsFiles {
  std::filesystem::path ca_cert;      // what a device pins
  std::filesystem::path server_cert;
  std::filesystem::path server_key;
};

// Sets up a new HQ home. Without `cert`/`key`, generates a CA and a server certificate for
// 127.0.0.1, ::1 and localhost; with them, copies them in (then `ca` is the certificate devices
// pin, the server certificate itself when it is self-signed).
void init_hq_home(const std::filesystem::path& home, const std::filesystem::path& cert, const std::filesystem::path& key,
                  const std::filesystem::path& ca);

HqTlsFiles hq_tls_files(const std::filesystem::path& home);

// The HQ home from --home, else $FIELDSYNC_HQ_HOME, else ~/.fieldsync-hq.
std::filesystem::path resolve_hq_home(const std::string& option);

}  // namespace fieldsync::cli
