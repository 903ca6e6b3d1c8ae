#include "sync/enrollment.hpp"


#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/atomic_file.hpp"
#include "core/error.hpp"
#include "core/json_input.hpp"
#include "sync/rollout/signature.hpp"

namespace fieldsync {
namespace {

std::filesystem::path hq_file(const std::filesystem::path& home) { return home / "hq.json"; }
std::filesystem::path token_file(const std::filesystem::path& home) { return home / "token"; }
std::filesystem::path ca_copy(const std::filesystem::path& home) { return home / "hq-ca.pem"; }
std::filesystem::path key_copy(const std::filesystem::path& home) { return home / "hq-signing.pub"; }

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::invalid_input, "cannot read the file", path.string());
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

void check_enrollment(const std::string& hq_url, const std::filesystem::path& ca_source, const std::string& token,
                      const std::filesystem::path& signing_key_source) {
  if (hq_url.rfind("https://", 0) != 0) {
    throw Error(Errc::invalid_input, "HQ's address must start with https:// (sync always uses TLS): " + hq_url);
  }
  if (token.size() < 32 || token.find_first_of(" \t\r\n") != std::string::npos) {
    throw Error(Errc::invalid_input, "the token does not look like one issued by `fieldsync-hq office add`");
  }
  if (read_text(ca_source).find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    throw Error(Errc::invalid_input, "not a PEM certificate: give the CA file `fieldsync-hq office add` names", ca_source.string());
  }
  if (!signing_key_source.empty()) rollout::read_public_key(signing_key_source);  // throws for anything else
}

Enrollment save_enrollment(const std::filesystem::path& home, const std::string& hq_url,
                           const std::filesystem::path& ca_source, const std::string& token,
                           const std::filesystem::path& signing_key_source) {
  check_enrollment(hq_url, ca_source, token, signing_key_source);
  const std::string ca = read_text(ca_source);
  write_file_atomically(ca_copy(home), ca, 0644);
  write_file_atomically(token_file(home), token + "\n", 0600);
  nlohmann::json hq = {{"hq_url", hq_url}, {"ca_file", ca_copy(home).filename().string()}};
  std::filesystem::path signing_key;
  if (!signing_key_source.empty()) {
    write_file_atomically(key_copy(home), rollout::read_public_key(signing_key_source).bytes, 0644);
    signing_key = key_copy(home);
    hq["signing_key"] = signing_key.filename().string();
  }
  write_file_atomically(hq_file(home), hq.dump(2) + "\n", 0644);
  return Enrollment{hq_url, ca_copy(home), token, signing_key};
}

std::optional<Enrollment> load_enrollment(const std::filesystem::path& home) {
  if (!std::filesystem::exists(hq_file(home))) return std::nullopt;
  nlohmann::json hq;
  try {
    hq = parse_json_input(read_text(hq_file(home)), hq_file(home).string());
  } catch (const Error& e) {
    throw Error(Errc::storage, std::string("the enrollment file is damaged: ") + e.what(), hq_file(home).string(), e.issues());
  }
  if (!hq.is_object() || !hq.contains("hq_url") || !hq["hq_url"].is_string() ||
      (hq.contains("ca_file") && !hq["ca_file"].is_string()) ||
      (hq.contains("signing_key") && !hq["signing_key"].is_string())) {
    throw Error(Errc::storage, "the enrollment file is damaged", hq_file(home).string());
  }
  std::string token = read_text(token_file(home));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  const std::string signing_key = hq.value("signing_key", "");
  return Enrollment{hq["hq_url"].get<std::string>(), home / hq.value("ca_file", "hq-ca.pem"), token,
                    signing_key.empty() ? std::filesystem::path() : home / signing_key};
}

}  // namespace fieldsync
