// PluginHost: loads real and fixture plugins, refuses bad ones with a reason (without crashing),
// keeps libraries loaded while their DataTypes live, and applies the duplicate-name rule.
#include "core/plugin_host.hpp"

#include <dlfcn.h>

#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <set>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "test_support.hpp"

namespace fieldsync {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const fs::path kPluginDir = FIELDSYNC_TEST_PLUGIN_DIR;
const fs::path kFixtureDir = FIELDSYNC_TEST_FIXTURE_PLUGIN_DIR;
const fs::path kBadDir = kFixtureDir / "bad";
const fs::path kNote = kFixtureDir / "note" / "libfixture_note.so";
const fs::path kNoteV2 = kFixtureDir / "note_v2" / "libfixture_note_v2.so";


// Sets (or unsets) an environment variable for one test and restores the old value after.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

void write_file(const fs::path& file, const std::string& content) {
  std::ofstream out(file, std::ios::binary);
  out << content;
}

// "Not a library" files: a text file with a library's name, and the first `bytes` bytes of a
// real plugin (as an interrupted copy leaves it).
fs::path write_fake_library(const fs::path& dir) {
  const fs::path fake = dir / "libfake.so";
  write_file(fake, "this is a text file, not a shared library\n");
  return fake;
}

fs::path write_truncated_library(const fs::path& dir, std::uintmax_t bytes = 1000) {
  std::ifstream in(kNote, std::ios::binary);
  std::string head(bytes, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  EXPECT_EQ(static_cast<std::uintmax_t>(in.gcount()), bytes) << kNote;
  const fs::path truncated = dir / ("libtruncated_" + std::to_string(bytes) + ".so");
  write_file(truncated, head);
  return truncated;
}

// --- loading ---

TEST(PluginHost, LoadsTheActivityPlugin) {
  PluginHost host;
  const fs::path file = kPluginDir / "libfieldsync_activity.so";
  ASSERT_TRUE(host.load_file(file)) << (host.failures().empty() ? "" : host.failures()[0].reason);
  const auto type = host.find("activity");
  ASSERT_NE(type, nullptr);
  EXPECT_EQ(type->name(), "activity");
  EXPECT_GE(type->schema_version(), 1);
  EXPECT_TRUE(type->schema().is_object());
  EXPECT_EQ(host.types().at("activity").file, file);
  EXPECT_TRUE(host.failures().empty());
}

TEST(PluginHost, LoadsTheFixtureNotePlugin) {
  PluginHost host;
  ASSERT_TRUE(host.load_file(kNote));
  const auto note = host.require("note");
  EXPECT_EQ(note->name(), "note");
  EXPECT_EQ(note->schema_version(), 1);
  EXPECT_EQ(note->schema()["required"], nlohmann::json::array({"title"}));
  EXPECT_TRUE(note->check({{"title", "Workshop"}}).empty());
  EXPECT_EQ(note->check(nlohmann::json::object()).size(), 1u);
  EXPECT_TRUE(host.failures().empty());
}

TEST(PluginHost, LoadsTwoTypesFromTheBuildAndFixtureFolders) {
  PluginHost host;
  host.load_directory(kPluginDir);
  host.load_directory(kFixtureDir / "note");
  EXPECT_NE(host.find("note"), nullptr);
  EXPECT_NE(host.find("activity"), nullptr);
  EXPECT_EQ(host.find("shelter"), nullptr);
}

TEST(PluginHost, MissingDirectoryIsNotAnError) {
  PluginHost host;
  host.load_directory(kFixtureDir / "no_such_folder");
  EXPECT_TRUE(host.types().empty());
  EXPECT_TRUE(host.failures().empty());
}

// --- refusals: each bad file alone ---

void expect_refused(const fs::path& file, const std::string& reason_part) {
  PluginHost host;
  EXPECT_FALSE(host.load_file(file));
  EXPECT_TRUE(host.types().empty());
  ASSERT_EQ(host.failures().size(), 1u);
  EXPECT_EQ(host.failures()[0].file, file);
  EXPECT_THAT(host.failures()[0].reason, HasSubstr(reason_part));
}

TEST(PluginHost, RefusesAWrongApiVersionWithoutCallingTheFactory) {
  // The fixture's factory aborts: reaching the checks below proves it was never called.
  expect_refused(kBadDir / "libfixture_wrong_api.so",
                 "plugin API version " + std::to_string(kPluginApiVersion + 41) +
                     ", this fieldsync expects " + std::to_string(kPluginApiVersion));
}

TEST(PluginHost, RefusesALibraryWithoutTheFactory) {
  expect_refused(kBadDir / "libfixture_no_factory.so", "no fieldsync_create_data_type");
}

TEST(PluginHost, RefusesALibraryWithoutTheApiVersion) {
  expect_refused(kBadDir / "libfixture_no_version.so",
                 "no fieldsync_plugin_api_version symbol: not a FieldSync plugin");
}

TEST(PluginHost, RefusesAThrowingFactory) {
  expect_refused(kBadDir / "libfixture_throwing.so", "fixture factory refuses to start");
}

TEST(PluginHost, RefusesATextFileNamedLikeALibrary) {
  TempDir dir;
  const fs::path fake = write_fake_library(dir.path());
  expect_refused(fake, "not a loadable library: ");
}

TEST(PluginHost, RefusesATruncatedLibraryWhereverItIsCut) {
  // glibc's dlopen() maps a cut-short library and dies with SIGBUS on first touch; the host
  // must refuse such a file before dlopen() ever sees it.
  TempDir dir;
  const std::uintmax_t size = fs::file_size(kNote);
  for (const std::uintmax_t bytes : {std::uintmax_t{10}, std::uintmax_t{64}, std::uintmax_t{1000},
                                     size / 3, size / 2, size - 1}) {
    SCOPED_TRACE("cut at " + std::to_string(bytes) + " of " + std::to_string(size) + " bytes");
    expect_refused(write_truncated_library(dir.path(), bytes), "not a loadable library: ");
  }
}

TEST(PluginHost, RefusesAMissingFile) {
  expect_refused(kFixtureDir / "libnothing_here.so", "not a loadable library: ");
}

// --- refusals: all together in one folder ---

TEST(PluginHost, OneFolderOfBadFilesAndOneGoodFile) {
  TempDir dir;
  std::set<fs::path> bad_files;
  for (const auto& entry : fs::directory_iterator(kBadDir)) {
    const fs::path copy = dir.path() / entry.path().filename();
    fs::copy_file(entry.path(), copy);
    bad_files.insert(copy);
  }
  ASSERT_EQ(bad_files.size(), 4u) << "fixture_plugins/bad should hold four libraries";
  bad_files.insert(write_fake_library(dir.path()));
  bad_files.insert(write_truncated_library(dir.path()));
  fs::copy_file(kNote, dir.path() / kNote.filename());
  // Not libraries by name or kind: skipped without a failure.
  write_file(dir.path() / "README.txt", "plugins live here\n");
  fs::create_directory(dir.path() / "folder.so");

  PluginHost host;
  host.load_directory(dir.path());

  EXPECT_NE(host.find("note"), nullptr);
  EXPECT_EQ(host.types().size(), 1u);
  std::set<fs::path> failed_files;
  for (const auto& failure : host.failures()) {
    failed_files.insert(failure.file);
    EXPECT_FALSE(failure.reason.empty()) << failure.file;
  }
  EXPECT_EQ(host.failures().size(), bad_files.size());
  EXPECT_EQ(failed_files, bad_files);
}

// --- lifetime ---
//
// The note fixtures have no STB_GNU_UNIQUE symbol (see fixture_plugins/CMakeLists.txt), so glibc
// really unmaps them on the last dlclose(): these tests can tell a library kept loaded from one
// dropped too early (which would leave a DataType whose code is gone).

// Whether `file` is mapped into this process (a line of /proc/self/maps names it).
bool is_mapped(const fs::path& file) {
  const std::string wanted = fs::canonical(file).string();
  std::ifstream maps("/proc/self/maps");
  for (std::string line; std::getline(maps, line);) {
    if (line.size() >= wanted.size() && line.compare(line.size() - wanted.size(), wanted.size(), wanted) == 0) {
      return true;
    }
  }
  return false;
}

// The library the object's vtable (and so its code) lives in, as dladdr() finds it.
fs::path library_of(const DataType& type) {
  Dl_info info{};
  const void* vtable = *reinterpret_cast<const void* const*>(&type);
  if (dladdr(vtable, &info) == 0 || info.dli_fname == nullptr) return {};
  return fs::canonical(info.dli_fname);
}

TEST(PluginHost, FixtureLibraryIsUnmappedWhenNothingUsesIt) {
  // Without this the tests below prove nothing: a library glibc never unloads stays mapped
  // whatever the host does.
  ASSERT_FALSE(is_mapped(kNote)) << "another test left the fixture loaded";
  {
    PluginHost host;
    ASSERT_TRUE(host.load_file(kNote));
    EXPECT_TRUE(is_mapped(kNote));
  }
  EXPECT_FALSE(is_mapped(kNote)) << "the fixture stays mapped after its last user went (STB_GNU_UNIQUE symbols?)";
}

TEST(PluginHost, DataTypeOutlivesTheHost) {
  std::shared_ptr<const DataType> note;
  {
    PluginHost host;
    ASSERT_TRUE(host.load_file(kNote));
    note = host.require("note");
  }
  // The host is gone; the library must still be mapped, or these calls jump into unmapped code.
  ASSERT_TRUE(is_mapped(kNote)) << "the host unloaded the library while a DataType from it lives";
  EXPECT_EQ(library_of(*note), fs::canonical(kNote));
  EXPECT_EQ(note->name(), "note");
  EXPECT_EQ(note->summary({{"title", "Field visit"}}), "Field visit");
  EXPECT_TRUE(note->schema().is_object());
  note.reset();
  EXPECT_FALSE(is_mapped(kNote)) << "the last DataType went but the library stays loaded";
}

TEST(PluginHost, ReplacedDataTypeStaysUsable) {
  std::shared_ptr<const DataType> v1;
  {
    PluginHost host;
    ASSERT_TRUE(host.load_file(kNote));
    v1 = host.require("note");
    ASSERT_TRUE(host.load_file(kNoteV2));
    EXPECT_EQ(host.require("note")->schema_version(), 2);
    // v1's library lost its place in the host but must stay mapped for `v1`.
    ASSERT_TRUE(is_mapped(kNote));
    EXPECT_EQ(v1->schema_version(), 1);
    EXPECT_EQ(v1->description(), "A note (test fixture)");
  }
  EXPECT_FALSE(is_mapped(kNoteV2)) << "v2 was held only by the host, which is gone";
  ASSERT_TRUE(is_mapped(kNote));
  EXPECT_EQ(library_of(*v1), fs::canonical(kNote));
  EXPECT_EQ(v1->schema_version(), 1);
  v1.reset();
  EXPECT_FALSE(is_mapped(kNote));
}

// --- duplicate names ---

TEST(PluginHost, HigherSchemaVersionWinsWhicheverLoadsFirst) {
  {
    PluginHost host;
    host.load_directory(kFixtureDir / "note");
    host.load_directory(kFixtureDir / "note_v2");
    EXPECT_EQ(host.require("note")->schema_version(), 2);
    EXPECT_EQ(host.types().at("note").file, kNoteV2);
  }
  {
    PluginHost host;
    host.load_directory(kFixtureDir / "note_v2");
    host.load_directory(kFixtureDir / "note");
    EXPECT_EQ(host.require("note")->schema_version(), 2);
    EXPECT_EQ(host.types().at("note").file, kNoteV2);
    EXPECT_TRUE(host.failures().empty());
  }
}

TEST(PluginHost, EqualSchemaVersionKeepsTheFirstLoaded) {
  TempDir dir;
  const fs::path copy = dir.path() / "libfixture_note_copy.so";
  fs::copy_file(kNote, copy);
  PluginHost host;
  ASSERT_TRUE(host.load_file(kNote));
  EXPECT_TRUE(host.load_file(copy));  // valid, just not chosen
  EXPECT_EQ(host.types().at("note").file, kNote);
  EXPECT_TRUE(host.failures().empty());
}

// --- require ---

TEST(PluginHost, RequireNamesTheInstalledTypes) {
  PluginHost host;
  ASSERT_TRUE(host.load_file(kNote));
  try {
    host.require("shelter");
    FAIL() << "require() of an unknown type must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::not_found);
    EXPECT_STREQ(e.what(), "unknown data type 'shelter' (installed: note)");
  }
}

TEST(PluginHost, RequireListsEveryInstalledTypeInNameOrder) {
  PluginHost host;
  host.load_directory(kPluginDir);
  host.load_directory(kFixtureDir / "note");
  try {
    host.require("shelter");
    FAIL() << "require() of an unknown type must throw";
  } catch (const Error& e) {
    EXPECT_THAT(e.what(), StartsWith("unknown data type 'shelter' (installed: activity, "));
    EXPECT_THAT(e.what(), HasSubstr(", note"));
  }
}

TEST(PluginHost, RequireWithNothingInstalled) {
  PluginHost host;
  try {
    host.require("activity");
    FAIL() << "require() of an unknown type must throw";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::not_found);
    EXPECT_STREQ(e.what(), "unknown data type 'activity' (installed: none)");
  }
}

// --- default directories ---

TEST(PluginHost, DefaultDirectoriesFollowHomeThenPathThenBuild) {
  ScopedEnv env("FIELDSYNC_PLUGIN_PATH", "/opt/a::/opt/b:");
  EXPECT_THAT(PluginHost::default_directories("/home/ner"),
              ElementsAre(fs::path("/home/ner/plugins"), fs::path("/opt/a"), fs::path("/opt/b"),
                          kPluginDir));
}

TEST(PluginHost, DefaultDirectoriesWithoutPluginPath) {
  ScopedEnv env("FIELDSYNC_PLUGIN_PATH", nullptr);
  EXPECT_THAT(PluginHost::default_directories("/home/ner"),
              ElementsAre(fs::path("/home/ner/plugins"), kPluginDir));
}

}  // namespace
}  // namespace fieldsync
