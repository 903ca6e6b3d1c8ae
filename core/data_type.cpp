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

}  // namespace fieldsync
