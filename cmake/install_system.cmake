# install_system: run by cmake --install (cmake/install.cmake) to place the
# files whose place or text depends on the install prefix as it is at install
# time: the systemd template unit (which names the binary's full path) and the
# sample composition under the configuration directory. Prefix /usr (the
# Debian package) means /etc and /lib/systemd/system; any other prefix P means
# P/etc and P/lib/systemd/system (systemd also reads /usr/local/lib/systemd/system).
# file(INSTALL) honours DESTDIR and records each file in install_manifest.txt.
if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(sysconf "/etc")
  set(unit_dir "/lib/systemd/system")
else()
  set(sysconf "${CMAKE_INSTALL_PREFIX}/etc")
  set(unit_dir "${CMAKE_INSTALL_PREFIX}/lib/systemd/system")
endif()
set(LLN_BINDIR "${CMAKE_INSTALL_PREFIX}/${LLN_BINDIR_REL}")
set(LLN_SYSCONFDIR "${sysconf}/llmnet")
set(generated "${LLN_BINARY_DIR}/install-generated")
configure_file("${LLN_SOURCE_DIR}/packaging/llmnet@.service.in" "${generated}/llmnet@.service" @ONLY)
file(INSTALL DESTINATION "${unit_dir}" TYPE FILE FILES "${generated}/llmnet@.service")
file(INSTALL DESTINATION "${LLN_SYSCONFDIR}" TYPE FILE
     FILES "${LLN_SOURCE_DIR}/packaging/etc/example.json" "${LLN_SOURCE_DIR}/packaging/etc/example.env")
