# `cpack -G DEB` and `cpack -G RPM` from a build tree configured with -DCMAKE_INSTALL_PREFIX=/usr.
# The DEB's dependencies come from dpkg-shlibdeps (the libraries the binary links, as this
# Debian names them); the RPM's are Fedora's package names, written here, because an RPM built
# on Debian links Debian's libraries: build the RPM on Fedora (README "Install") to install it
# there, and the same Requires hold.
set(CPACK_PACKAGE_NAME guardian)
set(CPACK_PACKAGE_VENDOR "guardian")
set(CPACK_PACKAGE_CONTACT "guardian project")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "acts on memory pressure before systemd-oomd kills")
set(CPACK_PACKAGE_DESCRIPTION
    "guardian is a systemd user daemon for Linux desktops that also run containers. It predicts how many seconds are left before systemd-oomd would kill, climbs a TOML ladder of reversible actions before that, and tells every decision to the journal and to Prometheus.")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_STRIP_FILES ON)
# Install with DESTDIR and the packages' own prefix, so what is decided at install time
# (units/install.cmake: ExecStart=) names /usr, not the configured prefix or the staging tree.
set(CPACK_SET_DESTDIR ON)
set(CPACK_INSTALL_PREFIX /usr)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_CHECKSUM SHA256)
set(CPACK_PACKAGE_FILE_NAME_DEFAULTS ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "systemd")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "systemd-oomd, dbus-user-session")

set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_LICENSE "unknown")  # the repository names no licence yet
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_PACKAGE_AUTOREQ OFF)  # Debian's sonames say nothing about Fedora: name the packages
set(CPACK_RPM_PACKAGE_REQUIRES "systemd, systemd-libs, sdbus-cpp, tomlplusplus, prometheus-cpp, libstdc++")
set(CPACK_RPM_PACKAGE_SUGGESTS "systemd-oomd-defaults")
# No /usr/lib/.build-id links: there is no debuginfo package to pair them with.
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none")
# Directories the filesystem and systemd packages own: the RPM must not claim them.
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /usr/lib/systemd /usr/lib/systemd/user /usr/lib/systemd/system /usr/lib/systemd/catalog
    /usr/share/man /usr/share/man/man1 /usr/share/man/man5 /usr/share/man/man8
    /usr/share/bash-completion /usr/share/bash-completion/completions
    /usr/share/zsh /usr/share/zsh/site-functions /usr/share/zsh/vendor-completions
    /usr/share/doc)

include(CPack)
