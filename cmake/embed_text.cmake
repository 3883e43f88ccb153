# cmake -DIN=file -DOUT=header -DNAME=identifier -P embed_text.cmake
# Writes OUT declaring `inline constexpr char NAME[]` holding the bytes of IN as one raw string
# literal (the file must not contain the delimiter `)vela_embed"`). OUT is rewritten only when it
# changes, so an unchanged file rebuilds nothing.
file(READ "${IN}" CONTENT)
string(FIND "${CONTENT}" ")vela_embed\"" FOUND)
if(NOT FOUND EQUAL -1)
  message(FATAL_ERROR "${IN} contains the raw string delimiter )vela_embed\"")
endif()
set(TEXT "// Generated from ${IN} by cmake/embed_text.cmake: do not edit.\n#pragma once\n\ninline constexpr char ${NAME}[] = R\"vela_embed(${CONTENT})vela_embed\";\n")
file(WRITE "${OUT}.tmp" "${TEXT}")
configure_file("${OUT}.tmp" "${OUT}" COPYONLY)
