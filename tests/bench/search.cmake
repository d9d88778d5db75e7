# bench-search: the handlers' search index filled with generated messages
# (1,000,000 by default), search latency median and p99. A program that
# prints figures; ctest runs only a small fill of it, to keep it working.
add_executable(bench-search ${CMAKE_CURRENT_LIST_DIR}/bench_search.c)
target_link_libraries(bench-search PRIVATE mr_search)
add_test(NAME bench_search_small COMMAND bench-search --messages 20000 --rounds 5 --follow 2000)
set_tests_properties(bench_search_small PROPERTIES TIMEOUT 60)

# bench-refs: the follower's read of a log record, unpacked whole against
# its two id fields read from the wire (rt_search_refs).
add_executable(bench-refs ${CMAKE_CURRENT_LIST_DIR}/bench_refs.c)
target_link_libraries(bench-refs PRIVATE mr_router)
add_test(NAME bench_refs_small COMMAND bench-refs --records 10000)
set_tests_properties(bench_refs_small PROPERTIES TIMEOUT 60)
