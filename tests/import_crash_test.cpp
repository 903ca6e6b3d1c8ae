// A power cut in the middle of an import, played with SIGKILL: the replica must come back
// consistent, keep everything it reported committed, and take the same import again without
// duplicates.
#include <gtest/gtest.h>

#include <regex>

#include "child_process.hpp"
#include "test_support.hpp"

namespace fieldsync {
namespace {

constexpr int kLines = 20'000;

std::string uuid_for(int i) {
  char id[40];
  std::snprintf(id, sizeof id, "0190a1b2-%04x-7000-8000-%012d", i & 0xffff, i);
  return id;
}

std::filesystem::path write_activities(const std::filesystem::path& dir) {
  const auto file = dir / "activities.jsonl";
  std::ofstream out(file);
  for (int i = 0; i < kLines; ++i) {
    nlohmann::json line = {
        {"id", uuid_for(i)},
        {"fields",
         {{"title", "ورشة عمل حول الأمن الغذائي — workshop " + std::to_string(i)},
          {"description", "نظم سيسرك بالتعاون مع الإيسيسكو ورشة عمل إقليمية حول التقنيات المبتكرة في قطاع المياه #" +
                              std::to_string(i)},
          {"priority_area", 1 + i % 18},
          {"goal", "2." + std::to_string(1 + i % 18) + ".1"},
          {"kind", "workshop"},
          {"status", "implemented"},
          {"start_date", "2018-03-08"},
          {"place", "Niamey"},
          {"participants", 20 + i % 50},
          {"institutions", {"ISESCO", "SESRIC"}}}}};
    out << line.dump() << "\n";
  }
  return file;
}

// "progress: committed 3000 lines (…)" -> 3000
std::optional<int> committed_lines(const std::string& line) {
  static const std::regex pattern(R"(^progress: committed (\d+) lines)");
  std::smatch m;
  if (!std::regex_search(line, m, pattern)) return std::nullopt;
  return std::stoi(m[1]);
}

// Starts an import, waits until it reports at least `at_least` committed lines, kills it with
// SIGKILL and returns the last count it reported (0 if it finished first: then nothing to test).
int import_and_kill(const std::filesystem::path& home, const std::filesystem::path& file, int at_least) {
  ChildProcess child({FIELDSYNC_CLI, "--home", home.string(), "import", "activity", file.string(), "--progress"});
  int reported = 0;
  for (int reads = 0; reads < kLines; ++reads) {
    auto line = child.next_error_line(std::chrono::seconds(60));
    if (!line) break;
    if (auto n = committed_lines(*line)) reported = *n;
    if (reported >= at_least) {
      child.kill(SIGKILL);
      break;
    }
  }
  RunResult result = child.wait();
  EXPECT_EQ(result.exit_code, -1) << "the import ended before it could be killed: " << result.err;
  return reported;
}

void expect_consistent(const std::filesystem::path& db, int reported) {
  EXPECT_EQ(query_count(db, "SELECT count(*) FROM pragma_integrity_check WHERE integrity_check = 'ok'"), 1);
  const long long records = query_count(db, "SELECT count(*) FROM records");
  EXPECT_GE(records, reported) << "a record reported committed is missing";
  EXPECT_LE(records, kLines);
  // Never synced: exactly one outbox entry per record, each a whole new record; nothing edited,
  // so no history rows beyond the creations the records carry themselves.
  EXPECT_EQ(query_count(db, "SELECT count(*) FROM outbox"), records);
  EXPECT_EQ(query_count(db, "SELECT count(*) FROM outbox WHERE fields IS NULL"), records);
  EXPECT_EQ(query_count(db, "SELECT count(*) FROM outbox WHERE record_id NOT IN (SELECT id FROM records)"), 0);
  EXPECT_EQ(query_count(db, "SELECT count(*) FROM history"), 0);
  // The lines reported committed are the first `reported` lines of the file.
  for (int i = 0; i < reported; i += 97) {
    EXPECT_EQ(query_count(db, "SELECT count(*) FROM records WHERE id = '" + uuid_for(i) + "'"), 1) << "line " << i + 1;
  }
  if (reported > 0) {
    EXPECT_EQ(query_count(db, "SELECT count(*) FROM records WHERE id = '" + uuid_for(reported - 1) + "'"), 1);
  }
  // The persisted clock is ahead of every version stamped with it.
  EXPECT_EQ(query_count(db, "SELECT (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'clock') >= "
                            "(SELECT coalesce(max(updated_hlc), 0) FROM records)"),
            1);
}

TEST(ImportCrash, SigkillMidImportLeavesAConsistentReplicaAndTheImportResumes) {
  TempDir dir;
  const auto home = dir.path() / "home";
  const auto db = home / "replica.db";
  const auto file = write_activities(dir.path());
  RunResult init = run_fieldsync({"--home", home.string(), "init", "--office", "NER"});
  ASSERT_EQ(init.exit_code, 0) << init.err;

  const int first = import_and_kill(home, file, 2'000);
  ASSERT_GE(first, 2'000);
  expect_consistent(db, first);

  // Killed again later in a resumed run: still consistent, nothing reported is lost.
  const int second = import_and_kill(home, file, 6'000);
  ASSERT_GE(second, 6'000);
  expect_consistent(db, second);

  RunResult rest = run_fieldsync({"--home", home.string(), "import", "activity", file.string(), "--json"});
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  nlohmann::json summary = nlohmann::json::parse(rest.out);
  EXPECT_EQ(summary["added"].get<long long>() + summary["already_present"].get<long long>(), kLines);
  EXPECT_EQ(summary["rejected"], 0);
  expect_consistent(db, kLines);
  EXPECT_EQ(query_count(db, "SELECT count(*) FROM records"), kLines) << "no duplicates, nothing missing";
}

}  // namespace
}  // namespace fieldsync
