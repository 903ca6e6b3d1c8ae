// fixture_throwing: a plugin whose factory throws; the host must catch it at its door.
#include <stdexcept>

#include "core/data_type.hpp"

namespace {
std::unique_ptr<fieldsync::DataType> create_throwing() {
  throw std::runtime_error("fixture factory refuses to start");
}
}  // namespace

FIELDSYNC_EXPORT_DATA_TYPE(create_throwing)
