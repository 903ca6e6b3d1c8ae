#include "core/data_type.hpp"

namespace fieldsync {

const char* to_string(MergePolicy policy) noexcept {
  switch (policy) {
    case MergePolicy::lww: return "lww";
    case MergePolicy::union_set: return "union";
    case MergePolicy::max: return "max";
    case MergePolicy::min: return "min";
    case MergePolicy::review: return "review";
  }
  return "lww";
}

nlohmann::json fields_for_type(const DataType& type, const nlohmann::json& fields, int written_under,
                               const std::string& where) {
  const int version = type.schema_version();
  if (written_under == version) return fields;
  if (written_under > version) {
    throw Error(Errc::plugin,
                "this " + type.name() + " record was written under version " + std::to_string(written_under) +
                    " of its plugin, and the one here is version " + std::to_string(version) +
                    ": it is kept as it is, and changed once a sync or `fieldsync plugins update` brings the newer plugin",
                where);
  }
  try {
    return type.migrate(fields, written_under);
  } catch (const Error& e) {
    throw Error(e.code(), e.what(), where, e.issues());
  }
}

}  // namespace fieldsync
