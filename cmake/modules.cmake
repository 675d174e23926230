# Modules: one static library per directory of src/, in a one-way
# dependency order the build enforces (docs/ARCHITECTURE.md "Modules").
#
# lln_module(NAME [DEPS module...] [LIBS lib...] [INTERNAL header...]
#            [TOLERATE module...])
# builds src/NAME/*.c as the static library lln_NAME. Its sources, and the
# sources of every module that links it, include its headers as
# "NAME/header.h", through include directories in the build tree:
#   module-include/public/NAME/NAME/  one symlink per public header: every
#                                     src/NAME/*.h except *_int.h and INTERNAL;
#                                     PUBLIC, so modules above NAME see it
#   module-include/all/NAME/NAME ->   src/NAME, PRIVATE: NAME's own sources see
#                                     its internal headers too
# There is no include path to src/ itself, so a module can include only its
# own headers and the public headers of the modules in DEPS (and theirs):
# an include against the order does not compile. DEPS must name modules
# declared before, so the order cannot have a cycle. TOLERATE names a module
# above this one whose headers are included anyway: a known back-edge, kept
# only until it is removed, which the layering check (check_layering.cmake)
# then stops excusing.

set(LLN_MODULE_INCLUDE_ROOT ${CMAKE_BINARY_DIR}/module-include)
file(REMOVE_RECURSE ${LLN_MODULE_INCLUDE_ROOT})
set(LLN_MODULES "")

function(lln_module name)
  cmake_parse_arguments(M "" "" "DEPS;LIBS;INTERNAL;TOLERATE" ${ARGN})
  set(src_dir ${CMAKE_SOURCE_DIR}/src/${name})
  if(NOT IS_DIRECTORY ${src_dir})
    message(FATAL_ERROR "lln_module(${name}): there is no src/${name}")
  endif()
  set(closure "")
  foreach(dep ${M_DEPS})
    if(NOT dep IN_LIST LLN_MODULES)
      message(FATAL_ERROR "lln_module(${name}): DEPS ${dep} is not a module declared before ${name}; "
                          "declare modules from the bottom of the order up (docs/ARCHITECTURE.md \"Modules\")")
    endif()
    list(APPEND closure ${dep} ${LLN_MODULE_CLOSURE_${dep}})
  endforeach()
  list(REMOVE_DUPLICATES closure)

  file(GLOB sources CONFIGURE_DEPENDS ${src_dir}/*.c)
  file(GLOB headers CONFIGURE_DEPENDS ${src_dir}/*.h)
  set(public_dir ${LLN_MODULE_INCLUDE_ROOT}/public/${name})
  set(all_dir ${LLN_MODULE_INCLUDE_ROOT}/all/${name})
  file(MAKE_DIRECTORY ${public_dir}/${name} ${all_dir})
  file(CREATE_LINK ${src_dir} ${all_dir}/${name} SYMBOLIC)
  set(public "")
  set(internal "")
  foreach(header ${headers})
    get_filename_component(base ${header} NAME)
    if(base MATCHES "_int\\.h$" OR base IN_LIST M_INTERNAL)
      list(APPEND internal ${name}/${base})
    else()
      list(APPEND public ${name}/${base})
      file(CREATE_LINK ${header} ${public_dir}/${name}/${base} SYMBOLIC)
    endif()
  endforeach()

  add_library(lln_${name} STATIC ${sources})
  target_include_directories(lln_${name} PUBLIC ${public_dir} PRIVATE ${all_dir})
  target_compile_options(lln_${name} PRIVATE -Wall -Wextra -Werror)
  foreach(dep ${M_DEPS})
    target_link_libraries(lln_${name} PUBLIC lln_${dep})
  endforeach()
  if(M_LIBS)
    target_link_libraries(lln_${name} PUBLIC ${M_LIBS})
  endif()
  foreach(above ${M_TOLERATE})
    # Headers and symbols of a module above: a cycle of static libraries,
    # which CMake links by repeating them. Never new: see TOLERATE above.
    target_link_libraries(lln_${name} PRIVATE lln_${above})
  endforeach()

  set(LLN_MODULES ${LLN_MODULES} ${name} PARENT_SCOPE)
  set(LLN_MODULE_CLOSURE_${name} ${closure} PARENT_SCOPE)
  set(LLN_MODULE_PUBLIC_${name} ${public} PARENT_SCOPE)
  set(LLN_MODULE_INTERNAL_${name} ${internal} PARENT_SCOPE)
  set(LLN_MODULE_TOLERATE_${name} ${M_TOLERATE} PARENT_SCOPE)
endfunction()

# After the last lln_module: every directory of src/ must be a module (a new
# one that is not would not be built), and lln_core is every module, with
# every module's internal headers visible, for white-box unit tests and
# fuzz harnesses; the llmnet binary links modules, not lln_core.
macro(lln_modules_done)
  file(GLOB _lln_src_entries LIST_DIRECTORIES true ${CMAKE_SOURCE_DIR}/src/*)
  foreach(_entry ${_lln_src_entries})
    get_filename_component(_dir ${_entry} NAME)
    if(IS_DIRECTORY ${_entry} AND NOT _dir IN_LIST LLN_MODULES)
      message(FATAL_ERROR "src/${_dir} is not a module: add lln_module(${_dir} DEPS ...) to CMakeLists.txt "
                          "at its place in the order (docs/ARCHITECTURE.md \"Modules\")")
    endif()
  endforeach()
  set(LLN_MODULE_TARGETS "")
  add_library(lln_core INTERFACE)
  foreach(_m ${LLN_MODULES})
    list(APPEND LLN_MODULE_TARGETS lln_${_m})
    target_link_libraries(lln_core INTERFACE lln_${_m})
    target_include_directories(lln_core INTERFACE ${LLN_MODULE_INCLUDE_ROOT}/all/${_m})
  endforeach()
endmacro()

# One unit-labelled test per module (after enable_testing): compiles
# one-line probes with exactly the include directories the module's own
# sources get, and checks that the public headers of the modules below it
# and its own internal headers compile, while the public headers of every
# module not below it and the internal headers of the modules below it
# cannot be found (cmake/check_layering.cmake). A TOLERATE that nothing
# needs any more fails the test too, so the exception is removed with its
# cause.
function(lln_module_layering_tests)
  foreach(m ${LLN_MODULES})
    set(allowed "")
    set(forbidden "")
    foreach(n ${LLN_MODULES})
      list(GET LLN_MODULE_PUBLIC_${n} 0 public_probe)
      set(internal_probe "")
      if(LLN_MODULE_INTERNAL_${n})
        list(GET LLN_MODULE_INTERNAL_${n} 0 internal_probe)
      endif()
      if(n STREQUAL m)
        list(APPEND allowed ${public_probe} ${internal_probe})
      elseif(n IN_LIST LLN_MODULE_CLOSURE_${m})
        list(APPEND allowed ${public_probe})
        list(APPEND forbidden ${internal_probe})
      elseif(NOT n IN_LIST LLN_MODULE_TOLERATE_${m})
        list(APPEND forbidden ${public_probe} ${internal_probe})
      endif()
    endforeach()
    set(spec ${CMAKE_BINARY_DIR}/layering/${m}.cmake)
    file(GENERATE OUTPUT ${spec} CONTENT
"set(MODULE \"${m}\")
set(INCLUDE_DIRS \"$<TARGET_PROPERTY:lln_${m},INCLUDE_DIRECTORIES>\")
set(ALLOWED \"${allowed}\")
set(FORBIDDEN \"${forbidden}\")
set(TOLERATED \"${LLN_MODULE_TOLERATE_${m}}\")
set(SOURCE_DIR \"${CMAKE_SOURCE_DIR}/src/${m}\")
set(WORK_DIR \"${CMAKE_BINARY_DIR}/layering/${m}\")
")
    add_test(NAME unit/layering_${m}
             COMMAND ${CMAKE_COMMAND} -DCC=${CMAKE_C_COMPILER} -DSPEC=${spec}
                     -P ${CMAKE_SOURCE_DIR}/cmake/check_layering.cmake)
    set_tests_properties(unit/layering_${m} PROPERTIES LABELS unit)
  endforeach()
endfunction()
