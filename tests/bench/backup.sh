#!/bin/bash
# bench-backup: how long mailroom-admin backup takes on a store whose
# messages carry files, and what copying and checking the files adds.
#
#   tests/bench/backup.sh BIN_DIR SOURCE_DIR [MESSAGES] [RUNS] [BASELINE_ADMIN]
#
# Fills a store through a real router and gateway with MESSAGES letters
# (default 300), each with its own PNG, stops them, then backs the store
# up RUNS times (default 7) and prints each run and the median in ms.
# With BASELINE_ADMIN (another build's mailroom-admin), the two are run
# alternately on the same store and the ratio of the medians is printed
# (the INI uses only settings an older build knows).
set -u
. "$(dirname "$0")/../integration/sh/tls_common.sh" "$1" "$2"
n=${3:-300}
runs=${4:-7}
base=${5:-}
need curl python3
pids=()
trap 'stop; [ -n "${MR_KEEP_TMP:-}" ] && echo "kept $dir" || rm -rf "$dir"' EXIT

{ store_ini; router_ini; gateway_ini; } >"$dir/b.ini"
start "$dir/b.ini" b

# N distinct PNGs of about 30 KiB (noise does not compress).
python3 - "$dir/png" "$n" <<'EOP'
import os, random, struct, sys, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
os.makedirs(sys.argv[1])
for i in range(int(sys.argv[2])):
    rnd = random.Random(i)
    raw = b"".join(b"\0" + bytes(rnd.getrandbits(8) for _ in range(3 * 100)) for _ in range(100))
    open(f"{sys.argv[1]}/{i}.png", "wb").write(b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 100, 100, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
EOP
stored=0
for i in $(seq 0 $((n - 1))); do
	h=$(curl -s -H 'Content-Type: image/png' --data-binary @"$dir/png/$i.png" \
		"http://127.0.0.1:$port/v1/uploads" | sed -n 's/.*"handle":"\([0-9a-f]*\)".*/\1/p')
	curl -s -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json' --data-binary \
		"{\"channel\":\"mailbox\",\"subject\":\"照片 $i\",\"body\":\"见附图。\",\"attachments\":[\"$h\"]}" \
		"http://127.0.0.1:$port/v1/messages" | grep -q 201 && stored=$((stored + 1))
done
stop
echo "store: $stored messages with a file each, $(du -sk "$dir/store/attachments" | cut -f1) KiB of files, data.mdb $(du -k "$dir/store/data.mdb" | cut -f1) KiB"

one() {   # one ADMIN OUT: ms for one backup
	local t0 t1
	t0=$(date +%s%N)
	"$1" -c "$dir/b.ini" backup --out "$2" >/dev/null 2>"$dir/err" || { cat "$dir/err" >&2; exit 1; }
	t1=$(date +%s%N)
	rm -rf "$2"
	echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
: >"$dir/new.ms"
: >"$dir/base.ms"
for r in $(seq "$runs"); do
	one "$BIN/mailroom-admin" "$dir/bk" >>"$dir/new.ms"
	[ -n "$base" ] && one "$base" "$dir/bk" >>"$dir/base.ms"
done
echo "backup, ms per run: $(tr '\n' ' ' <"$dir/new.ms")"
echo "backup, median: $(median <"$dir/new.ms") ms"
if [ -n "$base" ]; then
	echo "baseline, ms per run: $(tr '\n' ' ' <"$dir/base.ms")"
	echo "baseline, median: $(median <"$dir/base.ms") ms"
	awk -v a="$(median <"$dir/new.ms")" -v b="$(median <"$dir/base.ms")" \
		'BEGIN {printf "ratio backup/baseline: %.2f\n", a / b}'
fi
