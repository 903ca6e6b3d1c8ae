#include "core/change_check.hpp"

#include <algorithm>

#include "core/schema_validator.hpp"
#include "core/tuning.hpp"

namespace fieldsync {
namespace {

std::string place_of(const std::string& field, const char* what) {
  if (field == kDeletedField) return std::string(what) + " of the tombstone";
  return std::string(what) + " of field '" + field + "'";
}

// Faults in the order they are reported: the first of the worst kind wins.
struct Worst {
  VersionVerdict verdict;
  void note(VersionFault fault, Hlc version, std::string message) {
    const auto rank = [](VersionFault f) { return f == VersionFault::ahead ? 1 : f == VersionFault::none ? 0 : 2; };
    if (rank(fault) > rank(verdict.fault)) verdict = VersionVerdict{fault, std::move(message), version};
  }
};

// Messages are built only for a fault: a page of thousands of good versions costs no string.
void check_one(Worst& worst, const FieldVersion& version, const std::string& field, const char* what, Hlc newest_allowed) {
  auto place = [&] { return field.empty() ? std::string(what) : place_of(field, what); };
  auto at = [&] { return place() + " (" + std::to_string(version.hlc) + ", \"" + version.replica + "\")"; };
  if (version.hlc == 0 || version.hlc > kMaxStoredHlc) {
    worst.note(VersionFault::malformed, version.hlc, at() + " is not a version (an HLC from 1 to 2^63-1)");
  } else if (!is_replica_id(version.replica)) {
    worst.note(VersionFault::malformed, version.hlc, at() + " does not name a replica (16 lower-case hex digits)");
  } else if (hlc_millis(version.hlc) < static_cast<std::uint64_t>(tuning::kOldestVersionMillis)) {
    worst.note(VersionFault::too_old, version.hlc, place() + " is dated " + format_hlc_time(version.hlc) +
                                                       ", before any data of FieldSync: a broken clock");
  } else if (version.hlc > newest_allowed) {
    worst.note(VersionFault::ahead, version.hlc, place() + " is dated " + format_hlc_time(version.hlc));
  }
}

}  // namespace

bool is_replica_id(std::string_view id) {
  return id.size() == 16 && std::all_of(id.begin(), id.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

Hlc newest_allowed_at(std::int64_t reference_millis) {
  // 48 bits of milliseconds; clamp so neither the sum nor the shift can overflow.
  constexpr std::int64_t kMaxMillis = (std::int64_t{1} << 47) - 1;  // keeps the HLC below 2^63
  const std::int64_t ms = std::clamp<std::int64_t>(reference_millis, 0, kMaxMillis - tuning::kMaxClockAheadMillis) +
                          tuning::kMaxClockAheadMillis;
  return make_hlc(static_cast<std::uint64_t>(ms), 0xffff);
}

VersionVerdict check_versions(const RecordChange& change, Hlc newest_allowed) {
  Worst worst;
  static const std::string kNoField;
  check_one(worst, change.created, kNoField, "the creation version", newest_allowed);
  for (const auto& [field, state] : change.fields) {
    for (const auto& head : state.heads) check_one(worst, head.version, field, "a write", newest_allowed);
    for (const auto& version : state.replaced) check_one(worst, version, field, "a replaced version", newest_allowed);
  }
  return worst.verdict;
}

FieldValueChecker::FieldValueChecker(const nlohmann::json& type_schema)
    : validator_(std::make_unique<SchemaValidator>(type_schema)) {}

FieldValueChecker::~FieldValueChecker() = default;

std::vector<FieldIssue> FieldValueChecker::check(const std::string& field, const nlohmann::json& value) const {
  if (value.is_null()) return {};
  // The field alone in a record: the schema's rules for it (its type, enum, pattern, whether it
  // is a field of the type at all) apply; rules naming other fields ("required") are dropped.
  std::vector<FieldIssue> issues = validator_->validate(nlohmann::json{{field, value}});
  std::erase_if(issues, [&](const FieldIssue& issue) { return issue.field != field; });
  return issues;
}

std::vector<FieldIssue> check_tombstones(const RecordChange& change) {
  std::vector<FieldIssue> issues;
  auto it = change.fields.find(kDeletedField);
  if (it == change.fields.end()) return issues;
  for (const auto& head : it->second.heads) {
    if (!head.value.is_boolean()) {
      issues.push_back({kDeletedField, "tombstone", "a tombstone is true (deleted) or false (kept), not a value"});
      break;
    }
  }
  return issues;
}

}  // namespace fieldsync
