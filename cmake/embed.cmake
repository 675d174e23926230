# Embeds files into a target as C arrays generated at build time in the
# build tree (portable C: any compiler, no .incbin or linker tricks).
# lln_embed(TARGET FILE SYMBOL) defines, in a generated C file,
#   const unsigned char SYMBOL[];   the file's bytes followed by a NUL
#   const size_t SYMBOL_len;        their count without the NUL
# and regenerates it whenever FILE changes.
function(lln_embed target file symbol)
  set(out ${CMAKE_BINARY_DIR}/generated/${symbol}.c)
  file(RELATIVE_PATH rel ${CMAKE_SOURCE_DIR} ${file})
  add_custom_command(
    OUTPUT ${out}
    COMMAND ${CMAKE_COMMAND} -DINPUT=${file} -DOUTPUT=${out} -DSYMBOL=${symbol} -P ${CMAKE_SOURCE_DIR}/cmake/embed_file.cmake
    DEPENDS ${file} ${CMAKE_SOURCE_DIR}/cmake/embed_file.cmake
    COMMENT "Embedding ${rel} as ${symbol}"
    VERBATIM)
  target_sources(${target} PRIVATE ${out})
endfunction()

# The status page served at GET / (src/observe/status_page.c hands it out).
lln_embed(lln_observe ${CMAKE_SOURCE_DIR}/src/observe/status.html lln_status_html)
