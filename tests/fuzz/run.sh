#!/bin/sh
# Runs the libFuzzer harnesses (README.md here) and prints, per harness,
# the executions and the crashes. Exits 1 when any harness crashed.
#   tests/fuzz/run.sh [--seconds N | --runs N] [--build DIR] [harness...]
# Default: MAILROOM_FUZZ_SECONDS (60) seconds each, every harness, in
# build-fuzz/ (built here with clang when missing). Crashing inputs are
# kept in DIR/fuzz-out/<harness>/crashes/; the corpus grown there too, so
# the repository's seed corpus is only read.
set -eu
cd "$(dirname "$0")/../.."
secs=${MAILROOM_FUZZ_SECONDS:-60}
runs=""
build=build-fuzz
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds) secs=$2; runs=""; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--build) build=$2; shift 2 ;;
	-h|--help) sed -n '2,8p' "$0"; exit 0 ;;
	--*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
if [ ! -f "$build/CMakeCache.txt" ]; then
	CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMAILROOM_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target mailroom-fuzz >/dev/null
names=${*:-$(cd tests/fuzz && ls fuzz_*.c | sed 's/\.c$//')}
# The router harness keeps a store: a tmpfs keeps its fsyncs cheap.
[ -d /dev/shm ] && [ -w /dev/shm ] && export TMPDIR=${TMPDIR:-/dev/shm}
failed=0
printf '%-14s %12s %8s %s\n' harness executions crashes seconds
for n in $names; do
	bin="$build/tests/fuzz/$n"
	seeds="tests/fuzz/corpus/${n#fuzz_}"
	out="$build/fuzz-out/$n"
	mkdir -p "$out/corpus" "$out/crashes"
	limit="-max_total_time=$secs"
	[ -n "$runs" ] && limit="-runs=$runs"
	dict=""
	[ -f "tests/fuzz/${n#fuzz_}.dict" ] && dict="-dict=tests/fuzz/${n#fuzz_}.dict"
	before=$(ls "$out/crashes" | wc -l)
	start=$(date +%s)
	rc=0
	# shellcheck disable=SC2086
	"$bin" $limit $dict -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$out/crashes/" "$out/corpus" "$seeds" >"$out/log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out/log" | tail -1)
	crashes=$(( $(ls "$out/crashes" | wc -l) - before ))
	[ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ] && crashes=1
	printf '%-14s %12s %8s %s\n' "$n" "${execs:-?}" "$crashes" "$(( $(date +%s) - start ))"
	if [ "$crashes" -ne 0 ]; then
		failed=1
		grep -m1 -A12 'ERROR\|==ERROR\|runtime error\|deadly signal' "$out/log" >&2 || tail -20 "$out/log" >&2
		echo "  log: $out/log" >&2
	fi
done
exit $failed
