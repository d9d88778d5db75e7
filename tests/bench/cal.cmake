# bench-cal: calls per second of cal_add_working_days(., 20). A program that
# prints figures, not a test. Included from tests/bench/CMakeLists.txt.
add_executable(bench-cal ${CMAKE_CURRENT_LIST_DIR}/bench_cal.c)
target_link_libraries(bench-cal PRIVATE mr_cal)
