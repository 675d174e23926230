# install: what `make install` / `cmake --install` put under the prefix
# (PREFIX, default /usr/local; DESTDIR is honoured), and so what the Debian
# package holds (packaging/deb.sh installs with --prefix /usr):
#   bin/llmnet                                   the program
#   share/llmnet/examples/                       the example compositions, mock rules, hook scripts
#   share/doc/llmnet/                            README.md and docs/*.md
#   share/man/man1/llmnet.1.gz                   the manual page (packaging/llmnet.1)
#   share/bash-completion/completions/llmnet     bash completion
#   <unit dir>/llmnet@.service                   the systemd template unit, one instance per composition
#   <sysconf dir>/llmnet/example.json, .env      a commented sample composition and its environment
# The last two depend on the prefix in place at install time (cmake --install
# --prefix may differ from the configured one), so they are placed by
# cmake/install_system.cmake when the install runs. Every file lands in
# install_manifest.txt, which `make uninstall` reads.
include(GNUInstallDirs)
# One component, named, so packaging/deb.sh can install it with --component
# llmnet and write install_manifest_llmnet.txt, leaving the install_manifest.txt
# of a `make install` (which `make uninstall` reads) alone.
set(CMAKE_INSTALL_DEFAULT_COMPONENT_NAME llmnet)

install(TARGETS llmnet RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/examples/ DESTINATION ${CMAKE_INSTALL_DATADIR}/llmnet/examples
        USE_SOURCE_PERMISSIONS)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs FILES_MATCHING PATTERN "*.md")

# The manual page, compressed as Debian wants it (-n: no name or time stamp
# inside, so the package is reproducible).
set(LLN_MAN_GZ ${CMAKE_BINARY_DIR}/llmnet.1.gz)
add_custom_command(OUTPUT ${LLN_MAN_GZ}
  COMMAND gzip -9 -n -c ${CMAKE_SOURCE_DIR}/packaging/llmnet.1 > ${LLN_MAN_GZ}
  DEPENDS ${CMAKE_SOURCE_DIR}/packaging/llmnet.1
  COMMENT "llmnet.1.gz" VERBATIM)
add_custom_target(lln_man ALL DEPENDS ${LLN_MAN_GZ})
install(FILES ${LLN_MAN_GZ} DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)

install(FILES ${CMAKE_SOURCE_DIR}/packaging/llmnet.bash-completion
        DESTINATION ${CMAKE_INSTALL_DATADIR}/bash-completion/completions RENAME llmnet)

install(CODE "set(LLN_SOURCE_DIR \"${CMAKE_SOURCE_DIR}\")
set(LLN_BINARY_DIR \"${CMAKE_BINARY_DIR}\")
set(LLN_BINDIR_REL \"${CMAKE_INSTALL_BINDIR}\")
include(\"${CMAKE_SOURCE_DIR}/cmake/install_system.cmake\")")
