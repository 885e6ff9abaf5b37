# pixelring_add_test(name [BINARY] SOURCES a.cc... [LIBS lib...] [LABELS unit|e2e|tsan...])
# One GoogleTest executable, one CTest test. BINARY: the test runs the pixelring binary, built
# first and named by PIXELRING_BIN. Exit code 77 means skipped (a kernel feature or
# tool this machine lacks, or ../shared/testdata missing: tests/support/testdata.hh). Tests run
# from the source root so that ../shared/testdata is found as the README says. Every test the
# TSan preset selects (label tsan or e2e, not kafka) is also added to the tsan_tests target
# (made at the end of tests/CMakeLists.txt, after every folder), which CI builds under TSan.
function(pixelring_add_test name)
  cmake_parse_arguments(T "BINARY" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main Threads::Threads)
  if(T_BINARY)
    target_compile_definitions(${name} PRIVATE PIXELRING_BIN="$<TARGET_FILE:pixelring>")
    add_dependencies(${name} pixelring)
  endif()
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" SKIP_RETURN_CODE 77
    TIMEOUT ${T_TIMEOUT} WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
  if(("tsan" IN_LIST T_LABELS OR "e2e" IN_LIST T_LABELS) AND NOT "kafka" IN_LIST T_LABELS)
    set_property(GLOBAL APPEND PROPERTY PIXELRING_TSAN_TESTS ${name})
  endif()
endfunction()
