// bench_local_writes: how fast a field laptop writes records locally, against the physical floor.
//
// What it measures, all in one run on one machine and one disk:
//   1. import   — the real `fieldsync --home TMP import activity FILE --json` run as a child
//                 process on N generated activity lines (each with its own time-ordered UUID, as
//                 an import of HQ data has). Wall time from spawn to exit: process start, plugin
//                 load, parsing, validation, normalization, merge bookkeeping and fsync'd commits.
//   2. floor    — the same N rows inserted the way /work/shared/peers/sqlite/raw_insert.c does
//                 (WAL, synchronous=FULL, one transaction, one prepared statement, same table and
//                 index). No local write path can beat it; the target is import ≤ 3× the floor.
//   3. add      — M sequential `fieldsync --home TMP add activity key=value…` runs on the replica
//                 that now holds the N records: what a field officer waits for after pressing
//                 enter (process start, plugin load, one fsync'd commit). Median, p90 and max.
//
// Why a driver and not timed unit tests: the figures depend on the disk, the page cache and the
// build type, so they are printed, not asserted. Only correctness is checked (every line added,
// every add succeeding); the exit status is non-zero when a check fails.
//
// Output: one JSON object per figure on standard output (for scripts), a readable summary on
// standard error. Usage: bench_local_writes [--records N] [--adds M] [--keep]
#include <spawn.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench_temp_dir.hpp"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr double kTargetRatio = 3.0;  // import must stay within 3× the raw SQLite floor
constexpr long kMaxRecords = 10'000'000;
constexpr long kMaxAdds = 10'000;

struct Options {
  long records = 100'000;
  long adds = 30;
  bool keep = false;
};

[[noreturn]] void usage_error(const std::string& message) {
  std::cerr << "bench_local_writes: " << message << "\n"
            << "usage: bench_local_writes [--records N] [--adds M] [--keep]\n";
  std::exit(2);
}

long parse_count(const char* text, long max, const char* option) {
  char* end = nullptr;
  const long value = std::strtol(text, &end, 10);
  if (end == text || *end != '\0' || value < 1 || value > max) {
    usage_error(std::string(option) + " takes a whole number from 1 to " + std::to_string(max));
  }
  return value;
}

Options parse_options(int argc, char** argv) {
  Options options;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const bool has_value = i + 1 < argc;
    if (arg == "--records" && has_value) {
      options.records = parse_count(argv[++i], kMaxRecords, "--records");
    } else if (arg == "--adds" && has_value) {
      options.adds = parse_count(argv[++i], kMaxAdds, "--adds");
    } else if (arg == "--keep") {
      options.keep = true;
    } else {
      usage_error("unknown or incomplete option: " + arg);
    }
  }
  return options;
}

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// ---------------------------------------------------------------------------------------------
// Temp folder: bench_temp_dir.hpp.
using fieldsync::bench::TempDir;

// ---------------------------------------------------------------------------------------------
// The records: the same content as raw_insert.c's doc, plus "language": "ar".

// A UUIDv7-shaped id, time-ordered by i (48-bit ms, 12-bit sequence in rand_a, a fixed-seed
// pseudo-random rand_b), so consecutive rows append to the primary-key B-tree as real ids do.
std::string time_ordered_uuid(std::uint64_t base_millis, long i) {
  const auto n = static_cast<std::uint64_t>(i);
  const std::uint64_t millis = base_millis + n / 4096;
  std::uint64_t mix = (n + 1) * 0x9E3779B97F4A7C15ull;  // splitmix-style scramble
  mix ^= mix >> 31;
  char id[64];
  std::snprintf(id, sizeof id, "%08llx-%04llx-7%03llx-%04llx-%012llx",
                static_cast<unsigned long long>((millis >> 16) & 0xffffffff), static_cast<unsigned long long>(millis & 0xffff),
                static_cast<unsigned long long>(n % 4096),
                static_cast<unsigned long long>(0x8000 | ((mix >> 48) & 0x3fff)),
                static_cast<unsigned long long>(mix & 0xffffffffffffull));
  return id;
}

std::string activity_fields_json(long i) {
  char doc[1024];
  const long area = 1 + i % 18;
  std::snprintf(doc, sizeof doc,
                "{\"title\":\"ورشة عمل حول الأمن الغذائي — workshop %ld\",\"priority_area\":%ld,\"goal\":\"2.%ld.1\","
                "\"kind\":\"workshop\",\"status\":\"implemented\",\"start_date\":\"2018-03-08\",\"place\":\"Niamey\","
                "\"participants\":%ld,\"institutions\":[\"SESRIC\",\"ISESCO\"],"
                "\"description\":\"نظم سيسرك بالتعاون مع الإيسيسكو ورشة عمل إقليمية حول التقنيات المبتكرة في قطاع "
                "المياه لتحقيق الهدف السادس من أهداف التنمية المستدامة. #%ld\",\"language\":\"ar\"}",
                i, area, area, 20 + i % 50, i);
  return doc;
}

std::uint64_t unix_millis_now() {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

void write_activity_file(const fs::path& file, long records, std::uint64_t base_millis) {
  std::ofstream out(file, std::ios::binary);
  for (long i = 0; i < records; ++i) {
    out << "{\"id\": \"" << time_ordered_uuid(base_millis, i) << "\", \"fields\": " << activity_fields_json(i)
        << "}\n";
  }
  if (!out.flush()) throw std::runtime_error("cannot write " + file.string());
}

// ---------------------------------------------------------------------------------------------
// Child processes: posix_spawn, standard output captured, wait for exit.

struct ChildResult {
  int exit_status = -1;
  std::string out;
  double seconds = 0;
};

std::string read_all(int fd) {
  std::string out;
  std::array<char, 65536> buffer{};
  for (;;) {
    const ssize_t got = read(fd, buffer.data(), buffer.size());
    if (got > 0) {
      out.append(buffer.data(), static_cast<std::size_t>(got));
    } else if (got == 0 || errno != EINTR) {
      return out;
    }
  }
}

ChildResult run_child(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const auto& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[1]);

  ChildResult result;
  const auto start = Clock::now();
  pid_t pid = -1;
  const int spawn_error = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  if (spawn_error != 0) {
    close(pipe_fds[0]);
    throw std::runtime_error("cannot start " + args[0] + ": " + std::strerror(spawn_error));
  }
  result.out = read_all(pipe_fds[0]);
  close(pipe_fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  result.seconds = seconds_since(start);
  result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

ChildResult run_fieldsync(const fs::path& home, std::vector<std::string> command) {
  std::vector<std::string> args = {FIELDSYNC_BIN, "--home", home.string()};
  args.insert(args.end(), command.begin(), command.end());
  ChildResult result = run_child(args);
  if (result.exit_status != 0) {
    throw std::runtime_error("fieldsync " + command.front() + " exited with " + std::to_string(result.exit_status) +
                             ": " + result.out);
  }
  return result;
}

// ---------------------------------------------------------------------------------------------
// 1. import

struct ImportFigure {
  double seconds = 0;           // wall time of the child process
  double reported_seconds = 0;  // the import's own timer (no process start or plugin load)
  long added = 0;
};

ImportFigure measure_import(const fs::path& home, const fs::path& file) {
  run_fieldsync(home, {"init", "--office", "NER"});
  const ChildResult run = run_fieldsync(home, {"--json", "import", "activity", file.string()});
  const auto summary = nlohmann::json::parse(run.out);
  return ImportFigure{run.seconds, summary.at("seconds").get<double>(), summary.at("added").get<long>()};
}

// ---------------------------------------------------------------------------------------------
// 2. The raw SQLite floor, as raw_insert.c: same pragmas, table, index, one transaction.

void exec_sql(sqlite3* db, const char* sql) {
  char* error = nullptr;
  if (sqlite3_exec(db, sql, nullptr, nullptr, &error) != SQLITE_OK) {
    const std::string message = error ? error : "unknown error";
    sqlite3_free(error);
    throw std::runtime_error(std::string("sqlite: ") + message + " in: " + sql);
  }
}

// Inserts the rows and returns the seconds of BEGIN…COMMIT (what raw_insert.c times).
double insert_raw_rows(sqlite3* db, long records, std::uint64_t base_millis) {
  static const char* const kOffices[] = {"NER", "AFG", "SOM", "PSE"};
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_prepare_v2(db, "INSERT INTO records VALUES(?,?,?,?,?)", -1, &insert, nullptr) != SQLITE_OK) {
    throw std::runtime_error(std::string("sqlite: ") + sqlite3_errmsg(db));
  }
  const auto start = Clock::now();
  exec_sql(db, "BEGIN");
  for (long i = 0; i < records; ++i) {
    const std::string id = time_ordered_uuid(base_millis, i);
    const std::string doc = activity_fields_json(i);
    sqlite3_bind_text(insert, 1, id.c_str(), -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 2, "activity", -1, SQLITE_STATIC);
    sqlite3_bind_text(insert, 3, kOffices[i % 4], -1, SQLITE_STATIC);
    sqlite3_bind_int64(insert, 4, i);
    sqlite3_bind_text(insert, 5, doc.c_str(), -1, SQLITE_STATIC);
    if (sqlite3_step(insert) != SQLITE_DONE) {
      const std::string message = sqlite3_errmsg(db);
      sqlite3_finalize(insert);
      throw std::runtime_error("sqlite insert: " + message);
    }
    sqlite3_reset(insert);
  }
  exec_sql(db, "COMMIT");
  const double seconds = seconds_since(start);
  sqlite3_finalize(insert);
  return seconds;
}

double measure_raw_floor(const fs::path& file, long records, std::uint64_t base_millis) {
  sqlite3* db = nullptr;
  if (sqlite3_open(file.c_str(), &db) != SQLITE_OK) {
    sqlite3_close(db);
    throw std::runtime_error("cannot open " + file.string());
  }
  try {
    exec_sql(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;");
    exec_sql(db,
             "CREATE TABLE records(id TEXT PRIMARY KEY, type TEXT, office TEXT, hlc INTEGER, doc TEXT);"
             "CREATE INDEX records_office ON records(office, type);");
    const double seconds = insert_raw_rows(db, records, base_millis);
    sqlite3_close(db);
    return seconds;
  } catch (...) {
    sqlite3_close(db);
    throw;
  }
}

// ---------------------------------------------------------------------------------------------
// 3. Latency of one `fieldsync add`.

struct Latency {
  double median_ms = 0;
  double p90_ms = 0;
  double max_ms = 0;
};

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double fraction) {
  const auto rank = static_cast<std::size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  return sorted[std::clamp<std::size_t>(rank, 1, sorted.size()) - 1];
}

std::vector<std::string> add_command(long i) {
  const long area = 1 + i % 18;
  return {"add",
          "activity",
          "title=ورشة عمل حول الأمن الغذائي — added by hand " + std::to_string(i),
          "priority_area=" + std::to_string(area),
          "goal=2." + std::to_string(area) + ".1",
          "kind=workshop",
          "status=implemented",
          "start_date=2018-03-08",
          "place=Niamey",
          "participants=" + std::to_string(20 + i % 50),
          "institutions=SESRIC,ISESCO",
          "language=ar"};
}

Latency measure_adds(const fs::path& home, long adds) {
  std::vector<double> millis;
  for (long i = 0; i < adds; ++i) millis.push_back(run_fieldsync(home, add_command(i)).seconds * 1000.0);
  std::sort(millis.begin(), millis.end());
  return Latency{percentile(millis, 0.5), percentile(millis, 0.9), millis.back()};
}

// ---------------------------------------------------------------------------------------------
// Report

double round_to_tenth(double value) { return std::round(value * 10) / 10; }

void print_figure(const nlohmann::json& figure) { std::cout << figure.dump() << std::endl; }

int run(const Options& options) {
  TempDir temp("bench_local_writes", options.keep);
  const fs::path jsonl = temp.path() / "activities.jsonl";
  const fs::path home = temp.path() / "home";
  const std::uint64_t base_millis = unix_millis_now();
  const long n = options.records;
  const auto as_double = [](long v) { return static_cast<double>(v); };

  std::cerr << "generating " << n << " activity lines in " << jsonl.string() << " …\n";
  write_activity_file(jsonl, n, base_millis);
  const auto file_bytes = fs::file_size(jsonl);

  std::cerr << "raw SQLite floor …\n";
  const double raw_seconds = measure_raw_floor(temp.path() / "raw.db", n, base_millis);
  const double raw_rate = as_double(n) / raw_seconds;
  print_figure({{"figure", "raw_sqlite_floor"}, {"rows", n}, {"synchronous", "FULL"}, {"seconds", raw_seconds},
                {"rows_per_s", std::round(raw_rate)}});

  std::cerr << "fieldsync import …\n";
  const ImportFigure import = measure_import(home, jsonl);
  const double import_rate = as_double(n) / import.seconds;
  print_figure({{"figure", "import"}, {"records", n}, {"file_bytes", file_bytes}, {"added", import.added},
                {"seconds", import.seconds}, {"reported_seconds", import.reported_seconds},
                {"records_per_s", std::round(import_rate)}});
  if (import.added != n) {
    std::cerr << "FAIL: import added " << import.added << " of " << n << " records\n";
    return 1;
  }

  const double ratio = raw_rate / import_rate;
  print_figure({{"figure", "import_vs_raw"}, {"ratio", std::round(ratio * 100) / 100}, {"target_max", kTargetRatio},
                {"within_target", ratio <= kTargetRatio}});

  std::cerr << options.adds << " × fieldsync add on a replica of " << n << " records …\n";
  const Latency add = measure_adds(home, options.adds);
  print_figure({{"figure", "add_latency"}, {"adds", options.adds}, {"replica_records", n},
                {"median_ms", round_to_tenth(add.median_ms)}, {"p90_ms", round_to_tenth(add.p90_ms)},
                {"max_ms", round_to_tenth(add.max_ms)}});

  std::fprintf(stderr,
               "\nLocal writes, %ld activity records (%.1f MB of JSONL), Release build:\n"
               "  raw SQLite floor   %10.0f rows/s     (%.2f s, WAL, synchronous=FULL, one transaction)\n"
               "  fieldsync import   %10.0f records/s  (%.2f s wall, %.2f s inside the import)\n"
               "  ratio raw/import   %10.2f            (target ≤ %.0f: %s)\n"
               "  fieldsync add      median %.1f ms, p90 %.1f ms, max %.1f ms over %ld runs\n",
               n, as_double(static_cast<long>(file_bytes)) / 1e6, raw_rate, raw_seconds, import_rate,
               import.seconds, import.reported_seconds, ratio, kTargetRatio, ratio <= kTargetRatio ? "met" : "MISSED",
               add.median_ms, add.p90_ms, add.max_ms, options.adds);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  try {
    return run(options);
  } catch (const std::exception& e) {
    std::cerr << "bench_local_writes: " << e.what() << "\n";
    return 1;
  }
}
