// Enrollment: what a field replica keeps to reach HQ — HQ's address, HQ's CA certificate (pinned:
// the only CA trusted for HQ), the office's bearer token (0600, readable by its owner only) and
// HQ's plugin signing key (pinned: the only key whose plugins this laptop installs).
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace fieldsync {

struct Enrollment {
  std::string hq_url;                // https://host:port
  std::filesystem::path ca_file;     // the copy inside the replica home
  std::string token;
  std::filesystem::path signing_key;  // the copy inside the replica home; empty when none is pinned
};

// Copies `ca_source` (and `signing_key_source`, HQ's signing.pub, when given) into `home`, writes
// the token file (0600) and HQ's address. Checks that the URL is https, the CA file holds a PEM
// certificate and the key file an Ed25519 public key. Replaces an earlier enrollment.
Enrollment save_enrollment(const std::filesystem::path& home, const std::string& hq_url,
                           const std::filesystem::path& ca_source, const std::string& token,
                           const std::filesystem::path& signing_key_source = {});

// The checks save_enrollment makes, without writing anything (Error(invalid_input) when one fails).
void check_enrollment(const std::string& hq_url, const std::filesystem::path& ca_source, const std::string& token,
                      const std::filesystem::path& signing_key_source = {});

// The replica's enrollment, or nullopt when it was never enrolled.
std::optional<Enrollment> load_enrollment(const std::filesystem::path& home);

}  // namespace fieldsync
