# build_info: run at build time (cmake -P) to write build_info.h with the git
# revision of the source tree, so `llmnet --version` names the commit it was
# built from. Outside a git checkout (a release tarball, a package build from
# sources without .git) the revision is "unknown"; LLN_GIT_REVISION, when set,
# wins (for packagers). The file is rewritten only when its text changes, so
# an unchanged revision rebuilds nothing.
#   cmake -DSOURCE_DIR=... -DOUTPUT=.../build_info.h [-DLLN_GIT_REVISION=...] -P build_info.cmake
set(revision "${LLN_GIT_REVISION}")
if(NOT revision)
  find_program(GIT git)
  if(GIT)
    # only the source tree's own repository: sources unpacked inside some
    # other checkout are not that checkout's revision
    execute_process(COMMAND ${GIT} -C ${SOURCE_DIR} rev-parse --show-toplevel
                    OUTPUT_VARIABLE top OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
    file(REAL_PATH "${SOURCE_DIR}" source_real)
    if(rc EQUAL 0)
      file(REAL_PATH "${top}" top)
    endif()
    if(rc EQUAL 0 AND top STREQUAL source_real)
      execute_process(COMMAND ${GIT} -C ${SOURCE_DIR} describe --always --dirty --abbrev=12
                      OUTPUT_VARIABLE revision OUTPUT_STRIP_TRAILING_WHITESPACE
                      RESULT_VARIABLE rc ERROR_QUIET)
      if(NOT rc EQUAL 0)
        set(revision "")
      endif()
    endif()
  endif()
endif()
if(NOT revision)
  set(revision "unknown")
endif()
set(text "/* build_info.h: written by cmake/build_info.cmake at build time; do not edit. */\n#define LLN_GIT_REVISION \"${revision}\"\n")
if(EXISTS ${OUTPUT})
  file(READ ${OUTPUT} old)
else()
  set(old "")
endif()
if(NOT old STREQUAL text)
  file(WRITE ${OUTPUT} "${text}")
endif()
