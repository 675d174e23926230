# Script mode (cmake -DINPUT=file -DOUTPUT=file.c -DSYMBOL=name -P embed_file.cmake):
# writes OUTPUT, a C file defining SYMBOL (INPUT's bytes plus a NUL) and
# SYMBOL_len (the byte count). Called at build time by cmake/embed.cmake.
foreach(var INPUT OUTPUT SYMBOL)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "embed_file.cmake: -D${var}= is required")
  endif()
endforeach()

file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_len)
math(EXPR size "${hex_len} / 2")
# "3c21..." -> "0x3c, 0x21, ...", 16 bytes a line
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1, " bytes "${hex}")
string(REPEAT "0x[0-9a-f][0-9a-f], " 16 line) # CMake regexes have no {n}
string(REGEX REPLACE "(${line})" "\\1\n  " bytes "${bytes}")
string(REPLACE " \n" "\n" bytes "${bytes}")

get_filename_component(name "${INPUT}" NAME)
file(WRITE "${OUTPUT}.tmp"
  "/* Generated at build time by cmake/embed_file.cmake from ${name}; do not edit. */\n"
  "#include <stddef.h>\n\n"
  "extern const unsigned char ${SYMBOL}[];\n"
  "extern const size_t ${SYMBOL}_len;\n\n"
  "const unsigned char ${SYMBOL}[] = {\n  ${bytes}0x00\n};\n"
  "const size_t ${SYMBOL}_len = ${size};\n")
file(RENAME "${OUTPUT}.tmp" "${OUTPUT}")
