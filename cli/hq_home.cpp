#include "cli/hq_home.hpp"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>

#include "core/error.hpp"
#include "core/replica.hpp"
#include "sync/hq_service.hpp"
#include "sync/transport/tls_identity.hpp"

namespace fieldsync::cli {
namespace {

void write_file(const std::filesystem::path& path, const unsigned char* data, std::size_t size, mode_t mode) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, mode);
  if (fd < 0) throw Error(Errc::storage, "cannot create the file", path.string());
  const bool ok = ::write(fd, data, size) == static_cast<ssize_t>(size) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) throw Error(Errc::storage, "cannot write the file", path.string());
}

void copy_in(const std::filesystem::path& from, const std::filesystem::path& to, std::filesystem::perms perms) {
  std::error_code ec;
  std::filesystem::copy_file(from, to, ec);
  if (ec) throw Error(Errc::invalid_input, "cannot copy " + from.string() + ": " + ec.message(), to.string());
  std::filesystem::permissions(to, perms, ec);
}

void create_signing_key(const std::filesystem::path& home) {
  if (sodium_init() < 0) throw Error(Errc::internal, "libsodium could not start");
  unsigned char public_key[crypto_sign_PUBLICKEYBYTES];
  unsigned char secret_key[crypto_sign_SECRETKEYBYTES];
  crypto_sign_keypair(public_key, secret_key);
  write_file(home / "signing.key", secret_key, sizeof secret_key, 0600);
  write_file(home / "signing.pub", public_key, sizeof public_key, 0644);
  sodium_memzero(secret_key, sizeof secret_key);
}

}  // namespace

HqTlsFiles hq_tls_files(const std::filesystem::path& home) {
  const auto dir = HqService::tls_dir(home);
  return HqTlsFiles{dir / "ca.pem", dir / "server.pem", dir / "server.key"};
}

void init_hq_home(const std::filesystem::path& home, const std::filesystem::path& cert, const std::filesystem::path& key,
                  const std::filesystem::path& ca) {
  if (cert.empty() != key.empty()) throw Error(Errc::invalid_input, "give both --cert and --key, or neither");
  Replica::create(home, "HQ");
  const auto tls = HqService::tls_dir(home);
  std::filesystem::create_directories(tls);
  if (cert.empty()) {
    create_tls_identity(tls);
  } else {
    const HqTlsFiles files = hq_tls_files(home);
    using std::filesystem::perms;
    copy_in(cert, files.server_cert, perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
    copy_in(key, files.server_key, perms::owner_read | perms::owner_write);
    copy_in(ca.empty() ? cert : ca, files.ca_cert, perms::owner_read | perms::owner_write | perms::group_read | perms::others_read);
  }
  create_signing_key(home);
}

std::filesystem::path resolve_hq_home(const std::string& option) {
  if (!option.empty()) return option;
  if (const char* env = std::getenv("FIELDSYNC_HQ_HOME"); env != nullptr && *env != '\0') return env;
  if (const char* user_home = std::getenv("HOME"); user_home != nullptr && *user_home != '\0') {
    return std::filesystem::path(user_home) / ".fieldsync-hq";
  }
  throw Error(Errc::invalid_input, "no HQ home: give --home DIR or set FIELDSYNC_HQ_HOME");
}

}  // namespace fieldsync::cli
