// SpawnedProcess: a child process a test can watch while it runs and kill at a moment of its
// choosing — "is it still running?" without blocking, which ChildProcess (tests/child_process.hpp)
// does not offer. Standard output and error go to files (no pipe to keep drained), standard input
// is /dev/null. The child is always killed and reaped by the destructor, and kill() only ever
// signals a child that has not been reaped yet, so its pid cannot have been reused.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "../child_process.hpp"
#include "../test_support.hpp"

namespace fieldsync::testing {

class SpawnedProcess {
 public:
  SpawnedProcess(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                 std::filesystem::path out_file, std::filesystem::path err_file)
      : out_file_(std::move(out_file)), err_file_(std::move(err_file)) {
    std::vector<std::string> env_strings;
    static const std::set<std::string> proxies = {"http_proxy", "https_proxy", "all_proxy",
                                                  "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"};
    for (char** e = environ; *e != nullptr; ++e) {
      const std::string entry = *e;
      const std::string key = entry.substr(0, entry.find('='));
      // Loopback only: never through a proxy the environment may name.
      if (env.count(key) == 0 && proxies.count(key) == 0) env_strings.push_back(entry);
    }
    for (const auto& [key, value] : env) env_strings.push_back(key + "=" + value);
    // Everything the child needs is built before fork(): between fork and exec only
    // async-signal-safe calls (another test thread may hold the allocator's lock).
    std::vector<char*> args, envp;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    for (const auto& e : env_strings) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
    const int out = open(out_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    const int err = open(err_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in < 0 || out < 0 || err < 0) throw std::runtime_error("cannot open the child's files");
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in, 0);  // dup2 clears O_CLOEXEC on the copies
      dup2(out, 1);
      dup2(err, 2);
      execve(args[0], args.data(), envp.data());
      _exit(127);
    }
    close(in);
    close(out);
    close(err);
    if (pid_ < 0) throw std::runtime_error("fork failed");
    started_ = std::chrono::steady_clock::now();
  }

  ~SpawnedProcess() {
    if (!reaped_) {
      ::kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  SpawnedProcess(const SpawnedProcess&) = delete;
  SpawnedProcess& operator=(const SpawnedProcess&) = delete;

  // False once the child has ended (it is reaped then).
  bool running() {
    if (reaped_) return false;
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) != pid_) return true;
    reap(status);
    return false;
  }

  // Signals the child if it has not been reaped; true if the signal was sent. A child that has
  // exited but not been reaped is a zombie: the signal does nothing and wait() reports its exit.
  bool kill(int signal) {
    if (reaped_) return false;
    return ::kill(pid_, signal) == 0;
  }

  // Waits for the end (SIGKILL at the bound, see killed_at_bound()) and returns what it printed.
  RunResult wait(std::chrono::milliseconds bound) {
    const auto deadline = std::chrono::steady_clock::now() + bound;
    while (running()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        killed_at_bound_ = true;
        int status = 0;
        waitpid(pid_, &status, 0);
        reap(status);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    RunResult result;
    result.exit_code = exit_code_;
    result.out = read_file(out_file_);
    result.err = read_file(err_file_);
    return result;
  }

  // The child's standard output so far (it may still be writing).
  std::string output_so_far() const { return read_file(out_file_); }
  bool killed_at_bound() const { return killed_at_bound_; }
  int term_signal() const { return term_signal_; }  // the signal that ended it, 0 if it exited
  std::chrono::steady_clock::time_point started() const { return started_; }

 private:
  void reap(int status) {
    reaped_ = true;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    term_signal_ = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  }

  std::filesystem::path out_file_, err_file_;
  pid_t pid_ = -1;
  bool reaped_ = false;
  bool killed_at_bound_ = false;
  int exit_code_ = -1;
  int term_signal_ = 0;
  std::chrono::steady_clock::time_point started_;
};

}  // namespace fieldsync::testing
