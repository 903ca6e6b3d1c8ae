# Turns a text file into a C++ source that defines `const char* <SYMBOL>()` returning its bytes.
# Run at build time: cmake -DINPUT=… -DOUTPUT=… -DSYMBOL=… -DNAMESPACE=… -P embed_file.cmake
file(READ "${INPUT}" content HEX)
string(LENGTH "${content}" hex_length)
math(EXPR byte_count "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${content}")
file(WRITE "${OUTPUT}.tmp"
  "// Generated from ${INPUT} by cmake/embed_file.cmake. Do not edit.\n"
  "#include <string_view>\n"
  "namespace ${NAMESPACE} {\n"
  "namespace { const char kBytes[] = {${bytes} '\\0'}; }\n"
  "std::string_view ${SYMBOL}() { return std::string_view(kBytes, ${byte_count}); }\n"
  "}\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
