# Writes OUTPUT, a C++ file defining `const unsigned char NAME[]` with the bytes of
# INPUT (documents the server serves: the OpenAPI document, the docs page).
file(READ "${INPUT}" content HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," content "${content}")
file(WRITE "${OUTPUT}" "// Generated from ${INPUT} by cmake/embed.cmake; do not edit.\n#include <cstddef>\nnamespace bourse::gateway {\nextern const unsigned char ${NAME}[];\nextern const std::size_t ${NAME}_size;\nconst unsigned char ${NAME}[] = {${content} 0};\nconst std::size_t ${NAME}_size = sizeof(${NAME}) - 1;\n}\n")
