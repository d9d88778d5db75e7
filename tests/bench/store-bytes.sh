#!/bin/sh
# Bytes per message of each LMDB table of a store, from mdb_stat -a:
# (branch + leaf + overflow pages) x page size / messages. The figures
# bench-ingest prints are for the whole file; this says where they are.
# usage: tests/bench/store-bytes.sh STORE_DIR MESSAGES
set -eu
[ $# -eq 2 ] || { echo "usage: $0 STORE_DIR MESSAGES" >&2; exit 2; }
mdb_stat -a -e "$1" | awk -v n="$2" '
/Page size:/ { ps = $3 }
/^Status of / { name = $3; if ($3 == "Main") name = "(main)" }
/Branch pages:|Leaf pages:|Overflow pages:/ { pages[name] += $3 }
/Free pages:/ { free = $3 }
END {
	total = 0
	for (k in pages) total += pages[k]
	for (k in pages) if (pages[k]) printf "%-12s %7.0f\n", k, pages[k] * ps / n | "sort -k2 -nr"
	close("sort -k2 -nr")
	printf "%-12s %7.0f\n", "all tables", total * ps / n
}'
