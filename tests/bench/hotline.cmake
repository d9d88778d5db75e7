# bench-hotline: 12345 orders ingested per second through the pull API,
# and result events delivered per second, against the stand-in platform
# without faults. A program that prints figures, not a test. Included
# from tests/bench/CMakeLists.txt.
add_executable(bench-hotline ${CMAKE_CURRENT_LIST_DIR}/bench_hotline.c
               ${CMAKE_SOURCE_DIR}/tests/integration/hl_it.c)
target_include_directories(bench-hotline PRIVATE ${CMAKE_SOURCE_DIR}/tests/integration)
target_compile_definitions(bench-hotline PRIVATE MR_BIN_DIR="${CMAKE_BINARY_DIR}")
target_link_libraries(bench-hotline PRIVATE mr_testharness mr_hlplatform mr_hotline
                      mr_handler_client mr_store)
foreach(p mailroom-router mailroom-gateway mailroom-hotline)
  if(TARGET ${p})
    add_dependencies(bench-hotline ${p})
  endif()
endforeach()
