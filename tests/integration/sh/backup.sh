#!/bin/bash
# it_backup: mailroom-admin backup while messages are posted, restore into
# a new directory, verify, every message acknowledged before the backup
# began present there, and the router serving from the restored store;
# restore refused while the router runs, refused over a newer store
# (--force overrides), refused for a damaged backup.
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
	cat <<EOT
[router]
listen = ipc://$dir/router.ipc
events = ipc://$dir/events.ipc
gateway_secret = $dir/keys/gateway.secret
calendars = $SRC/deploy/calendars

[gateway]
listen_addr = 127.0.0.1
port = 0
EOT
}
ini "$dir/store" >"$dir/a.ini"
ini "$dir/restored" >"$dir/b.ini"

start() {   # start INI NAME: router and gateway; sets $port
	"$BIN/mailroom-router" -c "$1" >"$dir/$2-router.log" 2>&1 &
	pids+=($!)
	wait_for "$dir/$2-router.log" "listening on" || { echo "FAIL: router"; cat "$dir/$2-router.log"; exit 1; }
	"$BIN/mailroom-gateway" -c "$1" >"$dir/$2-gateway.log" 2>&1 &
	pids+=($!)
	wait_for "$dir/$2-gateway.log" "listening on" || { echo "FAIL: gateway"; exit 1; }
	port=$(sed -n 's/.*gateway: listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/$2-gateway.log")
	for _ in $(seq 50); do
		[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ] && break
		sleep 0.1
	done
}
stop() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	pids=()
}
post() {   # post SUBJECT: appends "CODE" to acked when 201
	local body
	body=$(curl -s --max-time 10 -H 'Content-Type: application/json' \
		--data-binary "$(message "$1")" "http://127.0.0.1:$port/v1/messages")
	echo "$body" | sed -n 's/.*"tracking_code":"\([0-9-]*\)".*/\1/p'
}

start "$dir/a.ini" a
for i in $(seq 30); do post "before $i" >>"$dir/before.txt"; done
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
check "the copy verifies" "$BIN/mailroom-audit" verify --store "$dir/bk" --calendars "$SRC/deploy/calendars" >/dev/null

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

start "$dir/b.ini" b
code=$(post "after restore")
check "the router serves from the restored store ($code)" [ -n "$code" ]
stop
check "the log still verifies" "$BIN/mailroom-audit" verify --store "$dir/restored" --calendars "$SRC/deploy/calendars" >/dev/null

printf 'x' | dd of="$dir/bk/data.mdb" bs=1 seek=5000 conv=notrunc 2>/dev/null
"$BIN/mailroom-admin" -c "$dir/b.ini" restore --from "$dir/bk" --store "$dir/other" >/dev/null 2>&1
check "a damaged backup is refused (exit 8)" [ $? = 8 ]
"$BIN/mailroom-admin" -c "$dir/a.ini" backup --out "$dir/bk2" >/dev/null 2>&1
"$BIN/mailroom-admin" -c "$dir/a.ini" restore --from "$dir/bk2" --store "$dir/restored" >/dev/null 2>&1
check "restore over a store whose log is not an ancestor is refused (exit 11)" [ $? = 11 ]
"$BIN/mailroom-admin" -c "$dir/a.ini" restore --from "$dir/bk2" --store "$dir/restored" --force >/dev/null 2>&1
check "--force restores another store's backup over it" [ $? = 0 ]

echo "$passes passed, $fails failed"
[ $fails = 0 ]
