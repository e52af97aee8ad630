# Install rules: `cmake --install build [--prefix P]` (DESTDIR honoured) and
# the Debian packages (cmake/Package.cmake) install the same files. Rules
# name targets, never build paths, so they hold when sources move.
#
# Components (one Debian package each):
#   daemon    provisiond, provctl, the systemd unit, the example
#             configuration, the order types, man pages, docs, the
#             Prometheus rules and Grafana dashboards
#   devtools  southbound-sim and kafka-mock: test systems only
#
# Layout for prefix P (P=/usr in the package; GNUInstallDirs maps the
# configuration to /etc for /usr, to P/etc otherwise):
#   P/sbin/provisiond, P/bin/provctl, P/bin/southbound-sim, P/bin/kafka-mock
#   SYSCONFDIR/provisiond/provisiond.conf   (provisiond --config-example)
#   SYSCONFDIR/provisiond/environment       (mode 0600: PROVISIOND_PG, tokens)
#   PV_SYSTEMD_UNITDIR/provisiond.service   (ExecStart= the installed binary)
#   P/share/provisiond/orders/*.json        (jobs/orders/, when it has any)
#   P/share/provisiond/prometheus/alerts.yml, P/share/provisiond/grafana/*.json
#   P/share/man/man8/provisiond.8.gz, man1/provctl.1.gz, ...
#   P/share/doc/provisiond/*.md
include(GNUInstallDirs)

# systemd's unit directory: /lib/systemd/system for the system prefix (what
# Debian 12's systemd reads and its policy asks for), P/lib/systemd/system
# otherwise (a test install; point systemd at it with a symlink).
set(PV_SYSTEMD_UNITDIR "" CACHE PATH
  "Where provisiond.service is installed (empty: the default for the prefix)")
if(PV_SYSTEMD_UNITDIR)
  set(_pv_unitdir ${PV_SYSTEMD_UNITDIR})
elseif(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  set(_pv_unitdir /lib/systemd/system)
else()
  set(_pv_unitdir ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
endif()

set(PV_CONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/provisiond)
set(PV_DATADIR ${CMAKE_INSTALL_DATADIR}/provisiond)
set(_pv_gen ${CMAKE_BINARY_DIR}/install-files)

# ---- binaries ----------------------------------------------------------
install(TARGETS provisiond RUNTIME DESTINATION ${CMAKE_INSTALL_SBINDIR}
  COMPONENT daemon)
install(TARGETS provctl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  COMPONENT daemon)
install(TARGETS southbound-sim kafka-mock RUNTIME
  DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT devtools)

# ---- systemd unit: deploy/systemd's, with the installed paths ------------
file(READ ${CMAKE_SOURCE_DIR}/deploy/systemd/provisiond.service _pv_unit)
set(_pv_subst
  "/usr/local/bin/provisiond" "${CMAKE_INSTALL_FULL_SBINDIR}/provisiond"
  "file:///usr/share/doc/provisiond/" "file://${CMAKE_INSTALL_FULL_DOCDIR}/"
  "/etc/provisiond/" "${PV_CONFDIR}/")
while(_pv_subst)
  list(POP_FRONT _pv_subst _from _to)
  string(FIND "${_pv_unit}" "${_from}" _at)
  if(_at EQUAL -1)
    message(FATAL_ERROR "deploy/systemd/provisiond.service no longer "
      "contains \"${_from}\": update cmake/Install.cmake")
  endif()
  string(REPLACE "${_from}" "${_to}" _pv_unit "${_pv_unit}")
endwhile()
file(CONFIGURE OUTPUT ${_pv_gen}/provisiond.service CONTENT "${_pv_unit}"
  @ONLY)
install(FILES ${_pv_gen}/provisiond.service DESTINATION ${_pv_unitdir}
  COMPONENT daemon)

# ---- configuration: written by the binary from its own key table ----------
add_custom_command(OUTPUT ${_pv_gen}/provisiond.conf
  COMMAND provisiond --config-example > ${_pv_gen}/provisiond.conf
  DEPENDS provisiond
  COMMENT "provisiond --config-example (the installed provisiond.conf)"
  VERBATIM)
install(FILES ${_pv_gen}/provisiond.conf DESTINATION ${PV_CONFDIR}
  COMPONENT daemon)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/systemd/environment
  DESTINATION ${PV_CONFDIR} PERMISSIONS OWNER_READ OWNER_WRITE
  COMPONENT daemon)

# ---- order types: whatever jobs/orders/ holds at install time (none is
# fine: the folder may not exist yet) --------------------------------------
install(DIRECTORY ${CMAKE_SOURCE_DIR}/jobs/orders/
  DESTINATION ${PV_DATADIR}/orders COMPONENT daemon OPTIONAL
  FILES_MATCHING PATTERN "*.json")

# ---- man pages: docs/man/, versioned and compressed ----------------------
set(_pv_man_daemon provisiond.8 provctl.1)
set(_pv_man_devtools southbound-sim.1 kafka-mock.1)
set(_pv_man_out "")
foreach(_page IN LISTS _pv_man_daemon _pv_man_devtools)
  set(PV_VERSION ${PROJECT_VERSION})
  configure_file(${CMAKE_SOURCE_DIR}/docs/man/${_page} ${_pv_gen}/man/${_page}
    @ONLY)
  # gzip -n: no name or time stamp inside, so the package is reproducible
  add_custom_command(OUTPUT ${_pv_gen}/man/${_page}.gz
    COMMAND gzip -9 -n -f -k ${_pv_gen}/man/${_page}
    DEPENDS ${_pv_gen}/man/${_page} VERBATIM)
  list(APPEND _pv_man_out ${_pv_gen}/man/${_page}.gz)
  string(REGEX MATCH "[0-9]$" _sect "${_page}")
  if(_page IN_LIST _pv_man_daemon)
    set(_comp daemon)
  else()
    set(_comp devtools)
  endif()
  install(FILES ${_pv_gen}/man/${_page}.gz
    DESTINATION ${CMAKE_INSTALL_MANDIR}/man${_sect} COMPONENT ${_comp})
endforeach()
add_custom_target(pv-install-files ALL
  DEPENDS ${_pv_gen}/provisiond.conf ${_pv_man_out})

# ---- docs, alerting rules, dashboards -----------------------------------
file(GLOB _pv_docs ${CMAKE_SOURCE_DIR}/docs/*.md)
install(FILES ${_pv_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR}
  COMPONENT daemon)
install(FILES ${CMAKE_SOURCE_DIR}/deploy/prometheus/alerts.yml
  DESTINATION ${PV_DATADIR}/prometheus COMPONENT daemon)
file(GLOB _pv_dashboards ${CMAKE_SOURCE_DIR}/deploy/grafana/*.json)
install(FILES ${_pv_dashboards} DESTINATION ${PV_DATADIR}/grafana
  COMPONENT daemon)
