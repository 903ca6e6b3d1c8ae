#include "core/atomic_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.hpp"

namespace fieldsync {
namespace {

[[noreturn]] void fail(const std::filesystem::path& path, const std::string& what) {
  throw Error(Errc::storage, what + ": " + std::strerror(errno), path.string());
}

void sync_folder(const std::filesystem::path& dir) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(dir, "cannot open the folder");
  const int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) fail(dir, "cannot sync the folder");
}

}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes, mode_t mode) {
  const std::string temp = path.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) fail(temp, "cannot create the file");
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      ::close(fd);
      ::unlink(temp.c_str());
      fail(temp, "cannot write the file");
    }
    done += static_cast<std::size_t>(n);
  }
  // The umask may have narrowed `mode`; a token or a key must be exactly 0600.
  if (::fchmod(fd, mode) != 0 || ::fsync(fd) != 0) {
    ::close(fd);
    ::unlink(temp.c_str());
    fail(temp, "cannot sync the file");
  }
  if (::close(fd) != 0) fail(temp, "cannot close the file");
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    ::unlink(temp.c_str());
    fail(path, "cannot put the file in place");
  }
  sync_folder(path.parent_path());
}

std::string read_whole_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::storage, "cannot read the file", path.string());
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (in.bad()) throw Error(Errc::storage, "cannot read the file", path.string());
  return bytes.str();
}

}  // namespace fieldsync
