// Fuzz target: the activity plugin's normalize() and check() (JSON Schema, then the checks a schema
// cannot state), loaded through core/plugin_host from the build's real .so, as the replica and
// HQ use it on every record they take in.
//
// Input: a JSON text, taken as a record's fields object, read by core/json_input as every entry
// point reads it (inputs it refuses — not JSON, too deep, duplicate keys, NUL — are skipped).
// Asserts: normalize() and check() never throw (their contract: a wrong shape is an issue, not
// an exception) nor crash; a record that passes is a fixed point — normalizing it again changes
// nothing and it still passes, also after the JSON text round trip it makes through the store —
// and its summary() can be made.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "core/error.hpp"
#include "core/json_input.hpp"
#include "core/plugin_host.hpp"
#include "tests/fuzz/fuzz_support.hpp"

namespace {

std::shared_ptr<const fieldsync::DataType> activity;

std::string issues_text(const std::vector<fieldsync::FieldIssue>& issues) {
  std::string out;
  for (const auto& issue : issues) out += issue.field + ": " + issue.rule + " (" + issue.message + "); ";
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  static fieldsync::PluginHost host;
  host.load_file(std::filesystem::path(FIELDSYNC_FUZZ_PLUGIN_DIR) / "libfieldsync_activity.so");
  FUZZ_CHECK(host.find("activity") != nullptr,
             "cannot load the activity plugin from " FIELDSYNC_FUZZ_PLUGIN_DIR ": " +
                 (host.failures().empty() ? std::string("?") : host.failures()[0].reason));
  activity = host.find("activity");
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* bytes, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(bytes), size);
  nlohmann::json input;
  try {
    input = fieldsync::parse_json_input(text, "fuzz input");  // the parser every entry point uses
  } catch (const fieldsync::Error&) {
    return 0;
  }

  nlohmann::json fields;
  std::vector<fieldsync::FieldIssue> issues;
  try {
    fields = activity->normalize(std::move(input));  // moved, as Replica::prepare does (a copy recurses)
    issues = activity->check(fields);
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("normalize/check threw: ") + e.what());
  }
  if (!issues.empty()) return 0;

  try {
    const nlohmann::json again = activity->normalize(fields);
    FUZZ_CHECK(again == fields, "normalize is not idempotent: " + fields.dump() + " became " + again.dump());
    const auto second = activity->check(again);
    FUZZ_CHECK(second.empty(), "a normalized record that passed fails the second check: " + issues_text(second));
    const nlohmann::json stored = nlohmann::json::parse(fields.dump());
    FUZZ_CHECK(stored == fields, "the fields change in their JSON round trip: " + fields.dump());
    const auto reread = activity->check(activity->normalize(stored));
    FUZZ_CHECK(reread.empty(), "the stored record no longer passes: " + issues_text(reread));
    (void)activity->summary(fields);
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("a valid record made the plugin throw: ") + e.what());
  }
  return 0;
}
