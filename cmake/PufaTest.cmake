# pufa_test(NAME name SOURCES a.c ... [LIBS lib ...] [LABELS unit|integration ...]
#           [TIMEOUT seconds] [PG] [ARGS ...])
# The one place a test is registered.  PG runs it under tests/with-pg.sh,
# which starts a throwaway PostgreSQL and exports PUFA_TEST_DB.
function(pufa_test)
  cmake_parse_arguments(T "PG" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 60)
  endif()
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE pufa_common pufa_testlib ${T_LIBS})
  if(T_PG)
    add_test(NAME ${T_NAME}
             COMMAND ${PROJECT_SOURCE_DIR}/tests/with-pg.sh $<TARGET_FILE:${T_NAME}> ${T_ARGS})
  else()
    add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
  endif()
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT} LABELS "${T_LABELS}"
    ENVIRONMENT "PUFA_SHARED_DATA=${PUFA_SHARED_DATA};PUFA_BUILD_DIR=${PROJECT_BINARY_DIR};PUFA_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
endfunction()
