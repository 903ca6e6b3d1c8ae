# fieldsync_embed_file(OUT_VAR INPUT file SYMBOL name NAMESPACE ns)
# Generates, at build time, a C++ source defining `std::string_view ns::name()` that returns the
# bytes of `file`, and puts its path in OUT_VAR to add to a target's sources. The file is read
# again whenever it changes.
function(fieldsync_embed_file out_var)
  cmake_parse_arguments(ARG "" "INPUT;SYMBOL;NAMESPACE" "" ${ARGN})
  string(REPLACE "::" "_" ns_slug "${ARG_NAMESPACE}")
  set(generated "${CMAKE_CURRENT_BINARY_DIR}/embedded_${ns_slug}_${ARG_SYMBOL}.cpp")
  add_custom_command(
    OUTPUT "${generated}"
    COMMAND ${CMAKE_COMMAND} -DINPUT=${ARG_INPUT} -DOUTPUT=${generated}
            -DSYMBOL=${ARG_SYMBOL} -DNAMESPACE=${ARG_NAMESPACE}
            -P "${PROJECT_SOURCE_DIR}/cmake/embed_file.cmake"
    DEPENDS "${ARG_INPUT}" "${PROJECT_SOURCE_DIR}/cmake/embed_file.cmake"
    COMMENT "Embedding ${ARG_INPUT}")
  set(${out_var} "${generated}" PARENT_SCOPE)
endfunction()
