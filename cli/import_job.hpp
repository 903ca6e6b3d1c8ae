// ImportJob: a JSON Lines file of records into the replica, in batches of one transaction each.
//
// Each line is {"id": optional UUID, "fields": {…}} (other keys, such as source_line, are
// ignored; a "type" key, if present, must name the type being imported). A record whose id is
// already in the replica is left alone, so an interrupted import can simply be run again. Every
// rejected line goes to the rejects file with its line number and reason; nothing is silently
// dropped. After each committed batch the progress callback learns how far the import is: what
// it reports is on disk.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "core/replica.hpp"

namespace fieldsync::cli {

struct ImportCounts {
  std::int64_t lines = 0;  // non-blank lines read and committed
  std::int64_t added = 0;
  std::int64_t already_present = 0;
  std::int64_t rejected = 0;
  std::uintmax_t bytes_read = 0;
  std::uintmax_t bytes_total = 0;
};

class ImportJob {
 public:
  using Progress = std::function<void(const ImportCounts&)>;

  ImportJob(Replica& replica, std::string type, std::filesystem::path input, std::filesystem::path rejects);

  // Runs the import; throws Error for a file it cannot read or a storage failure (the batches
  // committed before stay committed).
  ImportCounts run(const Progress& on_batch_committed);

  // The rejects file, when any line was rejected.
  const std::filesystem::path& rejects_file() const { return rejects_; }

 private:
  Replica& replica_;
  std::string type_;
  std::filesystem::path input_;
  std::filesystem::path rejects_;
};

// What ImportJob does with one line (`number` counts from 1, `text` without its line end): the
// JSON, its shape, then the type's checks through Replica::prepare. Never throws for bad input:
// the result carries the error. Exposed for the fuzz target tests/fuzz/fuzz_import_line.cpp.
PreparedRecord check_import_line(const Replica& replica, const std::string& type, std::int64_t number,
                                 std::string text);

// The default rejects file: HOME/rejects/<input stem>-<UTC time>.jsonl.
std::filesystem::path default_rejects_file(const std::filesystem::path& home, const std::filesystem::path& input);

}  // namespace fieldsync::cli
