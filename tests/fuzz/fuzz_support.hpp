// Shared by the fuzz targets (tests/fuzz/fuzz_*.cpp): a failed expectation aborts, which libFuzzer
// reports as a finding (and the regression replay, tests/fuzz_regression_test.cpp, as a failed
// test); a throwaway folder under /dev/shm (tmpfs: SQLite's fsyncs cost nothing) removed at exit.
#pragma once

#include <stdlib.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

// Stops the run with the message: a finding.
#define FUZZ_CHECK(condition, message)                                                              \
  do {                                                                                              \
    if (!(condition)) {                                                                             \
      std::fprintf(stderr, "FUZZ_CHECK failed at %s:%d: %s\n  %s\n", __FILE__, __LINE__, #condition, \
                   std::string(message).c_str());                                                   \
      std::abort();                                                                                 \
    }                                                                                               \
  } while (0)

namespace fieldsync::fuzz {

// A fresh folder, removed when the process exits normally (fuzz targets have no teardown). One
// per process: each target needs a single one.
inline std::filesystem::path scratch_dir(const char* name) {
  static std::filesystem::path made;
  if (!made.empty()) return made;
  const std::filesystem::path base =
      std::filesystem::is_directory("/dev/shm") ? "/dev/shm" : std::filesystem::temp_directory_path();
  std::string pattern = (base / (std::string("fieldsync-fuzz-") + name + "-XXXXXX")).string();
  if (mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  made = pattern;
  std::atexit([] {
    std::error_code ec;
    std::filesystem::remove_all(made, ec);
  });
  return made;
}

// Whether an HTTP error body is {"error": {"code": "...", "message": "...", ...}}.
inline bool is_json_error(const std::string& body) {
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, false);
  return parsed.is_object() && parsed.contains("error") && parsed["error"].is_object() &&
         parsed["error"].contains("code") && parsed["error"]["code"].is_string() &&
         parsed["error"].contains("message") && parsed["error"]["message"].is_string();
}

}  // namespace fieldsync::fuzz
