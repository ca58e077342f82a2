# Installs guardian's user unit where the user manager looks for units, with ExecStart= and
# Documentation= pointing at what this install puts in place. The prefix must be set when
# configuring (-DCMAKE_INSTALL_PREFIX=…), not only at `cmake --install --prefix`, because the
# paths are written into the unit then.
#   /usr        -> /usr/lib/systemd/user        (pkg-config systemd's systemduserunitdir)
#   /usr/local  -> /usr/local/lib/systemd/user  (on the user manager's search path)
#   anything else, e.g. ~/.local -> PREFIX/share/systemd/user (~/.local/share/systemd/user is
#   $XDG_DATA_HOME/systemd/user, on the search path; ~/.local/lib/systemd/user is not)
set(GUARDIAN_USER_UNIT_DIR "" CACHE PATH "Where to install guardian.service (empty: derived from the prefix)")
if(GUARDIAN_USER_UNIT_DIR)
  set(guardian_user_unit_dir ${GUARDIAN_USER_UNIT_DIR})
elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr" OR CMAKE_INSTALL_PREFIX STREQUAL "/usr/local")
  set(guardian_user_unit_dir ${CMAKE_INSTALL_PREFIX}/lib/systemd/user)
else()
  set(guardian_user_unit_dir ${CMAKE_INSTALL_PREFIX}/share/systemd/user)
endif()

set(guardian_unit_source ${PROJECT_SOURCE_DIR}/units/guardian.service)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${guardian_unit_source})
file(READ ${guardian_unit_source} guardian_unit_text)
string(REPLACE "ExecStart=/usr/local/bin/guardian" "ExecStart=${CMAKE_INSTALL_FULL_BINDIR}/guardian"
               guardian_unit_text "${guardian_unit_text}")
string(REPLACE "Documentation=file:///usr/local/share/doc/guardian/units.md"
               "Documentation=file://${CMAKE_INSTALL_FULL_DOCDIR}/units.md" guardian_unit_text "${guardian_unit_text}")
file(WRITE ${PROJECT_BINARY_DIR}/units/guardian.service "${guardian_unit_text}")

install(FILES ${PROJECT_BINARY_DIR}/units/guardian.service DESTINATION ${guardian_user_unit_dir})
install(FILES ${PROJECT_SOURCE_DIR}/units/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME units.md)
