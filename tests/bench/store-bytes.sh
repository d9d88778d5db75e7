#!/bin/sh
# Bytes per message of each LMDB table of a store, from mdb_stat -a:
# (branch + leaf + overflow pages) x page size / messages. The figures
# bench-ingest prints are for the whole file; this says where they are.
# mdb_stat counts no pages of sorted duplicates (deadline keeps its
# entries so, store/README.md): they are the pages in use that no table,
# the free list and the two meta pages account for, printed as
# "deadline dups".
# usage: tests/bench/store-bytes.sh STORE_DIR MESSAGES
set -eu
[ $# -eq 2 ] || { echo "usage: $0 STORE_DIR MESSAGES" >&2; exit 2; }
mdb_stat -a -e -f "$1" | awk -v n="$2" '
/Page size:/ { ps = $3 }
/Number of pages used:/ { used = $5 }
/^Freelist Status/ { name = "(freelist)" }
/^Status of / { name = $3; if ($3 == "Main") name = "(main)" }
/Branch pages:|Leaf pages:|Overflow pages:/ { pages[name] += $3 }
/Free pages:/ { free = $3 }
END {
	total = 0
	listed = pages["(freelist)"] + free + 2
	delete pages["(freelist)"]
	for (k in pages) { total += pages[k]; listed += pages[k] }
	if (used > listed) { pages["deadline dups"] = used - listed; total += used - listed }
	for (k in pages) if (pages[k]) printf "%-14s %7.0f\n", k, pages[k] * ps / n | "sort -k2 -nr"
	close("sort -k2 -nr")
	printf "%-14s %7.0f\n", "all tables", total * ps / n
}'
