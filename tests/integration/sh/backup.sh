#!/bin/bash
# it_backup: mailroom-admin backup while messages are posted, restore into
# a new directory, verify, every message acknowledged before the backup
# began present there with its attachment file, and the router serving
# from the restored store; restore refused while the router runs, refused
# over a newer store (--force overrides), refused for a damaged backup or
# one missing a file. Then a witness across a restore: one that saw the
# log grow past the backup reports the rollback with the number of records
# lost; one that saw it at the backup's size accepts it and its growth.
set -u
. "$(dirname "$0")/tls_common.sh" "$1" "$2"
need curl
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "${MR_KEEP_TMP:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT

ini() {   # ini STORE -> the INI for a router on that store
	store_ini | sed "s|^path = .*|path = $1|"
	router_ini
	gateway_ini
}
ini "$dir/store" >"$dir/a.ini"
ini "$dir/restored" >"$dir/b.ini"

post() {   # post SUBJECT: appends "CODE" to acked when 201
	local body
	body=$(curl -s --max-time 10 -H 'Content-Type: application/json' \
		--data-binary "$(message "$1")" "http://127.0.0.1:$port/v1/messages")
	echo "$body" | sed -n 's/.*"tracking_code":"\([0-9-]*\)".*/\1/p'
}

# A small valid PNG (the gateway judges files by their structure).
png() {
	python3 - "$1" <<'EOP'
import struct, sys, zlib
def chunk(t, d):
    return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
raw = b"".join(b"\0" + bytes([(x * 7) % 256 for x in range(3 * 8)]) for _ in range(8))
open(sys.argv[1], "wb").write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 2, 0, 0, 0))
    + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
EOP
}
post_attached() {   # post_attached SUBJECT FILE: the tracking code when 201
	local handle body
	handle=$(curl -s --max-time 10 -H 'Content-Type: image/png' --data-binary @"$2" \
		"http://127.0.0.1:$port/v1/uploads" | sed -n 's/.*"handle":"\([0-9a-f]*\)".*/\1/p')
	[ -n "$handle" ] || return
	body=$(curl -s --max-time 10 -H 'Content-Type: application/json' --data-binary \
		"{\"channel\":\"mailbox\",\"subject\":\"$1\",\"body\":\"见附图。\",\"attachments\":[\"$handle\"]}" \
		"http://127.0.0.1:$port/v1/messages")
	echo "$body" | sed -n 's/.*"tracking_code":"\([0-9-]*\)".*/\1/p'
}
files() {   # files DIR: how many attachment files DIR/attachments holds
	find "$1/attachments" -maxdepth 1 -type f -regextype egrep -regex '.*/[0-9a-f]{64}' 2>/dev/null | wc -l
}
need python3
png "$dir/lamp.png"

start "$dir/a.ini" a
for i in $(seq 30); do post "before $i" >>"$dir/before.txt"; done
attached=$(post_attached "with a photo" "$dir/lamp.png")
check "a message with an attachment is acknowledged ($attached)" [ -n "$attached" ]
echo "$attached" >>"$dir/before.txt"
# Posting goes on during the backup.
( for i in $(seq 200); do post "during $i" >>"$dir/during.txt"; done ) &
loader=$!
sleep 0.3
"$BIN/mailroom-admin" -c "$dir/a.ini" backup --out "$dir/bk" >"$dir/manifest.out" 2>"$dir/backup.err"
check "backup under load exits 0" [ $? = 0 ]
wait $loader
check "the load went on: $(wc -l <"$dir/during.txt") posts during the backup" [ "$(wc -l <"$dir/during.txt")" -gt 0 ]
check "MANIFEST names the log size, checkpoint, schema and sha256" \
	grep -q '"data_mdb_sha256"' "$dir/bk/MANIFEST"
check "MANIFEST's sha256 is data.mdb's" \
	grep -q "$(sha256sum "$dir/bk/data.mdb" | cut -c1-64)" "$dir/bk/MANIFEST"
check "the copy holds the attachment file ($(files "$dir/bk") of $(files "$dir/store"))" [ "$(files "$dir/bk")" -ge 1 ]
name=$(cd "$dir/bk/attachments" && ls | grep -E '^[0-9a-f]{64}$' | head -1)
check "MANIFEST lists it with its size" \
	python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); sys.exit(0 if {"name": sys.argv[2], "bytes": int(sys.argv[3])} in m["attachments"] else 1)' \
	"$dir/bk/MANIFEST" "$name" "$(stat -c %s "$dir/bk/attachments/$name")"
check "the copy verifies, its file included" "$BIN/mailroom-audit" verify --store "$dir/bk" --calendars "$SRC/deploy/calendars" >/dev/null
cp -a "$dir/bk" "$dir/bk-nofile"
rm "$dir/bk-nofile/attachments/$name"
"$BIN/mailroom-audit" verify --store "$dir/bk-nofile" --calendars "$SRC/deploy/calendars" >/dev/null 2>&1
check "a copy without the file does not verify (exit 30)" [ $? = 30 ]
"$BIN/mailroom-admin" -c "$dir/b.ini" restore --from "$dir/bk-nofile" --store "$dir/nofile" >"$dir/nofile.out" 2>&1
check "restore of a backup missing a listed file is refused (exit 8)" [ $? = 8 ]
check "and changes nothing" [ ! -e "$dir/nofile/data.mdb" ]

out=$("$BIN/mailroom-admin" -c "$dir/a.ini" restore --from "$dir/bk" 2>&1)
check "restore over the running router's store is refused (exit 11)" [ $? = 11 ]
echo "  $out"
stop

out=$("$BIN/mailroom-admin" -c "$dir/a.ini" restore --from "$dir/bk" 2>&1)
check "restore over a newer store is refused (exit 11)" [ $? = 11 ]
echo "  $out"

"$BIN/mailroom-admin" -c "$dir/b.ini" restore --from "$dir/bk" >"$dir/restore.out" 2>&1
check "restore into a new directory exits 0" [ $? = 0 ]
check "the restored store verifies" "$BIN/mailroom-audit" verify --store "$dir/restored" --calendars "$SRC/deploy/calendars" >/dev/null
missing=0
while read -r code; do
	"$BIN/mailroom-audit" trail "$code" --store "$dir/restored" >/dev/null 2>&1 || missing=$((missing + 1))
done <"$dir/before.txt"
check "all $(wc -l <"$dir/before.txt") messages acknowledged before the backup are there ($missing missing)" [ $missing = 0 ]
check "the attachment file is back beside the restored store" [ -f "$dir/restored/attachments/$name" ]
check "restore reports the files it put back" grep -q '"attachments": [1-9]' "$dir/restore.out"

start "$dir/b.ini" b
code=$(post "after restore")
check "the router serves from the restored store ($code)" [ -n "$code" ]
stop
check "the log still verifies" "$BIN/mailroom-audit" verify --store "$dir/restored" --calendars "$SRC/deploy/calendars" >/dev/null
check "the router left its search index beside the store" [ -s "$dir/restored/search.db" ]

printf 'x' | dd of="$dir/bk/data.mdb" bs=1 seek=5000 conv=notrunc 2>/dev/null
"$BIN/mailroom-admin" -c "$dir/b.ini" restore --from "$dir/bk" --store "$dir/other" >/dev/null 2>&1
check "a damaged backup is refused (exit 8)" [ $? = 8 ]
"$BIN/mailroom-admin" -c "$dir/a.ini" backup --out "$dir/bk2" >/dev/null 2>&1
"$BIN/mailroom-admin" -c "$dir/a.ini" restore --from "$dir/bk2" --store "$dir/restored" >/dev/null 2>&1
check "restore over a store whose log is not an ancestor is refused (exit 11)" [ $? = 11 ]
"$BIN/mailroom-admin" -c "$dir/a.ini" restore --from "$dir/bk2" --store "$dir/restored" --force >/dev/null 2>&1
check "--force restores another store's backup over it" [ $? = 0 ]
check "the restore removed the search index of the store it replaced" [ ! -e "$dir/restored/search.db" ]

# The witness across a restore (#18). Store a again, with no other traffic,
# so the backup's size is the size the witness saw.
url() { echo "http://127.0.0.1:$port"; }
witness() {   # witness STATE: one run against the gateway, output in $dir/STATE.out
	"$BIN/mailroom-audit" witness --state "$dir/$1" --url "$(url)" --pubkey "$dir/keys/store.pub" \
		>"$dir/$1.out" 2>&1
}
size_of() { sed -n 2p "$dir/$1/checkpoint"; }
start "$dir/a.ini" w1
witness w-late && witness w-at
check "two witnesses follow the log" [ $? = 0 ]
"$BIN/mailroom-admin" -c "$dir/a.ini" backup --out "$dir/bk3" >/dev/null 2>&1
check "backup for the witness test" [ $? = 0 ]
at=$(size_of w-at)
check "the backup's log size is the size the witness saw ($at)" grep -q "\"log_size\": $at," "$dir/bk3/MANIFEST"
for i in 1 2 3; do post "after the backup $i" >/dev/null; done
post_attached "after the backup, with a photo" "$dir/lamp.png" >/dev/null
witness w-late
check "the witness follows the growth" [ $? = 0 ]
late=$(size_of w-late)
stop
"$BIN/mailroom-admin" -c "$dir/a.ini" restore --from "$dir/bk3" --force >"$dir/restore3.out" 2>&1
check "restore --force over the newer store" [ $? = 0 ]
check "restore names the $((late - at)) records lost" grep -q "\"records_lost\": $((late - at))\b" "$dir/restore3.out"
start "$dir/a.ini" w2
witness w-late
check "the witness that saw past the backup refuses the restored log (exit 26)" [ $? = 26 ]
sed 's/^/  /' "$dir/w-late.out"
check "it names both sizes and the $((late - at)) records lost" \
	grep -q "^FAIL rollback: .*from size $late to $at: $((late - at)) signed records are missing" "$dir/w-late.out"
witness w-at
check "the witness at the backup's size accepts the restored log" [ $? = 0 ]
post "after the restore" >/dev/null
witness w-at
check "and its growth" grep -q "witness: size $at -> [0-9]*, consistent" "$dir/w-at.out"
sed -n 's/^mailroom-audit: /  /p' "$dir/w-at.out"
stop

echo "$passes passed, $fails failed"
[ $fails = 0 ]
