# Debian packages with CPack's DEB generator, from the install rules of
# cmake/Install.cmake (one package per component):
#   provisiond           component daemon
#   provisiond-devtools  component devtools (southbound-sim, kafka-mock)
#
# Build them with `make deb` (deploy/debian/build-deb.sh): a release build
# with -DCMAKE_INSTALL_PREFIX=/usr -DPV_PACKAGE_DEB=ON, then `cpack`.
# PV_PACKAGE_DEB adds what only a Debian package carries (copyright,
# changelog.Debian.gz, the maintainer scripts and the conffiles list).
# Why CPack and not dpkg-buildpackage: docs/deployment.md.
option(PV_PACKAGE_DEB "Configure for the Debian packages (prefix /usr)" OFF)
set(PV_DEB_MAINTAINER "provisiond maintainers <provisiond@example.net>"
  CACHE STRING "Maintainer field of the Debian packages")
set(PV_DEB_RELEASE 1 CACHE STRING "Debian revision of the packages")

set(_pv_deb_src ${CMAKE_SOURCE_DIR}/deploy/debian)
set(_pv_deb_gen ${CMAKE_BINARY_DIR}/install-files/deb)
set(PV_DEB_VERSION ${PROJECT_VERSION}-${PV_DEB_RELEASE})

if(PV_PACKAGE_DEB)
  if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    message(FATAL_ERROR "PV_PACKAGE_DEB=ON needs -DCMAKE_INSTALL_PREFIX=/usr "
      "(got ${CMAKE_INSTALL_PREFIX})")
  endif()
  # RFC 5322 date of the changelog entry; SOURCE_DATE_EPOCH (set by
  # build-deb.sh from the last commit) keeps the package reproducible.
  string(TIMESTAMP PV_DEB_DATE "%a, %d %b %Y %H:%M:%S +0000" UTC)
  string(TIMESTAMP PV_DEB_YEAR "%Y" UTC)
  set(_pv_deb_pkgs provisiond provisiond-devtools)
  set(_pv_deb_comps daemon devtools)
  foreach(PV_DEB_PACKAGE _comp IN ZIP_LISTS _pv_deb_pkgs _pv_deb_comps)
    set(_dir ${_pv_deb_gen}/${PV_DEB_PACKAGE})
    configure_file(${_pv_deb_src}/changelog.in ${_dir}/changelog.Debian @ONLY)
    add_custom_command(OUTPUT ${_dir}/changelog.Debian.gz
      COMMAND gzip -9 -n -f -k ${_dir}/changelog.Debian
      DEPENDS ${_dir}/changelog.Debian VERBATIM)
    add_custom_target(pv-deb-changelog-${_comp} ALL
      DEPENDS ${_dir}/changelog.Debian.gz)
    configure_file(${_pv_deb_src}/copyright.in ${_dir}/copyright @ONLY)
    install(FILES ${_dir}/changelog.Debian.gz ${_dir}/copyright
      DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${PV_DEB_PACKAGE}
      COMPONENT ${_comp})
    # Tags that do not apply to a package built outside Debian's archive,
    # each explained in the file (lintian reads it from the package).
    install(FILES ${_pv_deb_src}/${PV_DEB_PACKAGE}.lintian-overrides
      DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/lintian/overrides
      RENAME ${PV_DEB_PACKAGE} COMPONENT ${_comp})
  endforeach()
  # Every file under /etc is a conffile: an upgrade keeps an edited one.
  file(WRITE ${_pv_deb_gen}/conffiles
    "${PV_CONFDIR}/environment\n${PV_CONFDIR}/provisiond.conf\n")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME provisiond)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${PV_DEB_MAINTAINER}")
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/packages)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_ALL daemon devtools)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE ${PV_DEB_RELEASE})
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PV_DEB_MAINTAINER}")
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps over the installed binaries: Depends: names the library
# packages (and versions) the binaries were linked against.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_DAEMON_PACKAGE_NAME provisiond)
# passwd: useradd/groupadd in postinst
set(CPACK_DEBIAN_DAEMON_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_DAEMON_PACKAGE_RECOMMENDS "ca-certificates")
set(CPACK_DEBIAN_DAEMON_PACKAGE_SUGGESTS "postgresql-client, prometheus")
set(CPACK_DEBIAN_DAEMON_DESCRIPTION
"provisioning worker: Kafka jobs to VOLTHA, GenieACS and NetBox
provisiond executes an ISP's provisioning and query jobs (new subscribers,
moves, faults, disconnections) taken from Kafka against VOLTHA, the
GenieACS NBI and NetBox, through pooled HTTP clients with timeouts,
retries and circuit breakers. It records every outcome in PostgreSQL,
publishes a reply and dead-letters what cannot succeed; provctl enqueues
jobs, reads their status and replays dead letters.
.
The systemd unit is installed but neither enabled nor started: write
/etc/provisiond/provisiond.conf, run the migrations, then enable it.")
if(PV_PACKAGE_DEB)
  set(CPACK_DEBIAN_DAEMON_PACKAGE_CONTROL_EXTRA
    ${_pv_deb_src}/postinst ${_pv_deb_src}/prerm ${_pv_deb_src}/postrm
    ${_pv_deb_gen}/conffiles)
endif()

set(CPACK_DEBIAN_DEVTOOLS_PACKAGE_NAME provisiond-devtools)
set(CPACK_DEBIAN_DEVTOOLS_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_DEVTOOLS_DESCRIPTION
"provisiond test systems: southbound simulator and Kafka mock broker
southbound-sim emulates the VOLTHA REST gateway, the GenieACS NBI and the
NetBox REST API with fault injection; kafka-mock runs librdkafka's mock
cluster as a standalone in-memory broker. For test and development hosts:
production hosts need only the provisiond package.")

include(CPack)
