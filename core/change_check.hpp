// What a change from another replica carries, checked before any of it is applied.
//
// A change names versions — the record's creation, every current write (head) and every
// replaced version of every field, the tombstone's — and values. One version stamped far ahead
// would move the clock of every replica that observes it, for good (its next writes would be
// dated decades ahead and win every conflict); one bad value hidden behind a winning write would
// be stored and later offered as a conflict. HQ (for a push) and a laptop (for a pull) therefore
// check every version and every value of a whole page with these functions before they touch
// their store or their clock (Replica::apply_changes, HqService::sync).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/hlc.hpp"
#include "core/record.hpp"

namespace fieldsync {

class SchemaValidator;

// The largest version a store keeps: SQLite's INTEGER is signed 64-bit.
inline constexpr Hlc kMaxStoredHlc = static_cast<Hlc>(INT64_MAX);

// A replica id as Replica::create makes them: 16 lower-case hex digits.
bool is_replica_id(std::string_view id);

// The newest version allowed when the reference clock (HQ's) reads `reference_millis`:
// tuning::kMaxClockAheadMillis later, any counter. Never past kMaxStoredHlc.
Hlc newest_allowed_at(std::int64_t reference_millis);

enum class VersionFault {
  none,
  malformed,  // 0, past kMaxStoredHlc, or a replica id that is not one
  too_old,    // before tuning::kOldestVersionMillis
  ahead,      // past the newest allowed: the sender's clock runs ahead
};

struct VersionVerdict {
  VersionFault fault = VersionFault::none;
  std::string message;  // names the version's place: "the creation version", "a replaced version of field 'x'"
  Hlc version = 0;      // the offending version
};

// Checks every version `change` carries. A malformed or too old version is reported before one
// that is only ahead: re-stamping (the answer to "ahead") cannot mend those.
VersionVerdict check_versions(const RecordChange& change, Hlc newest_allowed);

// Checks one field's values against a data type's JSON Schema, one field at a time: a value is
// valid when the schema accepts it as that field's value (rules about other fields, such as
// "required", do not apply). Not thread-safe (SchemaValidator is not).
class FieldValueChecker {
 public:
  explicit FieldValueChecker(const nlohmann::json& type_schema);
  ~FieldValueChecker();
  FieldValueChecker(const FieldValueChecker&) = delete;
  FieldValueChecker& operator=(const FieldValueChecker&) = delete;

  // The rules `value` breaks as the value of `field` (empty when valid). Null (the field
  // removed) is not checked here: whether a field may be absent is a rule of the whole record.
  std::vector<FieldIssue> check(const std::string& field, const nlohmann::json& value) const;

 private:
  std::unique_ptr<SchemaValidator> validator_;
};

// Every value the change's field states hold that is not a plain field value by shape: a
// tombstone (kDeletedField) write must be true (deleted) or false (kept); issues name the field.
std::vector<FieldIssue> check_tombstones(const RecordChange& change);

}  // namespace fieldsync
