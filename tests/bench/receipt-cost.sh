#!/bin/bash
# Instructions the router's writer thread spends per message, and what
# one receipt costs it, counted by callgrind (stable where seconds on a
# shared machine are not).
#
#   tests/bench/receipt-cost.sh [-b BUILD_DIR] [-n PREFILL] [-c CLIENTS] [-t SECONDS]
#
# Fills a store with bench-ingest --prefill (kept), runs its router under
# valgrind --tool=callgrind --separate-threads=yes and its gateway as is,
# zeroes the counters once the router idles (it builds its search index
# at start), sends bench-ingest --url -c CLIENTS -t SECONDS, and prints,
# per receipt, the writer's instructions inclusive of each step. Every
# accepted message gets one receipt, so "per receipt" is per message. The
# batch a commit holds depends on how fast the slowed router keeps up: it
# prints msgs/commit too, and only runs with about the same are comparable.
set -eu

build=build prefill=20000 clients=16 secs=30
while getopts b:n:c:t: o; do
	case $o in
	b) build=$OPTARG ;;
	n) prefill=$OPTARG ;;
	c) clients=$OPTARG ;;
	t) secs=$OPTARG ;;
	*) echo "usage: $0 [-b BUILD_DIR] [-n PREFILL] [-c CLIENTS] [-t SECONDS]" >&2; exit 2 ;;
	esac
done
command -v valgrind >/dev/null || { echo "$0: needs valgrind" >&2; exit 2; }

dir=$("$build/tests/bench/bench-ingest" --prefill "$prefill" -c 4 -t 1 --keep 2>&1 |
	sed -n 's/^harness: keeping //p')
[ -d "$dir" ] || { echo "$0: bench-ingest kept no store" >&2; exit 1; }
out=$dir/callgrind.out
valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$out" \
	"$build/router/mailroom-router" -c "$dir/mailroom.ini" >"$dir/router-cg.log" 2>&1 &
router=$!
"$build/gateway/mailroom-gateway" -c "$dir/mailroom.ini" >"$dir/gateway-cg.log" 2>&1 &
gateway=$!
trap 'kill $gateway $router 2>/dev/null || true' EXIT
port=
for _ in $(seq 600); do
	port=$(sed -n 's|.*listening on http://[0-9.]*:\([0-9]*\).*|\1|p' "$dir/gateway-cg.log" | head -1)
	[ -n "$port" ] && grep -q "listening on" "$dir/router-cg.log" && break
	sleep 0.5
done
[ -n "$port" ] || { echo "$0: the gateway did not start" >&2; exit 1; }
# Idle: under 0.3 s of CPU in 3 s.
cpu() { awk '{print $14 + $15}' "/proc/$router/stat"; }
prev=$(cpu)
for _ in $(seq 600); do
	sleep 3
	now=$(cpu)
	[ $((now - prev)) -lt 30 ] && break
	prev=$now
done
callgrind_control -z "$router" >/dev/null 2>&1
"$build/tests/bench/bench-ingest" --url "http://127.0.0.1:$port" -c "$clients" -t "$secs" -w 0 \
	>"$dir/bench-cg.out" 2>&1
callgrind_control -d "$router" >/dev/null 2>&1
kill $gateway
kill -TERM $router
wait $router || true
trap - EXIT

writer=$(grep -l ' receipt_fill$' "$out".1-* | head -1)
[ -n "$writer" ] || { echo "$0: no receipts in $out.1-*" >&2; exit 1; }
# Calls of receipt_fill: callgrind names a function once, then by its id.
n=$(awk '/^c?fn=\([0-9]+\) receipt_fill$/ { id = $1; sub(/^c?fn=/, "", id) }
	 /^cfn=/ { want = id != "" && index($0, "cfn=" id) == 1; next }
	 want && /^calls=/ { split($1, c, "="); n += c[2]; want = 0 }
	 END { print n + 0 }' "$writer")
[ "$n" -gt 0 ] || { echo "$0: no receipts counted" >&2; exit 1; }
echo "$n receipts; $(grep -o 'msgs/commit [0-9.]*' "$dir/bench-cg.out")"
callgrind_annotate --inclusive=yes "$writer" 2>/dev/null | awk -v n="$n" '
	BEGIN {
		split("rt_writer.c:process rt_optab.c:rt_apply st_tree.c:sti_tree_append st_tree.c:st_log_seal " \
		      "rt_msg.c:receipt_fill st_tree.c:st_tree_inclusion sn_proof.c:sn_proof_format", w, " ")
		for (i in w)
			want[w[i]] = 1
	}
	$2 ~ /^\(/ {
		fn = $0
		sub(/^ *[0-9,]+ \( *[0-9.]+%\) +/, "", fn)
		sub(/ .*/, "", fn)
		sub(/.*\//, "", fn)
		if (!(fn in want) || (fn in seen))
			next
		seen[fn] = 1
		ir = $1
		gsub(/,/, "", ir)
		printf "%-30s %10.0f instructions per receipt\n", fn, ir / n
	}'
rm -rf "$dir"
