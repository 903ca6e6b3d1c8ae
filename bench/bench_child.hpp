// BenchChild: one child process of a benchmark driver, bounded in time, with what the kernel
// knows about it at exit.
//
// Why not tests/child_process.hpp: a benchmark needs the child's peak RSS (wait4's rusage, which
// waitpid drops), wall time measured from spawn to reap, and standard output sent to a file for
// long-lived children (`fieldsync-hq serve`) whose logs nobody reads while the bench runs (a pipe
// left unread fills at 64 KiB and blocks the child).
//
// What it promises: the child runs with the bench's environment minus any HTTP proxy variable
// (bench traffic goes to 127.0.0.1 only); standard input is /dev/null; every wait has a deadline,
// after which the child is killed with SIGKILL, reaped, and the wait throws. A child still
// running when its BenchChild is destroyed is killed and reaped. Not thread-safe: one thread owns
// a BenchChild.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace fieldsync::bench {

using Clock = std::chrono::steady_clock;

struct ChildExit {
  int status = -1;         // exit code, or 128 + signal number when a signal ended it
  std::string out, err;    // what it wrote (empty for a stream sent to a file)
  double seconds = 0;      // wall time from spawn to reap
  long peak_rss_kb = 0;    // ru_maxrss: the child's own peak resident set
};

class BenchChild {
 public:
  // argv[0] is a path, or a name looked up in PATH. An empty out_file/err_file means a pipe
  // that wait() collects; otherwise the stream goes to that file.
  explicit BenchChild(const std::vector<std::string>& argv, const std::filesystem::path& out_file = {},
                      const std::filesystem::path& err_file = {})
      : name_(argv.at(0)) {
    std::vector<std::string> env_strings;
    static const std::set<std::string> kProxyVariables = {"http_proxy", "https_proxy", "all_proxy",
                                                          "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"};
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      if (kProxyVariables.count(entry.substr(0, entry.find('='))) == 0) env_strings.push_back(entry);
    }
    std::vector<char*> args, envp;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);

    int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
    if ((out_file.empty() && pipe2(out_pipe, O_CLOEXEC) != 0) || (err_file.empty() && pipe2(err_pipe, O_CLOEXEC) != 0)) {
      throw std::runtime_error("pipe failed: " + std::string(std::strerror(errno)));
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    if (out_file.empty()) {
      posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
    } else {
      posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    }
    if (err_file.empty()) {
      posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
    } else {
      posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    }
    started_ = Clock::now();
    const int spawn_error = posix_spawnp(&pid_, args[0], &actions, nullptr, args.data(), envp.data());
    posix_spawn_file_actions_destroy(&actions);
    for (int fd : {out_pipe[1], err_pipe[1]}) {
      if (fd >= 0) close(fd);
    }
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
    if (spawn_error != 0) {
      close_pipes();
      pid_ = -1;
      throw std::runtime_error("cannot start " + name_ + ": " + std::strerror(spawn_error));
    }
  }

  ~BenchChild() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
      }
    }
    close_pipes();
  }
  BenchChild(const BenchChild&) = delete;
  BenchChild& operator=(const BenchChild&) = delete;

  pid_t pid() const { return pid_; }
  void signal(int number) const {
    if (!reaped_) ::kill(pid_, number);
  }

  // True while the child has not exited (it is reaped here if it has: wait() then returns at once).
  bool running() {
    if (reaped_) return false;
    return !try_reap();
  }

  // Collects the piped output until the child exits and closes it, then reaps the child. At the
  // deadline the child is killed and this throws, naming the child and the bound.
  ChildExit wait(Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      const bool pipes_open = out_fd_ >= 0 || err_fd_ >= 0;
      if (!pipes_open && (reaped_ || try_reap())) break;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        if (!reaped_) {
          ::kill(pid_, SIGKILL);
          while (wait4(pid_, nullptr, 0, nullptr) < 0 && errno == EINTR) {
          }
          reaped_ = true;
        }
        throw std::runtime_error(name_ + " did not finish within " +
                                 std::to_string(std::chrono::duration_cast<std::chrono::seconds>(timeout).count()) +
                                 " s: killed");
      }
      if (pipes_open) {
        pump(static_cast<int>(std::min<long>(left.count(), 1000)));
      } else {
        // The child closed its output and is exiting: poll finely so the wall time stays exact
        // to a fraction of a millisecond.
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    result_.out = std::move(out_);
    result_.err = std::move(err_);
    return result_;
  }

 private:
  // Reaps the child if it has exited; false if it still runs.
  bool try_reap() {
    int status = 0;
    rusage usage{};
    const pid_t got = wait4(pid_, &status, WNOHANG, &usage);
    if (got != pid_) return false;
    reaped_ = true;
    result_.seconds = std::chrono::duration<double>(Clock::now() - started_).count();
    result_.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result_.peak_rss_kb = usage.ru_maxrss;  // kilobytes on Linux
    return true;
  }

  void pump(int timeout_ms) {
    pollfd fds[2];
    nfds_t n = 0;
    if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
    if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
    if (poll(fds, n, timeout_ms) <= 0) return;
    for (nfds_t i = 0; i < n; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buffer[65536];
      const ssize_t got = read(fds[i].fd, buffer, sizeof buffer);
      const bool is_out = fds[i].fd == out_fd_;
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {
        close(fds[i].fd);
        (is_out ? out_fd_ : err_fd_) = -1;
      } else {
        (is_out ? out_ : err_).append(buffer, static_cast<std::size_t>(got));
      }
    }
  }

  void close_pipes() {
    for (int* fd : {&out_fd_, &err_fd_}) {
      if (*fd >= 0) close(*fd);
      *fd = -1;
    }
  }

  std::string name_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  Clock::time_point started_;
  int out_fd_ = -1, err_fd_ = -1;
  std::string out_, err_;
  ChildExit result_;
};

// The whole text of a file ("" if it cannot be read).
inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The first complete line of a file a running child writes, waiting for it up to `timeout`;
// nullopt if the child exits first or the time runs out.
inline std::optional<std::string> first_line_of(const std::filesystem::path& file, BenchChild& child,
                                                Clock::duration timeout) {
  const auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    const std::string text = read_text(file);
    if (const auto newline = text.find('\n'); newline != std::string::npos) return text.substr(0, newline);
    if (!child.running()) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

// A "Vm…:" line of /proc/PID/status in kB (VmHWM: peak resident set so far; VmRSS: now), or -1.
inline long proc_status_kb(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::strtol(line.c_str() + key.size() + 1, nullptr, 10);
  }
  return -1;
}

}  // namespace fieldsync::bench

namespace fieldsync::bench {

// Follows a file that a running child appends lines to (its standard output sent to a file),
// one complete line at a time.
class LineTail {
 public:
  explicit LineTail(std::filesystem::path file) : file_(std::move(file)) {}

  // The next complete line, waiting up to `timeout` (the file is looked at every millisecond, so
  // the moment a line is seen is exact to about that); nullopt at the deadline, or once the
  // child has exited and no complete line is left.
  std::optional<std::string> next(BenchChild& child, Clock::duration timeout) {
    const auto deadline = Clock::now() + timeout;
    for (;;) {
      if (const auto newline = pending_.find('\n'); newline != std::string::npos) {
        std::string line = pending_.substr(0, newline);
        pending_.erase(0, newline + 1);
        return line;
      }
      const bool alive = child.running();  // before reading: a last line written at exit is still read
      if (read_more()) continue;
      if (!alive || Clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }

 private:
  // Appends what the file gained since the last look; false if nothing.
  bool read_more() {
    std::ifstream in(file_, std::ios::binary);
    if (!in) return false;
    in.seekg(static_cast<std::streamoff>(offset_));
    std::string chunk((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    offset_ += chunk.size();
    pending_ += chunk;
    return !chunk.empty();
  }

  std::filesystem::path file_;
  std::size_t offset_ = 0;
  std::string pending_;
};

}  // namespace fieldsync::bench
