// fixture_no_factory: exports the right API version but no factory alias.
#include "core/data_type.hpp"

extern "C" BOOST_SYMBOL_EXPORT const std::uint32_t fieldsync_plugin_api_version;
const std::uint32_t fieldsync_plugin_api_version = ::fieldsync::kPluginApiVersion;
