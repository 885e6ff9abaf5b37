# Profile-guided optimisation, driven by scripts/build-pgo.sh: `generate` builds an
# instrumented collector, the script drives it with tools/pgo_train.cc's traffic, and `use`
# rebuilds the same tree with the counters that run left next to each object file (*.gcda).
# GCC only: clang's profiles are another format and another workflow.
set(PIXELRING_PGO "off" CACHE STRING
    "profile-guided optimisation: off, generate or use (run scripts/build-pgo.sh)")
set_property(CACHE PIXELRING_PGO PROPERTY STRINGS off generate use)
if(NOT PIXELRING_PGO MATCHES "^(off|generate|use)$")
  message(FATAL_ERROR "PIXELRING_PGO = \"${PIXELRING_PGO}\": allowed are off, generate and use")
endif()
if(NOT PIXELRING_PGO STREQUAL "off")
  if(PIXELRING_SANITIZE)
    message(FATAL_ERROR "PIXELRING_PGO = \"${PIXELRING_PGO}\" with PIXELRING_SANITIZE = "
                        "\"${PIXELRING_SANITIZE}\": profile-guided builds are not sanitizer builds; "
                        "use PIXELRING_PGO=off there")
  endif()
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    message(FATAL_ERROR "PIXELRING_PGO = \"${PIXELRING_PGO}\" needs GCC, not "
                        "${CMAKE_CXX_COMPILER_ID}: configure with CXX=g++ or PIXELRING_PGO=off")
  endif()
endif()
if(PIXELRING_PGO STREQUAL "generate")
  # Atomic counters: the workers, the sink thread and librdkafka's callbacks run at once.
  add_compile_options(-fprofile-generate -fprofile-update=atomic)
  add_link_options(-fprofile-generate)
elseif(PIXELRING_PGO STREQUAL "use")
  # Code the training never ran is optimised as without a profile (partial training), and a
  # source edited since the training loses its profile for the changed functions with a
  # warning instead of failing the build (coverage-mismatch): rerun scripts/build-pgo.sh.
  add_compile_options(-fprofile-use -fprofile-partial-training -Wno-missing-profile
                      -Wno-error=coverage-mismatch)
endif()
