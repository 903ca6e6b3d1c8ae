// The real `fieldsync` binary on a temporary home: what a field officer types, and what a script
// reads back with --json.
#include <gtest/gtest.h>

#include <fstream>

#include "child_process.hpp"
#include "test_support.hpp"

namespace fieldsync {
namespace {

class CliTest : public ::testing::Test {
 protected:
  std::string home() const { return (dir_.path() / "home").string(); }
  std::filesystem::path db() const { return dir_.path() / "home" / "replica.db"; }

  RunResult run(std::vector<std::string> args, const std::string& input = {}) {
    args.insert(args.begin(), {"--home", home()});
    return run_fieldsync(args, {}, input);
  }
  nlohmann::json run_json(std::vector<std::string> args) {
    args.push_back("--json");
    RunResult r = run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return nlohmann::json::parse(r.out);
  }
  void init(const std::string& office = "NER") {
    RunResult r = run({"init", "--office", office});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::string add_workshop() {
    nlohmann::json record = run_json({"add", "activity", "title=ورشة عمل حول الأمن الغذائي", "priority_area=8",
                                      "goal=2.8.3", "kind=workshop", "status=implemented", "start_date=2018-03-08",
                                      "institutions=SESRIC, ISESCO", "participants=40", "place=Niamey"});
    return record.at("id").get<std::string>();
  }
  // The command failed with `exit_code`, said `words` on stderr, and changed nothing.
  void expect_refused(const std::vector<std::string>& args, int exit_code, const std::vector<std::string>& words,
                      const std::string& input = {}) {
    const std::string before = snapshot_store(db());
    RunResult r = run(args, input);
    EXPECT_EQ(r.exit_code, exit_code) << r.err;
    for (const auto& word : words) EXPECT_NE(r.err.find(word), std::string::npos) << "missing '" << word << "' in: " << r.err;
    EXPECT_EQ(snapshot_store(db()), before) << "the replica changed";
  }

  TempDir dir_;
};

TEST_F(CliTest, AddListShowEditDeleteHistoryWithJson) {
  init();
  const std::string id = add_workshop();
  EXPECT_EQ(id.size(), 36u);

  nlohmann::json list = run_json({"list"});
  ASSERT_TRUE(list.is_array());
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["id"], id);
  EXPECT_EQ(list[0]["type"], "activity");
  EXPECT_EQ(list[0]["office"], "NER");
  EXPECT_EQ(list[0]["fields"]["title"], "ورشة عمل حول الأمن الغذائي");
  EXPECT_EQ(list[0]["fields"]["participants"], 40) << "typed by the schema";
  EXPECT_EQ(list[0]["fields"]["institutions"], nlohmann::json({"ISESCO", "SESRIC"}));

  nlohmann::json edited = run_json({"edit", id.substr(0, 8), "participants=45", "--unset", "place"});
  EXPECT_EQ(edited["fields"]["participants"], 45);
  EXPECT_FALSE(edited["fields"].contains("place"));

  nlohmann::json shown = run_json({"show", id});
  EXPECT_EQ(shown["fields"]["participants"], 45);
  EXPECT_TRUE(shown["versions"].contains("participants"));

  RunResult human = run({"show", id});
  EXPECT_EQ(human.exit_code, 0);
  EXPECT_NE(human.out.find("\u2068ورشة عمل حول الأمن الغذائي\u2069"), std::string::npos) << "Arabic is isolated";

  nlohmann::json deleted = run_json({"delete", id});
  EXPECT_EQ(deleted["deleted"], true);
  EXPECT_TRUE(run_json({"list"}).empty());
  EXPECT_EQ(run_json({"list", "--deleted"}).size(), 1u);

  nlohmann::json history = run_json({"history", id});
  ASSERT_EQ(history["history"].size(), 3u);
  EXPECT_EQ(history["history"][0]["action"], "create");
  EXPECT_EQ(history["history"][1]["action"], "edit");
  EXPECT_EQ(history["history"][1]["changes"]["participants"]["old"], 40);
  EXPECT_EQ(history["history"][1]["changes"]["place"]["new"], nullptr);
  EXPECT_EQ(history["history"][2]["action"], "delete");

  nlohmann::json status = run_json({"status"});
  EXPECT_EQ(status["office"], "NER");
  EXPECT_EQ(status["records"], 0);
  EXPECT_EQ(status["deleted_records"], 1);
  EXPECT_EQ(status["pending_records"], 1);
  EXPECT_FALSE(status["replica_id"].get<std::string>().empty());
}

TEST_F(CliTest, HomeComesFromTheEnvironmentToo) {
  init("AFG");
  RunResult r = run_fieldsync({"status", "--json"}, {{"FIELDSYNC_HOME", home()}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["office"], "AFG");
}

TEST_F(CliTest, AddFromAFileAndFromStandardInput) {
  init();
  const std::string file = (dir_.path() / "record.json").string();
  write_file(file, R"({"title": "Atelier de formation à Niamey", "priority_area": 6, "goal": "2.6.1",
                      "kind": "training", "status": "planned", "language": "fr"})");
  nlohmann::json added = run_json({"add", "activity", "--file", file});
  EXPECT_EQ(added["fields"]["title"], "Atelier de formation à Niamey");
  RunResult from_stdin = run({"add", "activity", "--file", "-", "--json"},
                             R"({"id": "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "fields": {"title": "Réunion", "priority_area": 4,
                                  "goal": "2.4.1", "kind": "meeting", "status": "ongoing"}})");
  ASSERT_EQ(from_stdin.exit_code, 0) << from_stdin.err;
  EXPECT_EQ(nlohmann::json::parse(from_stdin.out)["id"], "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b");
}

TEST_F(CliTest, ListFiltersWhereSinceAndSearch) {
  init();
  add_workshop();
  RunResult other = run({"add", "activity", "title=Formation des formateurs", "priority_area=6", "goal=2.6.1",
                         "kind=training", "status=planned"});
  ASSERT_EQ(other.exit_code, 0) << other.err;
  EXPECT_EQ(run_json({"list", "activity", "--where", "priority_area=6"}).size(), 1u);
  EXPECT_EQ(run_json({"list", "--where", "institutions=SESRIC"}).size(), 1u);
  EXPECT_EQ(run_json({"list", "--search", "الأمن"}).size(), 1u);
  EXPECT_EQ(run_json({"list", "--search", "formateurs"}).size(), 1u);
  EXPECT_EQ(run_json({"list", "--since", "2000-01-01"}).size(), 2u);
  EXPECT_EQ(run_json({"list", "--since", "2999-01-01"}).size(), 0u);
  RunResult human = run({"list"});
  EXPECT_NE(human.out.find("2 records"), std::string::npos);
  expect_refused({"list", "--since", "yesterday"}, 3, {"--since"});
  expect_refused({"list", "water_point"}, 4, {"water_point", "activity"});
}

TEST_F(CliTest, BadInputIsRefusedWithAClearMessageAndChangesNothing) {
  init();
  const std::string id = add_workshop();
  expect_refused({"add", "activity", "title=x", "priority_area=19", "goal=2.19.1", "kind=workshop", "status=implemented"},
                 3, {"priority_area", "maximum"});
  expect_refused({"add", "activity", "title=x", "priority_area=8", "goal=2.5.1", "kind=party", "status=implemented"},
                 3, {"kind", "goal", "goal_matches_priority_area"});
  expect_refused({"add", "activity", "title=Nia\xC3\x28mey", "priority_area=8", "goal=2.8.1", "kind=workshop",
                  "status=implemented"},
                 3, {"title", "UTF-8"});
  expect_refused({"add", "activity", "--file", "-"}, 3, {"not valid JSON"}, "{\"title\": ");
  expect_refused({"add", "activity", "titleonly"}, 3, {"field=value"});
  expect_refused({"add", "water_point", "title=x"}, 4, {"water_point"});
  expect_refused({"edit", id, "end_date=2018-01-01"}, 3, {"end_date", "end_after_start"});
  expect_refused({"edit", "0190a1b2-0000-7000-8000-000000000000", "participants=1"}, 4, {"no record"});
  expect_refused({"delete", "nonsense"}, 3, {"not a record id"});
  expect_refused({"init", "--office", "NER"}, 5, {"already exists"});
  RunResult usage = run({"frobnicate"});
  EXPECT_EQ(usage.exit_code, 2);
}

TEST_F(CliTest, ErrorsComeAsJsonForScripts) {
  init();
  RunResult r = run({"add", "activity", "title=x", "priority_area=0", "goal=2.1.1", "kind=workshop",
                     "status=implemented", "--json"});
  EXPECT_EQ(r.exit_code, 3);
  nlohmann::json error = nlohmann::json::parse(r.err)["error"];
  EXPECT_EQ(error["code"], "validation");
  bool named = false;
  for (const auto& issue : error["issues"]) named |= issue["field"] == "priority_area";
  EXPECT_TRUE(named) << r.err;
}

TEST_F(CliTest, AHomeThatIsNotInitializedIsAClearError) {
  RunResult r = run({"list"});
  EXPECT_EQ(r.exit_code, 5);
  EXPECT_NE(r.err.find("fieldsync init"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(db())) << "a read must not create a replica";
}

TEST_F(CliTest, TypesListsTheInstalledPlugins) {
  init();
  nlohmann::json types = run_json({"types"});
  ASSERT_FALSE(types.empty());
  bool activity = false;
  for (const auto& t : types) activity |= t["name"] == "activity";
  EXPECT_TRUE(activity);
}

// Every record of the shared report data: one record per line, Arabic byte-identical (the data
// is NFC already), and a second import adds nothing.
TEST_F(CliTest, ImportsEverySharedActivityByteExactAndOnlyOnce) {
  init();
  RunResult first = run({"import", "activity", shared_activities().string(), "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  nlohmann::json summary = nlohmann::json::parse(first.out);
  EXPECT_EQ(summary["lines"], 440);
  EXPECT_EQ(summary["added"], 440);
  EXPECT_EQ(summary["rejected"], 0);

  nlohmann::json listed = run_json({"list"});
  std::map<std::string, nlohmann::json> by_id;
  for (const auto& record : listed) by_id[record["id"].get<std::string>()] = record["fields"];
  std::ifstream in(shared_activities());
  std::string line;
  std::size_t lines = 0;
  while (std::getline(in, line)) {
    ++lines;
    nlohmann::json source = nlohmann::json::parse(line);
    const std::string id = source["id"];
    ASSERT_TRUE(by_id.count(id)) << "line " << lines << " missing";
    EXPECT_EQ(by_id[id].dump(), source["fields"].dump()) << "line " << lines << " changed";
  }
  EXPECT_EQ(by_id.size(), lines);

  RunResult second = run({"import", "activity", shared_activities().string(), "--json"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_EQ(nlohmann::json::parse(second.out)["added"], 0);
  EXPECT_EQ(nlohmann::json::parse(second.out)["already_present"], 440);
  EXPECT_EQ(run_json({"status"})["records"], 440);
}

TEST_F(CliTest, ImportWritesEveryRejectedLineWithItsReason) {
  init();
  const std::string good = R"({"fields": {"title": "Atelier", "priority_area": 3, "goal": "2.3.1", "kind": "workshop", "status": "planned"}})";
  std::string file_text;
  file_text += good + "\n";                                                                  // 1 ok
  file_text += "{\"fields\": {\"title\": \n";                                                 // 2 malformed JSON
  file_text += "{\"fields\": {\"title\": \"Nia\xC3\x28mey\"}}\n";                            // 3 invalid UTF-8
  file_text += R"({"fields": {"title": "x", "priority_area": 3, "goal": "2.3.1", "kind": "workshop", "status": "done"}})" "\n";  // 4 enum
  file_text += "\n";                                                                          // 5 blank: skipped
  file_text += R"({"id": "not-a-uuid", "fields": {}})" "\n";                                  // 6 bad id
  file_text += R"({"title": "no fields object"})" "\n";                                       // 7 shape
  file_text += good + "\n";                                                                  // 8 ok
  const auto input = dir_.path() / "mixed.jsonl";
  const auto rejects = dir_.path() / "mixed.rejects.jsonl";
  write_file(input, file_text);
  RunResult r = run({"import", "activity", input.string(), "--rejects", rejects.string(), "--json"});
  EXPECT_EQ(r.exit_code, 3) << "rejected lines make the exit non-zero";
  nlohmann::json summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["added"], 2);
  EXPECT_EQ(summary["rejected"], 5);
  EXPECT_EQ(summary["rejects_file"], rejects.string());

  std::map<int, nlohmann::json> rejected;
  std::ifstream in(rejects);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json entry = nlohmann::json::parse(line);
    rejected[entry["line"].get<int>()] = entry;
  }
  ASSERT_EQ(rejected.size(), 5u);
  EXPECT_NE(rejected[2]["error"].get<std::string>().find("not valid JSON"), std::string::npos);
  EXPECT_NE(rejected[3]["error"].get<std::string>().find("UTF-8"), std::string::npos);
  EXPECT_EQ(rejected[4]["issues"][0]["field"], "status");
  EXPECT_EQ(rejected[4]["issues"][0]["rule"], "enum");
  EXPECT_EQ(rejected[6]["issues"][0]["rule"], "uuid");
  EXPECT_NE(rejected[7]["error"].get<std::string>().find("fields"), std::string::npos);
  EXPECT_EQ(run_json({"status"})["records"], 2);
}

// JSON nested 100,000 deep used to crash `add` (a recursive walk ran out of stack): now a clean
// refusal naming the limit, exit 3, and nothing written.
TEST_F(CliTest, AddRefusesJsonNestedTooDeep) {
  init();
  const std::string deep_value = std::string(100'000, '[') + std::string(100'000, ']');
  const auto file = dir_.path() / "deep.json";
  write_file(file, R"({"title": "x", "place": )" + deep_value + "}");
  expect_refused({"add", "activity", "--file", file.string()}, 3, {"deeper than 64", "place"});
  std::string objects;
  for (int i = 0; i < 100'000; ++i) objects += "{\"a\":";
  expect_refused({"add", "activity", "--file", "-"}, 3, {"deeper than 64"}, objects);
  // A list typed as JSON on the command line goes through the same parse (60,000 levels: one
  // argument may hold at most 128 KiB).
  expect_refused({"add", "activity", "title=x", "priority_area=8", "goal=2.8.1", "kind=workshop",
                  "status=implemented", "institutions=" + std::string(60'000, '[') + std::string(60'000, ']')},
                 3, {"deeper than 64", "institutions"});
}

// A key twice ("office":"AFG","office":"NER" kept only NER) and a NUL character (\u0000) in text
// are refused, naming the field.
TEST_F(CliTest, AddRefusesDuplicateKeysAndNulNamingTheField) {
  init();
  const std::string rest = R"("priority_area": 8, "goal": "2.8.1", "kind": "workshop", "status": "implemented"})";
  expect_refused({"add", "activity", "--file", "-"}, 3, {"\"title\" appears twice"},
                 R"({"title": "Atelier", "title": "Workshop", )" + rest);
  expect_refused({"add", "activity", "--file", "-"}, 3, {"NUL", "title"}, R"({"title": "Nia\u0000mey", )" + rest);
  expect_refused({"add", "activity", "--file", "-"}, 3, {"NUL"}, std::string(R"({"title": "Nia)") + '\0' + R"(mey", )" + rest);
  expect_refused({"add", "activity", "title=x", "priority_area=8", "goal=2.8.1", "kind=workshop", "status=implemented",
                  R"(institutions=["SESRIC", "ISE\u0000SCO"])"},
                 3, {"NUL", "institutions"});
  expect_refused({"add", "activity", "title=x", "priority_area=8", "goal=2.8.1", "kind=workshop", "status=implemented",
                  R"(institutions=["a", {"k": 1, "k": 2}])"},
                 3, {"\"k\" appears twice"});
  // The --json error names the field and the rule for a script.
  RunResult r = run({"add", "activity", "--file", "-", "--json"}, R"({"title": "Nia\u0000mey", )" + rest);
  EXPECT_EQ(r.exit_code, 3);
  const nlohmann::json error = nlohmann::json::parse(r.err)["error"];
  ASSERT_EQ(error["issues"].size(), 1u) << r.err;
  EXPECT_EQ(error["issues"][0]["field"], "title");
  EXPECT_EQ(error["issues"][0]["rule"], "nul");
}

// Import: a line nested too deep, a line with a key twice, a line with a NUL are each rejected
// naming the line (and the field), nothing is stored for them, and the good lines still are.
TEST_F(CliTest, ImportRejectsDeepDuplicateKeyAndNulLinesNamingEach) {
  init();
  const std::string fields = R"("priority_area": 3, "goal": "2.3.1", "kind": "workshop", "status": "planned")";
  const std::string good = R"({"fields": {"title": "Atelier", )" + fields + "}}";
  std::string file_text;
  file_text += good + "\n";                                                                            // 1 ok
  file_text += R"({"fields": {"title": "x", "place": )" + std::string(100'000, '[') + "\n";            // 2 deep
  file_text += R"({"office": "AFG", "office": "NER", "fields": {"title": "Atelier", )" + fields + "}}\n";  // 3 dup
  file_text += R"({"fields": {"title": "A", "title": "B", )" + fields + "}}\n";                        // 4 dup
  file_text += R"({"fields": {"title": "Nia\u0000mey", )" + fields + "}}\n";                           // 5 NUL
  file_text += std::string(R"({"fields": {"title": "Nia)") + '\0' + R"(mey", )" + fields + "}}\n";          // 6 raw 0
  file_text += good + "\n";                                                                            // 7 ok
  const auto input = dir_.path() / "hostile.jsonl";
  const auto rejects = dir_.path() / "hostile.rejects.jsonl";
  write_file(input, file_text);
  RunResult r = run({"import", "activity", input.string(), "--rejects", rejects.string(), "--json"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  const nlohmann::json summary = nlohmann::json::parse(r.out);
  EXPECT_EQ(summary["lines"], 7);
  EXPECT_EQ(summary["added"], 2);
  EXPECT_EQ(summary["rejected"], 5);
  EXPECT_EQ(run_json({"status"})["records"], 2);

  std::map<int, nlohmann::json> rejected;
  std::ifstream in(rejects);
  std::string line;
  while (std::getline(in, line)) {
    nlohmann::json entry = nlohmann::json::parse(line);
    rejected[entry["line"].get<int>()] = entry;
  }
  ASSERT_EQ(rejected.size(), 5u);
  auto expect_issue = [&](int line_number, const std::string& field, const std::string& rule) {
    const nlohmann::json& entry = rejected[line_number];
    ASSERT_EQ(entry["issues"].size(), 1u) << entry.dump();
    EXPECT_EQ(entry["issues"][0]["field"], field) << entry.dump();
    EXPECT_EQ(entry["issues"][0]["rule"], rule) << entry.dump();
  };
  expect_issue(2, "place", "depth");
  expect_issue(3, "office", "duplicate_key");
  expect_issue(4, "title", "duplicate_key");
  expect_issue(5, "title", "nul");
  expect_issue(6, "title", "nul");
  EXPECT_NE(rejected[3]["error"].get<std::string>().find("\"office\" appears twice"), std::string::npos);
}

TEST_F(CliTest, ANegativeOrNonNumericLimitIsAUsageError) {
  init();
  for (const char* limit : {"-3", "x", "2.5", "-0"}) {
    RunResult r = run({"list", "--limit", limit});
    EXPECT_EQ(r.exit_code, 2) << "--limit " << limit << ": " << r.err;
    EXPECT_NE(r.err.find("--limit"), std::string::npos) << r.err;
  }
  EXPECT_EQ(run({"list", "--limit", "0"}).exit_code, 0);
  EXPECT_EQ(run({"list", "--limit", "3"}).exit_code, 0);
}

}  // namespace
}  // namespace fieldsync
