#!/bin/sh
# The gateway's instructions per accepted message: a router and a gateway
# on a store bench-ingest fills and keeps, the gateway under
# valgrind --tool=callgrind, its counters zeroed after a warm-up, then
# bench-ingest --url for the window. Instructions are every thread's, over
# the 201s the gateway's access log shows in that window. Prints the
# figure and keeps the profile (callgrind_annotate it) when -o is given.
#
#   tests/bench/gw-callgrind.sh [-b BUILD_DIR] [-c CLIENTS] [-t SECONDS] [-o PROFILE]
set -eu

build=build clients=16 secs=6 out=
while getopts b:c:t:o: opt; do
	case $opt in
	b) build=$OPTARG ;;
	c) clients=$OPTARG ;;
	t) secs=$OPTARG ;;
	o) out=$OPTARG ;;
	*) echo "usage: $0 [-b BUILD_DIR] [-c CLIENTS] [-t SECONDS] [-o PROFILE]" >&2; exit 2 ;;
	esac
done
bench=$build/tests/bench/bench-ingest
for f in "$bench" "$build/router/mailroom-router" "$build/gateway/mailroom-gateway"; do
	[ -x "$f" ] || { echo "$0: $f is not built" >&2; exit 1; }
done

# A short run that keeps its directory: the configuration, keys and store.
dir=$("$bench" -c "$clients" -t 0.5 -w 0.2 --keep 2>&1 | sed -n 's/^harness: keeping //p')
[ -d "$dir" ] || { echo "$0: bench-ingest kept no directory" >&2; exit 1; }
rpid= gpid=
cleanup() {
	[ -n "$gpid" ] && kill "$gpid" 2>/dev/null && wait "$gpid" 2>/dev/null
	[ -n "$rpid" ] && kill "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"$build/router/mailroom-router" -c "$dir/mailroom.ini" >"$dir/router.log" 2>&1 &
rpid=$!
valgrind --tool=callgrind --callgrind-out-file="$dir/cg.out" \
	"$build/gateway/mailroom-gateway" -c "$dir/mailroom.ini" >"$dir/gw.log" 2>&1 &
gpid=$!
url=
for _ in $(seq 600); do
	url=$(sed -n 's/.*listening on \(http:[^ ]*\).*/\1/p' "$dir/gw.log" | head -n 1)
	[ -n "$url" ] && break
	sleep 0.1
done
[ -n "$url" ] || { echo "$0: the gateway did not start" >&2; cat "$dir/gw.log" >&2; exit 1; }

accepted() { grep -c 'access POST /v1/messages 201' "$dir/gw.log" || true; }
"$bench" --url "$url" -c "$clients" -t 2 -w 0 >/dev/null
sleep 0.5
n0=$(accepted)
callgrind_control -z "$gpid" >/dev/null 2>&1
"$bench" --url "$url" -c "$clients" -t "$secs" -w 0 >/dev/null
sleep 0.5
callgrind_control -d "$gpid" >/dev/null 2>&1
n1=$(accepted)
prof=$(ls -t "$dir"/cg.out* | head -n 1)
ins=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$prof" | head -n 1)
[ -n "$ins" ] || ins=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$prof" | head -n 1)
msgs=$((n1 - n0))
[ "$msgs" -gt 0 ] || { echo "$0: no message accepted in the window" >&2; exit 1; }
[ -n "$out" ] && cp "$prof" "$out"
echo "gateway instructions $ins  messages $msgs  per message $((ins / msgs))"
