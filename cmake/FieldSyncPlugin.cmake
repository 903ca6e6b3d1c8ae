# fieldsync_add_plugin(NAME SCHEMA file.json SOURCES a.cpp …)
# Builds a data-type plugin as a MODULE library in the build's plugin folder, with its JSON
# Schema embedded (function `std::string_view fieldsync::plugin_<NAME>::embedded_schema()`), so
# the one .so file is the whole plugin.
function(fieldsync_add_plugin name)
  cmake_parse_arguments(ARG "" "SCHEMA" "SOURCES" ${ARGN})
  set(generated "${CMAKE_CURRENT_BINARY_DIR}/${name}_embedded_schema.cpp")
  add_custom_command(
    OUTPUT "${generated}"
    COMMAND ${CMAKE_COMMAND} -DINPUT=${ARG_SCHEMA} -DOUTPUT=${generated}
            -DSYMBOL=embedded_schema -DNAMESPACE=fieldsync::plugin_${name}
            -P "${PROJECT_SOURCE_DIR}/cmake/embed_file.cmake"
    DEPENDS "${ARG_SCHEMA}" "${PROJECT_SOURCE_DIR}/cmake/embed_file.cmake"
    COMMENT "Embedding ${ARG_SCHEMA} into the ${name} plugin")
  add_library(${name} MODULE ${ARG_SOURCES} "${generated}")
  target_link_libraries(${name} PRIVATE fieldsync_common)
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    OUTPUT_NAME "fieldsync_${name}"
    LIBRARY_OUTPUT_DIRECTORY "${FIELDSYNC_PLUGIN_OUTPUT_DIR}")
  # A plugin must not leave an undefined symbol for load time to find missing.
  target_link_options(${name} PRIVATE -Wl,--no-undefined)
endfunction()
