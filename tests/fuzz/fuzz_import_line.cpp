// Fuzz target: one line of `fieldsync import` through the same function ImportJob uses
// (cli::check_import_line: the JSON parser, the line's shape, the id, then Replica::prepare with
// the activity plugin), on a throwaway replica of office NER.
//
// Input: the bytes of an input file's chunk; split into lines as ImportJob reads them (a trailing
// CR dropped, blank lines skipped), each line checked as type "activity".
// Asserts: no crash and no exception (a bad line is a reject carrying an Error, never a throw);
// a rejected line's error is invalid_input or validation and names the line; an accepted line
// yields canonical JSON fields that the plugin accepts again.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>

#include "cli/import_job.hpp"
#include "core/plugin_host.hpp"
#include "core/replica.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

struct Field {
  fieldsync::PluginHost types;
  std::unique_ptr<fieldsync::Replica> replica;
};
Field* field = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const auto home = fieldsync::fuzz::scratch_dir("import") / "ner";
  fieldsync::Replica::create(home, "NER");
  field = new Field;
  field->types.load_file(std::filesystem::path(FIELDSYNC_FUZZ_PLUGIN_DIR) / "libfieldsync_activity.so");
  FUZZ_CHECK(field->types.find("activity") != nullptr, "cannot load the activity plugin from " FIELDSYNC_FUZZ_PLUGIN_DIR);
  field->replica = std::make_unique<fieldsync::Replica>(home, field->types);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(bytes), size));
  std::int64_t number = 0;
  for (std::string line; std::getline(in, line);) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    fieldsync::PreparedRecord prepared;
    try {
      prepared = fieldsync::cli::check_import_line(*field->replica, "activity", number, line);
    } catch (const std::exception& e) {
      FUZZ_CHECK(false, std::string("checking a line threw: ") + e.what());
    }
    const std::string where = "line " + std::to_string(number);
    if (prepared.error) {
      FUZZ_CHECK(prepared.error->code() == fieldsync::Errc::invalid_input ||
                     prepared.error->code() == fieldsync::Errc::validation,
                 std::string("unexpected error for a bad line: ") + prepared.error->what());
      FUZZ_CHECK(prepared.error->where() == where, "the reject names '" + prepared.error->where() + "', not " + where);
      continue;
    }
    const nlohmann::json fields = nlohmann::json::parse(prepared.fields_json, nullptr, false);
    FUZZ_CHECK(fields.is_object(), "accepted fields are not a JSON object: " + prepared.fields_json);
    FUZZ_CHECK(fields.dump() == prepared.fields_json, "accepted fields are not canonical JSON: " + prepared.fields_json);
    const auto type = field->types.require("activity");
    FUZZ_CHECK(type->check(type->normalize(fields)).empty(), "accepted fields fail the check: " + prepared.fields_json);
  }
  return 0;
}
