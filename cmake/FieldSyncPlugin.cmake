include(${CMAKE_CURRENT_LIST_DIR}/FieldSyncEmbed.cmake)

# fieldsync_add_plugin(NAME SCHEMA file.json SOURCES a.cpp … [TO_PUBLISH] [OUTPUT_DIRECTORY dir])
# Builds a data-type plugin as a MODULE library in the build's plugin folder (built in: every
# replica of this build loads it), or with TO_PUBLISH in its publish folder (for HQ to roll out to
# the offices), with its JSON
# Schema embedded (function `std::string_view fieldsync::plugin_<NAME>::embedded_schema()`), so
# the one .so file is the whole plugin. OUTPUT_DIRECTORY puts it elsewhere (a test's own version
# of a plugin, beside the fixtures).
function(fieldsync_add_plugin name)
  cmake_parse_arguments(ARG "TO_PUBLISH" "SCHEMA;OUTPUT_DIRECTORY" "SOURCES" ${ARGN})
  set(output_dir "${FIELDSYNC_PLUGIN_OUTPUT_DIR}")
  if(ARG_OUTPUT_DIRECTORY)
    set(output_dir "${ARG_OUTPUT_DIRECTORY}")
  elseif(ARG_TO_PUBLISH)
    set(output_dir "${FIELDSYNC_PUBLISH_OUTPUT_DIR}")
  endif()
  fieldsync_embed_file(generated INPUT "${ARG_SCHEMA}" SYMBOL embedded_schema NAMESPACE fieldsync::plugin_${name})
  add_library(${name} MODULE ${ARG_SOURCES} "${generated}")
  target_link_libraries(${name} PRIVATE fieldsync_plugin_support)
  set_target_properties(${name} PROPERTIES
    PREFIX "lib"
    OUTPUT_NAME "fieldsync_${name}"
    LIBRARY_OUTPUT_DIRECTORY "${output_dir}")
  # A plugin must not leave an undefined symbol for load time to find missing. (Not in the fuzz
  # build: clang's ASan runtime lives in the executable, so a sanitized plugin leaves its hooks
  # undefined until it is loaded there.)
  if(NOT FIELDSYNC_FUZZ)
    target_link_options(${name} PRIVATE -Wl,--no-undefined)
  endif()
  # A plugin to publish travels to every office over links of a few hundred kbit/s: without its
  # debug sections it is a tenth of the size (debug it from the build's own objects).
  if(ARG_TO_PUBLISH)
    target_link_options(${name} PRIVATE -Wl,--strip-debug)
  endif()
endfunction()
