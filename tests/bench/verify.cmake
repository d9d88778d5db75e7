# bench-verify: records per second of `mailroom-audit verify --store`, and
# the cost of inclusion proofs (generation and verification). A program
# that prints figures, not a test. Included from tests/bench/CMakeLists.txt.
add_executable(bench-verify ${CMAKE_CURRENT_LIST_DIR}/bench_verify.c)
target_link_libraries(bench-verify PRIVATE mr_store mr_note mr_merkle mr_cal)
target_compile_definitions(bench-verify PRIVATE MR_BIN_DIR="${CMAKE_BINARY_DIR}")
if(TARGET mailroom-audit)
  add_dependencies(bench-verify mailroom-audit)
endif()
# ctest builds and verifies a small store (a few seconds) to keep it working.
add_test(NAME bench_verify_small COMMAND bench-verify -n 20000)
# It exits non-zero when the build, the verify or a proof fails.
set_tests_properties(bench_verify_small PROPERTIES TIMEOUT 60)
