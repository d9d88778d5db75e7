# Writes OUT, a C file holding each console page file as a byte array
# (served by gw_console.c), so the gateway needs no files at run time.
# Usage: cmake -DDIR=gateway/console -DOUT=gw_console_data.c -P embed.cmake
set(files index.html console.js console.css)
set(names index js css)
file(WRITE ${OUT} "/* Generated from gateway/console by embed.cmake. */\n#include <stddef.h>\n")
foreach(i RANGE 2)
  list(GET files ${i} f)
  list(GET names ${i} name)
  file(READ ${DIR}/${f} hex HEX)
  string(LENGTH "${hex}" n)
  math(EXPR len "${n} / 2")
  string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
  file(APPEND ${OUT} "const unsigned char gw_console_${name}[] = {${bytes}0x00};\n")
  file(APPEND ${OUT} "const size_t gw_console_${name}_len = ${len};\n")
endforeach()
