// fixture_wrong_api: looks like a plugin but was "built against" another plugin API. The host must
// refuse it from the version alone; its factory aborts, so a test that survives proves the host
// never called it.
#include <cstdlib>

#include "core/data_type.hpp"

namespace {
std::unique_ptr<fieldsync::DataType> create_never() { std::abort(); }
}  // namespace

extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t fieldsync_plugin_api_version;
const std::uint32_t fieldsync_plugin_api_version = ::fieldsync::kPluginApiVersion + 41;
BOOST_DLL_ALIAS(create_never, fieldsync_create_data_type)
