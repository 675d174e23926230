# check_layering: proves one module's view of the headers matches the
# dependency order (cmake/modules.cmake). Run by the unit/layering_<module>
# tests as: cmake -DCC=<compiler> -DSPEC=<build>/layering/<module>.cmake -P
# this file. SPEC sets MODULE, INCLUDE_DIRS (exactly the directories the
# module's own sources are compiled with), ALLOWED and FORBIDDEN (headers as
# "module/header.h"). Each header gets a one-line probe source compiled with
# -fsyntax-only: an ALLOWED one must compile (so the probe itself works), a
# FORBIDDEN one must fail because the header is not found, and for no other
# reason. TOLERATED lists modules above whose headers the module includes
# anyway (a known back-edge): at least one file of SOURCE_DIR must still
# include one, or the exception must go.
foreach(var CC SPEC)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_layering: -D${var}=... is required")
  endif()
endforeach()
include(${SPEC})

file(MAKE_DIRECTORY ${WORK_DIR})
set(flags -std=c11 -D_GNU_SOURCE -fsyntax-only)
foreach(dir ${INCLUDE_DIRS})
  list(APPEND flags -I${dir})
endforeach()

function(probe header expect)
  string(MAKE_C_IDENTIFIER ${header} id)
  set(src ${WORK_DIR}/${id}.c)
  file(WRITE ${src} "/* probe: may src/${MODULE} include ${header}? */\n#include \"${header}\"\n")
  execute_process(COMMAND ${CC} ${flags} ${src} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(REPLACE "." "\\." header_re ${header})
  if(expect STREQUAL "allowed" AND NOT rc EQUAL 0)
    message(SEND_ERROR "src/${MODULE} cannot include \"${header}\", which the order allows:\n${out}")
  elseif(expect STREQUAL "forbidden")
    if(rc EQUAL 0)
      message(SEND_ERROR "src/${MODULE} can include \"${header}\", which the order forbids: "
                         "a module's include directories must hold only the public headers of the modules "
                         "it links (cmake/modules.cmake)")
    elseif(NOT out MATCHES "${header_re}'?: No such file or directory|'${header_re}' file not found")
      message(SEND_ERROR "src/${MODULE}: the probe including \"${header}\" failed for another reason "
                         "than a missing header:\n${out}")
    endif()
  endif()
endfunction()

foreach(header ${ALLOWED})
  probe(${header} allowed)
endforeach()
foreach(header ${FORBIDDEN})
  probe(${header} forbidden)
endforeach()
foreach(above ${TOLERATED})
  file(GLOB files ${SOURCE_DIR}/*.[ch])
  set(used "")
  foreach(file ${files})
    file(STRINGS ${file} lines REGEX "^#include \"${above}/")
    if(lines)
      list(APPEND used ${file})
    endif()
  endforeach()
  if(NOT used)
    message(SEND_ERROR "src/${MODULE} no longer includes any ${above}/ header: remove TOLERATE ${above} "
                       "from lln_module(${MODULE}) in CMakeLists.txt")
  else()
    message(STATUS "src/${MODULE}: tolerated back-edge to ${above} in ${used}")
  endif()
endforeach()
list(LENGTH ALLOWED n_allowed)
list(LENGTH FORBIDDEN n_forbidden)
message(STATUS "src/${MODULE}: ${n_allowed} allowed and ${n_forbidden} forbidden includes checked")
