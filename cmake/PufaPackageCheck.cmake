# Read by cpack (CPACK_PROJECT_CONFIG_FILE): the Debian packages need a build
# configured with -DCMAKE_INSTALL_PREFIX=/usr (the programs find their data in
# the prefix they were built for).
if(CPACK_GENERATOR STREQUAL "DEB" AND NOT CPACK_PUFA_INSTALL_PREFIX STREQUAL "/usr")
  message(FATAL_ERROR "pufa: Debian packages need a build configured with "
                      "-DCMAKE_INSTALL_PREFIX=/usr (this one: ${CPACK_PUFA_INSTALL_PREFIX})")
endif()
