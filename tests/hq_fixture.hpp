// A real HQ for tests: `fieldsync-hq init` in a temp folder, offices added, and
// `fieldsync-hq serve` running on 127.0.0.1 (a free port) until the fixture ends (SIGTERM).
#pragma once

#include <gtest/gtest.h>

#include "child_process.hpp"
#include "test_support.hpp"

namespace fieldsync {

inline RunResult run_hq(const std::filesystem::path& home, std::vector<std::string> args) {
  std::vector<std::string> argv{FIELDSYNC_HQ_CLI, "--home", home.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  ChildProcess child(argv);
  return child.wait();
}

class RunningHq {
 public:
  explicit RunningHq(std::filesystem::path home) : home_(std::move(home)) {
    RunResult init = run_hq(home_, {"init", "--json"});
    if (init.exit_code != 0) throw std::runtime_error("fieldsync-hq init failed: " + init.err);
    ca_file_ = nlohmann::json::parse(init.out)["ca_file"].get<std::string>();
  }
  ~RunningHq() { stop(); }

  // Issues a token for `office`.
  std::string add_office(const std::string& office) {
    RunResult r = run_hq(home_, {"office", "add", office, "--json"});
    if (r.exit_code != 0) throw std::runtime_error("office add failed: " + r.err);
    return nlohmann::json::parse(r.out)["token"].get<std::string>();
  }

  void start() {
    server_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{FIELDSYNC_HQ_CLI, "--home", home_.string(), "serve", "--listen", "127.0.0.1:0", "--json"});
    auto line = server_->next_output_line(std::chrono::seconds(30));
    if (!line) throw std::runtime_error("fieldsync-hq serve did not start");
    url_ = nlohmann::json::parse(*line)["listening"].get<std::string>();
  }

  // SIGTERM, as an admin's service manager would; returns the server's exit code.
  int stop() {
    if (!server_) return 0;
    server_->kill(SIGTERM);
    const int code = server_->wait(std::chrono::seconds(30)).exit_code;
    server_.reset();
    return code;
  }

  const std::string& url() const { return url_; }
  const std::filesystem::path& ca_file() const { return ca_file_; }
  const std::filesystem::path& home() const { return home_; }
  std::filesystem::path store() const { return home_ / "replica.db"; }

 private:
  std::filesystem::path home_;
  std::filesystem::path ca_file_;
  std::string url_;
  std::unique_ptr<ChildProcess> server_;
};

// A running HQ with two enrolled offices, NER and AFG, in a fresh temp folder.
class HqWithOffices : public ::testing::Test {
 protected:
  void SetUp() override {
    hq_ = std::make_unique<RunningHq>(dir_.path() / "hq");
    ner_token_ = hq_->add_office("NER");
    afg_token_ = hq_->add_office("AFG");
    hq_->start();
  }

  TempDir dir_;
  std::unique_ptr<RunningHq> hq_;
  std::string ner_token_, afg_token_;
};

}  // namespace fieldsync
