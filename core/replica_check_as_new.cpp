// check_as_new: the type checks of a page of new records, run before apply() and outside any
// store transaction, split over threads. On a first push nearly every change is a record as
// created, and its plugin's check (JSON Schema and cross-field rules) is the largest single cost
// of storing it: HQ runs it here for a page on two cores while the store stays free.
#include <algorithm>
#include <future>
#include <optional>

#include "core/merge.hpp"
#include "core/replica.hpp"

namespace fieldsync {
namespace {

// Whether `change` is a record as created whose values `type` accepts, exactly as apply() would
// decide for a new record: one write per field at the creation version, shown as written (what
// resolve_record shows of one write is the write itself, but for a set, which it sorts), so the
// values are checked as they stand, without building the record. Nothing when the change is not
// in that shape (apply decides); else what the values break (empty: they pass).
std::optional<std::vector<FieldIssue>> check_values_as_new(const RecordChange& change, const DataType& type) {
  if (change.fields.empty()) return std::nullopt;
  nlohmann::json fields = nlohmann::json::object();
  auto& object = fields.get_ref<nlohmann::json::object_t&>();
  for (const auto& [field, state] : change.fields) {
    if (field == kDeletedField || state.heads.size() != 1 || !state.replaced.empty()) return std::nullopt;
    const FieldWrite& write = state.heads.front();
    if (write.version != change.created || write.value.is_null()) return std::nullopt;
    const MergePolicy policy = type.merge_policy(field);
    if (policy == MergePolicy::union_set && resolved_value(state, policy) != write.value) return std::nullopt;
    object.emplace_hint(object.end(), field, write.value);
  }
  // Written under an older version of the type: checked as its migration reads it, as apply()
  // does. A newer version, or one the plugin cannot migrate, is for apply() to refuse.
  if (change.schema_version > type.schema_version()) return std::nullopt;
  if (change.schema_version < type.schema_version()) {
    try {
      fields = type.migrate(std::move(fields), change.schema_version);
    } catch (const Error&) {
      return std::nullopt;
    }
  }
  return type.check(fields);
}

}  // namespace

Replica::AsNewChecks Replica::check_as_new(const std::vector<RecordChange>& changes, unsigned threads) const {
  std::vector<char> passed(changes.size(), 0);  // not vector<bool>: threads write apart
  std::vector<std::vector<FieldIssue>> broken(changes.size());
  auto check_range = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      auto type = types_.find(changes[i].type);
      if (!type) continue;
      auto issues = check_values_as_new(changes[i], *type);
      if (!issues) continue;
      passed[i] = issues->empty();
      broken[i] = std::move(*issues);
    }
  };
  // A thread costs tens of microseconds to start: worth it only for a page of some size.
  constexpr std::size_t kPerThreadAtLeast = 64;
  const std::size_t parts = std::clamp<std::size_t>(changes.size() / kPerThreadAtLeast, 1, std::max(threads, 1u));
  std::vector<std::future<void>> others;
  const std::size_t step = (changes.size() + parts - 1) / parts;
  for (std::size_t part = 1; part < parts; ++part) {
    others.push_back(std::async(std::launch::async, check_range, part * step, std::min(changes.size(), (part + 1) * step)));
  }
  check_range(0, std::min(changes.size(), step));
  for (auto& other : others) other.get();
  AsNewChecks checks;
  checks.vouched.assign(passed.begin(), passed.end());
  for (std::size_t i = 0; i < changes.size(); ++i) {
    if (!broken[i].empty()) checks.broken.emplace(i, std::move(broken[i]));
  }
  return checks;
}

}  // namespace fieldsync
