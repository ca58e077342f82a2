# guardian's own D-Bus API: the adaptor (daemon side) and proxy (client side) are generated at
# build time from the introspection XML with sdbus-c++-xml2cpp (Debian: libsdbus-c++-bin), so
# the XML in the repo is the one source of truth for the interface.
find_package(sdbus-c++ 1.2 REQUIRED)
find_package(sdbus-c++-tools 1.2 REQUIRED)

set(GUARDIAN_DBUS_XML ${CMAKE_CURRENT_SOURCE_DIR}/tell/dbus/io.github.guardian.Guardian1.xml)
set(GUARDIAN_DBUS_GENERATED_DIR ${CMAKE_CURRENT_BINARY_DIR}/generated)
set(GUARDIAN_DBUS_ADAPTOR ${GUARDIAN_DBUS_GENERATED_DIR}/tell/dbus/guardian1_adaptor.h)
set(GUARDIAN_DBUS_PROXY ${GUARDIAN_DBUS_GENERATED_DIR}/tell/dbus/guardian1_proxy.h)

add_custom_command(
  OUTPUT ${GUARDIAN_DBUS_ADAPTOR} ${GUARDIAN_DBUS_PROXY}
  COMMAND ${CMAKE_COMMAND} -E make_directory ${GUARDIAN_DBUS_GENERATED_DIR}/tell/dbus
  COMMAND SDBusCpp::sdbus-c++-xml2cpp ${GUARDIAN_DBUS_XML} --adaptor=${GUARDIAN_DBUS_ADAPTOR}
          --proxy=${GUARDIAN_DBUS_PROXY}
  DEPENDS ${GUARDIAN_DBUS_XML}
  COMMENT "sdbus-c++-xml2cpp: D-Bus adaptor and proxy from io.github.guardian.Guardian1.xml"
  VERBATIM)
add_custom_target(guardian_dbus_codegen DEPENDS ${GUARDIAN_DBUS_ADAPTOR} ${GUARDIAN_DBUS_PROXY})

target_sources(guardian_tell PRIVATE ${GUARDIAN_DBUS_ADAPTOR} ${GUARDIAN_DBUS_PROXY})
add_dependencies(guardian_tell guardian_dbus_codegen)
# SYSTEM: the generated code is not ours to keep warning-clean.
target_include_directories(guardian_tell SYSTEM PUBLIC ${GUARDIAN_DBUS_GENERATED_DIR})
target_link_libraries(guardian_tell PUBLIC SDBusCpp::sdbus-c++)
