// A benchmark's temp folder: removed on every exit path unless the run asked to keep it.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>

namespace fieldsync::bench {

class TempDir {
 public:
  // `name` starts the folder's name: "bench_sync" gives /tmp/bench_sync.XXXXXX.
  TempDir(const std::string& name, bool keep) : keep_(keep) {
    std::string pattern = (std::filesystem::temp_directory_path() / (name + ".XXXXXX")).string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("cannot create a temp folder");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    if (keep_) {
      std::cerr << "kept " << path_.string() << "\n";
    } else {
      std::filesystem::remove_all(path_, ec);
    }
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  bool keep_;
};

}  // namespace fieldsync::bench
