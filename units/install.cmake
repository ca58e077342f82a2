# Installs guardian's user units where the user manager looks for them. The directory and the
# unit's ExecStart=/Documentation= are decided at install time, from the prefix the install
# really uses (`cmake --install build --prefix DIR`, or CPack's /usr), not the configured one:
#   /usr        -> /usr/lib/systemd/user        (pkg-config systemd's systemduserunitdir)
#   /usr/local  -> /usr/local/lib/systemd/user  (on the user manager's search path)
#   anything else, e.g. ~/.local -> PREFIX/share/systemd/user (~/.local/share/systemd/user is
#   $XDG_DATA_HOME/systemd/user, on the search path; ~/.local/lib/systemd/user is not)
# GUARDIAN_USER_UNIT_DIR overrides the directory.
set(GUARDIAN_USER_UNIT_DIR "" CACHE PATH "Where to install guardian.service (empty: derived from the prefix)")

set(guardian_unit_source ${PROJECT_SOURCE_DIR}/units/guardian.service)
install(CODE "
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  if(NOT \"${GUARDIAN_USER_UNIT_DIR}\" STREQUAL \"\")
    set(unit_dir \"${GUARDIAN_USER_UNIT_DIR}\")
  elseif(prefix STREQUAL \"/usr\" OR prefix STREQUAL \"/usr/local\")
    set(unit_dir \"\${prefix}/lib/systemd/user\")
  else()
    set(unit_dir \"\${prefix}/share/systemd/user\")
  endif()
  file(READ \"${guardian_unit_source}\" unit)
  string(REPLACE \"ExecStart=/usr/local/bin/guardian\" \"ExecStart=\${prefix}/${CMAKE_INSTALL_BINDIR}/guardian\" unit \"\${unit}\")
  string(REPLACE \"Documentation=file:///usr/local/share/doc/guardian/units.md\"
                 \"Documentation=file://\${prefix}/${CMAKE_INSTALL_DOCDIR}/units.md\" unit \"\${unit}\")
  file(WRITE \"${PROJECT_BINARY_DIR}/units/install/guardian.service\" \"\${unit}\")
  file(INSTALL DESTINATION \"\${unit_dir}\" TYPE FILE FILES
       \"${PROJECT_BINARY_DIR}/units/install/guardian.service\"
       \"${PROJECT_SOURCE_DIR}/units/container.slice\")
  file(INSTALL DESTINATION \"\${unit_dir}\" TYPE DIRECTORY FILES \"${PROJECT_SOURCE_DIR}/units/container.slice.d\")
")
install(FILES ${PROJECT_SOURCE_DIR}/units/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} RENAME units.md)
