// The plugin interface: what a data-type plugin promises the host.
//
// A plugin is a shared library (CMake MODULE) that exports exactly two symbols:
//   - `fieldsync_plugin_api_version`, a `const std::uint32_t` equal to kPluginApiVersion of the
//     header it was built with; the host reads it before touching anything else;
//   - the alias `fieldsync_create_data_type` (BOOST_DLL_ALIAS) of a function
//     `std::unique_ptr<fieldsync::DataType>()`.
// Use FIELDSYNC_EXPORT_DATA_TYPE(factory) to export both.
//
// Host and plugins are built by the same compiler with the same flags, so C++ types cross the
// boundary. Any change to this header that changes the class layout or a signature must bump
// kPluginApiVersion. A DataType's code lives in its library: the host keeps the library loaded
// while the object lives (see PluginHost).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <boost/config.hpp>
#include <boost/dll/alias.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"

namespace fieldsync {

inline constexpr std::uint32_t kPluginApiVersion = 2;

// How concurrent writes of one field are reconciled (see DESIGN.md, Merge).
enum class MergePolicy {
  lww,        // last writer wins by (HLC, replica id): the default
  union_set,  // the field is a set of strings; concurrent additions are all kept
  max,        // the larger value wins
  min,        // the smaller value wins
  review,     // LWW, and the losing value is kept as a conflict for a person to resolve
};

const char* to_string(MergePolicy policy) noexcept;

// A figure a type adds to HQ's progress report (households reached, people counted…): the report
// sums it over the records it counts, so a new type shows up there without report code knowing it.
struct ReportFigure {
  std::string key;  // [a-z][a-z0-9_]*, unique within the type: "households_reached"
  std::string en;   // its name in the report's three languages
  std::string fr;
  std::string ar;
};

// What one record tells the report. Every part may be empty: a type without dates, statuses or
// priority areas is still counted, by office and type.
struct ReportFacts {
  std::string date;                       // the day that places it in a period, YYYY-MM-DD
  std::string status;                     // planned | ongoing | implemented | cancelled
  std::vector<int> priority_areas;        // of the Programme of Action, 1-18
  std::string goal;                       // "2.8.3"
  std::map<std::string, double> figures;  // key of report_figures() -> this record's value
};

class DataType {
 public:
  virtual ~DataType() = default;

  // The type's name as records carry it ("activity"): lowercase ASCII, [a-z][a-z0-9_]*.
  virtual std::string name() const = 0;
  // A one-line description for `fieldsync types`.
  virtual std::string description() const = 0;
  // Version of the record shape; records written under an older one go through migrate().
  virtual int schema_version() const = 0;
  // The JSON Schema of the record's fields object (embedded in the library).
  virtual const nlohmann::json& schema() const = 0;
  // The merge policy of one field; lww for any field the type does not name.
  virtual MergePolicy merge_policy(const std::string& field) const = 0;

  // Puts a fields object into canonical form: trims text, Unicode NFC, sorts sets. Never throws
  // for a value of the wrong shape: check() reports those.
  virtual nlohmann::json normalize(nlohmann::json fields) const = 0;
  // Every rule the (normalized) fields object breaks: the JSON Schema first, then the checks a
  // schema cannot state (end_date >= start_date, real calendar dates, …). Empty when valid.
  virtual std::vector<FieldIssue> check(const nlohmann::json& fields) const = 0;
  // Brings fields written under schema version `from_version` to schema_version().
  virtual nlohmann::json migrate(nlohmann::json fields, int from_version) const = 0;
  // A one-line summary for listings; right-to-left text comes wrapped in Unicode isolates so
  // that it shows correctly inside a left-to-right line.
  virtual std::string summary(const nlohmann::json& fields) const = 0;

  // The figures this type adds to HQ's report, in the order the report shows them.
  virtual std::vector<ReportFigure> report_figures() const = 0;
  // What a (normalized, valid) fields object tells the report. Never throws for a record that
  // breaks its rules (one may wait for a person to resolve it): a value of the wrong shape is
  // left out.
  virtual ReportFacts report_facts(const nlohmann::json& fields) const = 0;
};

using DataTypeFactory = std::unique_ptr<DataType>();

// The fields of a record written under schema version `written_under`, as `type` reads them: as
// they are at its own version, through migrate() from an older one. A record written under a newer
// version is refused (Error(plugin), naming `where`): this plugin would check it by rules it has
// outgrown and drop, on the next edit, the fields it does not know. Also refused: what migrate()
// refuses.
nlohmann::json fields_for_type(const DataType& type, const nlohmann::json& fields, int written_under,
                               const std::string& where);

}  // namespace fieldsync

#define FIELDSYNC_EXPORT_DATA_TYPE(factory)                                          \
  extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t fieldsync_plugin_api_version; \
  const std::uint32_t fieldsync_plugin_api_version = ::fieldsync::kPluginApiVersion; \
  BOOST_DLL_ALIAS(factory, fieldsync_create_data_type)
