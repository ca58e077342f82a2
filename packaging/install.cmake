# What `cmake --install` lays out besides the binary and the user units (units/install.cmake:
# guardian.service, container.slice and its oomd drop-in):
#   lib/systemd/system/                                     system units (guardian_install_system_unit)
#   lib/systemd/catalog/guardian.catalog                    journalctl -x texts; systemd's package
#                                                           triggers (dpkg, rpm) run --update-catalog
#   share/guardian/policies/*.toml                          example policies
#   share/guardian/grafana/{dashboards,provisioning}        Grafana
#   share/guardian/prometheus/                              alert rules and an example scrape config
#   share/doc/guardian/                                     README, docs/
# Man pages and completions: docs/CMakeLists.txt.
# systemd's own layout under the prefix (lib/, never lib64/ or a multiarch libdir); relative, so
# `cmake --install --prefix` and CPack place it under the prefix they use.
set(guardian_systemd_base lib/systemd)

install(FILES ${PROJECT_SOURCE_DIR}/units/guardian.catalog DESTINATION ${guardian_systemd_base}/catalog)

# A system unit (the privileged helper of the BPF issue): call this from where the unit is built.
#   guardian_install_system_unit(${PROJECT_SOURCE_DIR}/units/guardian-helper.service)
function(guardian_install_system_unit unit_file)
  install(FILES ${unit_file} DESTINATION ${guardian_systemd_base}/system)
endfunction()

file(GLOB guardian_policies CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/policies/*.toml)
install(FILES ${guardian_policies} DESTINATION ${CMAKE_INSTALL_DATADIR}/guardian/policies)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/grafana/dashboards ${PROJECT_SOURCE_DIR}/grafana/provisioning
        DESTINATION ${CMAKE_INSTALL_DATADIR}/guardian/grafana)
install(FILES ${PROJECT_SOURCE_DIR}/grafana/README.md DESTINATION ${CMAKE_INSTALL_DATADIR}/guardian/grafana)
install(FILES ${PROJECT_SOURCE_DIR}/prometheus/guardian.rules.yml ${PROJECT_SOURCE_DIR}/prometheus/prometheus.example.yml
        DESTINATION ${CMAKE_INSTALL_DATADIR}/guardian/prometheus)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/docs/systemd.md ${PROJECT_SOURCE_DIR}/docs/jellyfin.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
