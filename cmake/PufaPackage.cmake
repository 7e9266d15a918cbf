# Debian packages with CPack (`cpack -G DEB` in a build configured with
# -DCMAKE_INSTALL_PREFIX=/usr; README "Debian packages", tests/packages_test.sh).
#   pufa-common     the `pufa` tool, the data and SQL, the docs; the pufa user,
#                   /var/lib/pufa and /etc/pufa (postinst)
#   pufa-collector  the county host's service
#   pufa-aggregator the city's single writer
#   pufa-publisher  the dashboards (may run on other hosts, several per feed)
# Each service package carries its unit (installed, neither enabled nor
# started) and its reference config as the conffile /etc/pufa/NAME.ini.
set(PUFA_DEB_DIR ${PROJECT_BINARY_DIR}/deb)
set(PUFA_PACKAGE_MAINTAINER "pufa operators <pufa-ops@example.org>" CACHE STRING
    "Maintainer field of the Debian packages")

# Per package: /usr/share/doc/PACKAGE/{copyright,changelog.gz} (Debian policy 12.5, 12.7).
find_program(PUFA_GZIP gzip)
foreach(comp common collector aggregator publisher)
  set(docdir ${PUFA_DEB_DIR}/doc/pufa-${comp})
  configure_file(${PROJECT_SOURCE_DIR}/deploy/debian/copyright ${docdir}/copyright COPYONLY)
  set(VERSION ${PROJECT_VERSION})
  configure_file(${PROJECT_SOURCE_DIR}/deploy/debian/changelog ${docdir}/changelog @ONLY)
  add_custom_command(OUTPUT ${docdir}/changelog.gz
    COMMAND ${PUFA_GZIP} -9nc ${docdir}/changelog > ${docdir}/changelog.gz
    DEPENDS ${docdir}/changelog VERBATIM)
  list(APPEND PUFA_DEB_DOCS ${docdir}/changelog.gz)
  install(FILES ${docdir}/copyright ${docdir}/changelog.gz
          DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/pufa-${comp} COMPONENT ${comp})
endforeach()
add_custom_target(pufa_deb_docs ALL DEPENDS ${PUFA_DEB_DOCS})

# The reference configs as conffiles, only where they belong: a /usr prefix
# (the packages).  Other prefixes keep them in share/pufa/config only.
set(PUFA_DEB_SCRIPTS ${PUFA_DEB_DIR}/common/postinst ${PUFA_DEB_DIR}/common/postrm)
configure_file(${PROJECT_SOURCE_DIR}/deploy/debian/common.postinst ${PUFA_DEB_DIR}/common/postinst
               COPYONLY FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
               GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
configure_file(${PROJECT_SOURCE_DIR}/deploy/debian/common.postrm ${PUFA_DEB_DIR}/common/postrm
               COPYONLY FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
               GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
foreach(svc collector aggregator publisher)
  set(SVC ${svc})
  foreach(script postinst prerm postrm)
    configure_file(${PROJECT_SOURCE_DIR}/deploy/debian/service.${script}.in
                   ${PUFA_DEB_DIR}/${svc}/${script} @ONLY
                   FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ
                   GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
  endforeach()
  file(WRITE ${PUFA_DEB_DIR}/${svc}/conffiles "/etc/pufa/${svc}.ini\n")
  if(CMAKE_INSTALL_PREFIX STREQUAL "/usr")
    install(FILES deploy/config/${svc}.ini DESTINATION /etc/pufa COMPONENT ${svc})
  endif()
endforeach()

set(CPACK_PACKAGE_NAME pufa)
set(CPACK_PACKAGE_VENDOR "pufa")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "${PUFA_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_STRIP_FILES ON)
set(CPACK_COMPONENTS_ALL common collector aggregator publisher)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${PUFA_PACKAGE_MAINTAINER}")
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_COMPONENT_COLLECTOR_DEPENDS common)
set(CPACK_COMPONENT_AGGREGATOR_DEPENDS common)
set(CPACK_COMPONENT_PUBLISHER_DEPENDS common)
set(CPACK_DEBIAN_COMMON_PACKAGE_NAME pufa-common)
set(CPACK_DEBIAN_COMMON_PACKAGE_DEPENDS "adduser")
# The backup scripts run pg_basebackup, pg_verifybackup, pg_archivecleanup.
set(CPACK_DEBIAN_COMMON_PACKAGE_SUGGESTS "postgresql-client-15")
set(CPACK_DEBIAN_COMMON_PACKAGE_CONTROL_EXTRA "${PUFA_DEB_SCRIPTS}")
set(CPACK_DEBIAN_COMMON_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_COMPONENT_COMMON_DESCRIPTION
  "pufa reporting pipeline: the pufa tool, data and docs
The pufa tool (keygen, migrate, submit, validate, loadgen), the GB/T 2260
org units and responsible units, the PostgreSQL role SQL, the reference
configurations, the operator runbook and the backup scripts (WAL archive,
base backups, restore; they need postgresql-client-15 or the server).
Creates the pufa system user, /var/lib/pufa and /etc/pufa.")
set(CPACK_COMPONENT_COLLECTOR_DESCRIPTION
  "pufa county collector (intake, durable spool, push to the city)
One per county: takes reports from county systems over HTTP or a drop
folder, keeps them in a durable spool and sends them to the city's
aggregator over CURVE until acknowledged.  The systemd unit is installed
but neither enabled nor started: configure /etc/pufa/collector.ini first.")
set(CPACK_COMPONENT_AGGREGATOR_DESCRIPTION
  "pufa city aggregator (collectors to PostgreSQL, ack after commit)
The city's single writer: receives the collectors' batches over CURVE,
commits them to PostgreSQL and acknowledges after the commit; publishes
the commit feed.  The systemd unit is installed but neither enabled nor
started: configure /etc/pufa/aggregator.ini first.")
set(CPACK_COMPONENT_PUBLISHER_DESCRIPTION
  "pufa publisher (dashboard, exports, live totals)
Serves the dashboard, the HTTP API and the exports from a PostgreSQL
snapshot kept current by the aggregator's commit feed.  The systemd unit
is installed but neither enabled nor started: configure
/etc/pufa/publisher.ini first.")
foreach(svc collector aggregator publisher)
  string(TOUPPER ${svc} SVC)
  set(CPACK_DEBIAN_${SVC}_PACKAGE_NAME pufa-${svc})
  set(CPACK_DEBIAN_${SVC}_PACKAGE_CONTROL_EXTRA
      "${PUFA_DEB_DIR}/${svc}/postinst;${PUFA_DEB_DIR}/${svc}/prerm;${PUFA_DEB_DIR}/${svc}/postrm;${PUFA_DEB_DIR}/${svc}/conffiles")
  set(CPACK_DEBIAN_${SVC}_PACKAGE_CONTROL_STRICT_PERMISSION ON)
endforeach()
# ExecReload=/bin/kill -HUP (systemctl reload re-reads the allow-lists): procps.
set(CPACK_DEBIAN_AGGREGATOR_PACKAGE_DEPENDS "procps")
set(CPACK_DEBIAN_PUBLISHER_PACKAGE_DEPENDS "procps")
# A package built for another prefix would look for its data where it is not.
set(CPACK_PROJECT_CONFIG_FILE ${PROJECT_SOURCE_DIR}/cmake/PufaPackageCheck.cmake)
set(CPACK_PUFA_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
include(CPack)
