#!/bin/sh
# Builds Mailroom and runs every test: once as released (build/), once
# under AddressSanitizer and UndefinedBehaviorSanitizer (build-asan/).
# MAILROOM_SANITIZE=0 skips the second pass. A Release build (build-rel/,
# full optimisation, where GCC finds more possibly-unset values) must also
# compile warning-free and pass the unit tests; MAILROOM_RELEASE=0 skips it.
# Then every libFuzzer harness (tests/fuzz) runs MAILROOM_FUZZ_SECONDS (30)
# in a clang build (build-fuzz/); any crash fails. MAILROOM_FUZZ=0 skips it.
set -eu
cd "$(dirname "$0")/.."
deploy/setup.sh
jobs=$(nproc)
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j "$jobs"
(cd build && ctest --output-on-failure -j "$jobs")
if [ "${MAILROOM_RELEASE:-1}" != 0 ]; then
	cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build build-rel -j "$jobs"
	(cd build-rel && ctest --output-on-failure -j "$jobs" -R '^test_')
fi
if [ "${MAILROOM_SANITIZE:-1}" != 0 ]; then
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DMAILROOM_SANITIZE=ON >/dev/null
	cmake --build build-asan -j "$jobs"
	(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j "$jobs")
fi
if [ "${MAILROOM_FUZZ:-1}" != 0 ]; then
	MAILROOM_FUZZ_SECONDS=${MAILROOM_FUZZ_SECONDS:-30} tests/fuzz/run.sh
fi
