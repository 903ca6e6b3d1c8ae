// fixture_note / fixture_note_v2: a valid plugin of type "note"; NOTE_SCHEMA_VERSION is set by
// CMake (1 or 2).
#include "tests/fixture_plugins/note_type.hpp"

namespace {
std::unique_ptr<fieldsync::DataType> create_note() {
  return fieldsync::fixture::make_note_type(NOTE_SCHEMA_VERSION);
}
}  // namespace

FIELDSYNC_EXPORT_DATA_TYPE(create_note)
