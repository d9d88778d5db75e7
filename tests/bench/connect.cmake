# bench-connect: the cost of a fresh connection to the gateway (accept, the
# request line's check, one small answer, the close). A program that prints
# figures, not a test. Included from tests/bench/CMakeLists.txt.
add_executable(bench-connect ${CMAKE_CURRENT_LIST_DIR}/bench_connect.c)
target_link_libraries(bench-connect PRIVATE mr_testharness)
mr_bench_needs_service(bench-connect)
