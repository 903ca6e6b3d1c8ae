// fixture_no_version: exports a working factory but no API version symbol, as a library built
// for something else (or before versioning) would. The host must not call the factory.
#include <cstdlib>

#include "core/data_type.hpp"

namespace {
std::unique_ptr<fieldsync::DataType> create_unversioned() { std::abort(); }
}  // namespace

BOOST_DLL_ALIAS(create_unversioned, fieldsync_create_data_type)
