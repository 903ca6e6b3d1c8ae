// A minimal valid DataType for the plugin host's tests: type "note", one required string field
// `title`. Built twice, as schema version 1 (fixture_note) and 2 (fixture_note_v2), to test
// loading a second type and the rule that the higher schema version of a name wins.
#pragma once

#include "core/data_type.hpp"

namespace fieldsync::fixture {

// `version` is the schema version the plugin reports; nothing else differs between versions.
std::unique_ptr<DataType> make_note_type(int version);

}  // namespace fieldsync::fixture
