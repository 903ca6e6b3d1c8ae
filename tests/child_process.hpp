// Runs the real fieldsync binaries from tests: arguments, extra environment, standard input
// from a string, standard output and error captured. Every wait is bounded: a child still running
// at its deadline is killed and the test fails instead of hanging.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

extern char** environ;

namespace fieldsync {

struct RunResult {
  int exit_code = -1;  // -1 when killed by a signal
  std::string out;
  std::string err;
};

class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env = {},
               const std::string& input = {}) {
    // Close-on-exec: a child another thread of the test starts meanwhile must not inherit these
    // ends, or this child's reader would wait for an EOF that child's copy holds back. dup2()
    // below clears the flag on the child's own 0, 1 and 2.
    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) != 0 || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) std::abort();
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string entry = *e;
      const std::string key = entry.substr(0, entry.find('='));
      // Test traffic goes to loopback only: never through a proxy the environment may name.
      static const std::set<std::string> proxies = {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"};
      if (env.count(key) == 0 && proxies.count(key) == 0) env_strings.push_back(entry);
    }
    for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
    // Built before fork(): between fork and exec the child may only make async-signal-safe
    // calls. Allocating there deadlocks when another thread of the test held the allocator's
    // lock at the fork (seen under ASan: a child hung until its 120 s bound).
    std::vector<char*> args, envp;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in_pipe[0], 0);
      dup2(out_pipe[1], 1);
      dup2(err_pipe[1], 2);
      for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) close(fd);
      execve(args[0], args.data(), envp.data());
      _exit(127);
    }
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
    if (!input.empty()) {
      const ssize_t written = write(in_pipe[1], input.data(), input.size());
      (void)written;
    }
    close(in_pipe[1]);
  }

  ~ChildProcess() {
    if (pid_ > 0 && !reaped_) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
    if (err_fd_ >= 0) close(err_fd_);
  }
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The next complete line the child writes on standard error (standard output is collected
  // meanwhile), or nullopt when it closes stderr or the deadline passes.
  std::optional<std::string> next_error_line(std::chrono::milliseconds timeout) {
    return next_line(err_, err_consumed_, err_fd_, timeout);
  }
  // The same for standard output.
  std::optional<std::string> next_output_line(std::chrono::milliseconds timeout) {
    return next_line(out_, out_consumed_, out_fd_, timeout);
  }

  void kill(int signal) { ::kill(pid_, signal); }

  // Waits for the child to end (killing it at the deadline) and returns what it printed.
  RunResult wait(std::chrono::milliseconds timeout = std::chrono::seconds(120)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (out_fd_ >= 0 || err_fd_ >= 0) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        ::kill(pid_, SIGKILL);
        break;
      }
      pump(static_cast<int>(left.count()));
    }
    int status = 0;
    waitpid(pid_, &status, 0);
    reaped_ = true;
    RunResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    result.out = out_;
    result.err = err_;
    return result;
  }

 private:
  std::optional<std::string> next_line(const std::string& buffer, std::size_t& consumed, const int& fd,
                                       std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (auto newline = buffer.find('\n', consumed); newline != std::string::npos) {
        std::string line = buffer.substr(consumed, newline - consumed);
        consumed = newline + 1;
        return line;
      }
      if (fd < 0) return std::nullopt;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pump(static_cast<int>(left.count()));
    }
  }

  // Reads whatever is ready; false when nothing came within `timeout_ms`.
  bool pump(int timeout_ms) {
    pollfd fds[2];
    int n = 0;
    if (out_fd_ >= 0) fds[n++] = {out_fd_, POLLIN, 0};
    if (err_fd_ >= 0) fds[n++] = {err_fd_, POLLIN, 0};
    if (n == 0) return false;
    if (poll(fds, static_cast<nfds_t>(n), timeout_ms) <= 0) return false;
    for (int i = 0; i < n; ++i) {
      if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
      char buffer[65536];
      const ssize_t got = read(fds[i].fd, buffer, sizeof buffer);
      const bool is_out = fds[i].fd == out_fd_;
      if (got <= 0) {
        close(fds[i].fd);
        (is_out ? out_fd_ : err_fd_) = -1;
      } else {
        (is_out ? out_ : err_).append(buffer, static_cast<std::size_t>(got));
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  bool reaped_ = false;
  int out_fd_ = -1;
  int err_fd_ = -1;
  std::string out_, err_;
  std::size_t err_consumed_ = 0;
  std::size_t out_consumed_ = 0;
};

// Runs the fieldsync CLI to completion.
inline RunResult run_fieldsync(const std::vector<std::string>& args, const std::map<std::string, std::string>& env = {},
                               const std::string& input = {}) {
  std::vector<std::string> argv{FIELDSYNC_CLI};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess child(argv, env, input);
  return child.wait();
}

}  // namespace fieldsync
