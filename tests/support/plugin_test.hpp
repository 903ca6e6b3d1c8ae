// A test fixture for one data-type plugin as the host sees it: the real built .so from the
// build's plugin or publish folder, loaded with Boost.DLL, and the checks a plugin's tests ask alike.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <boost/dll/import.hpp>
#include <gtest/gtest.h>

#include "core/data_type.hpp"
#include "core/error.hpp"

namespace fieldsync::testing {

inline std::string describe(const std::vector<FieldIssue>& issues) {
  std::string out;
  for (const auto& i : issues) out += "[" + i.field + " / " + i.rule + ": " + i.message + "] ";
  return out;
}

inline const FieldIssue* find_issue(const std::vector<FieldIssue>& issues, const std::string& field,
                                    const std::string& rule) {
  for (const auto& i : issues) {
    if (i.field == field && i.rule == rule) return &i;
  }
  return nullptr;
}

// The plugin of `type` from the build: built in (its plugin folder) or to publish.
inline std::filesystem::path built_plugin(const std::string& type) {
  const std::string file = "libfieldsync_" + type + ".so";
  const auto built_in = std::filesystem::path(FIELDSYNC_TEST_PLUGIN_DIR) / file;
  return std::filesystem::exists(built_in) ? built_in : std::filesystem::path(FIELDSYNC_TEST_PUBLISH_DIR) / file;
}

inline auto load_plugin_factory(const std::filesystem::path& library) {
  return boost::dll::import_alias<DataTypeFactory>(library, "fieldsync_create_data_type");
}

// A plugin library named by its file rather than its type (a test's own version of a type).
struct PluginLibrary {
  std::filesystem::path file;
};

// Derive with the type's name (or its library) and a valid fields object of it.
class PluginTest : public ::testing::Test {
 protected:
  PluginTest(const std::string& type, nlohmann::json valid) : PluginTest(PluginLibrary{built_plugin(type)}, std::move(valid)) {}
  PluginTest(const PluginLibrary& library, nlohmann::json valid)
      : factory_(load_plugin_factory(library.file)), type_(factory_()), valid_(std::move(valid)) {}

  // A copy of the valid fields object with `key` set to `value`.
  nlohmann::json with(const std::string& key, nlohmann::json value) const {
    nlohmann::json fields = valid_;
    fields[key] = std::move(value);
    return fields;
  }
  nlohmann::json without(const std::string& key) const {
    nlohmann::json fields = valid_;
    fields.erase(key);
    return fields;
  }

  // Expects `fields` to break the rule `rule` of `field` (other issues allowed).
  void expect_rejected(const nlohmann::json& fields, const std::string& field, const std::string& rule) const {
    const auto issues = type_->check(fields);
    EXPECT_NE(find_issue(issues, field, rule), nullptr) << "expected " << field << " / " << rule << ", got " << describe(issues);
  }
  void expect_valid(const nlohmann::json& fields) const {
    const auto issues = type_->check(fields);
    EXPECT_TRUE(issues.empty()) << describe(issues);
  }

  // Declared first, destroyed last: the library must outlive the object made by its code.
  decltype(load_plugin_factory(std::filesystem::path())) factory_;
  std::unique_ptr<DataType> type_;
  nlohmann::json valid_;
};

}  // namespace fieldsync::testing
