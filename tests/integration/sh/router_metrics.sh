#!/bin/bash
# it_router_metrics: the router's own /metrics and /healthz ([router]
# metrics_addr): every metric is there, and a posted message shows as an
# open deadline of its queue, its log records and its checkpoint.
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
{
	store_ini
	router_ini
	cat <<EOT
metrics_addr = 127.0.0.1
metrics_port = 0

[gateway]
listen_addr = 127.0.0.1
port = 0
EOT
} >"$dir/mailroom.ini"
"$BIN/mailroom-router" -c "$dir/mailroom.ini" >"$dir/router.log" 2>&1 &
pids+=($!)
wait_for "$dir/router.log" "metrics on" || { echo "FAIL: router"; cat "$dir/router.log"; exit 1; }
mport=$(sed -n 's/.*metrics on http:\/\/127.0.0.1:\([0-9]*\)\/metrics.*/\1/p' "$dir/router.log")
"$BIN/mailroom-gateway" -c "$dir/mailroom.ini" >"$dir/gateway.log" 2>&1 &
pids+=($!)
wait_for "$dir/gateway.log" "listening on" || { echo "FAIL: gateway"; exit 1; }
port=$(sed -n 's/.*gateway: listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/gateway.log")

check "router /healthz is 200" [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/healthz")" = 200 ]
for _ in $(seq 50); do
	[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz")" = 200 ] && break
	sleep 0.1
done
s=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
	--data-binary "$(message metrics)" "http://127.0.0.1:$port/v1/messages")
check "a message is stored ($s)" [ "$s" = 201 ]
curl -s "http://127.0.0.1:$mport/metrics" >"$dir/metrics.txt"
for m in mailroom_router_build_info mailroom_router_uptime_seconds mailroom_store_map_used_ratio \
	mailroom_store_map_used_bytes mailroom_store_map_size_bytes mailroom_log_records \
	mailroom_checkpoint_size mailroom_checkpoint_age_seconds mailroom_outbox_depth \
	mailroom_outbox_dead_letters; do
	check "$m is there" grep -q "^$m[ {]" "$dir/metrics.txt"
done
for st in open due_soon overdue seriously_overdue; do
	check "deadlines: general reply $st" grep -q "^mailroom_deadlines{queue=\"general\",clock=\"reply\",state=\"$st\"} " "$dir/metrics.txt"
done
check "the message's reply clock is open in general" \
	grep -q '^mailroom_deadlines{queue="general",clock="reply",state="open"} 1$' "$dir/metrics.txt"
check "nothing overdue yet" \
	grep -q '^mailroom_deadlines{queue="general",clock="reply",state="overdue"} 0$' "$dir/metrics.txt"
check "the map is partly used" awk '/^mailroom_store_map_used_ratio/ { exit !($2 > 0 && $2 < 1) }' "$dir/metrics.txt"
check "log records counted" awk '/^mailroom_log_records/ { exit !($2 >= 2) }' "$dir/metrics.txt"
check "the checkpoint is fresh" awk '/^mailroom_checkpoint_age_seconds/ { exit !($2 >= 0 && $2 < 60) }' "$dir/metrics.txt"
check "unknown path 404" [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$mport/x")" = 404 ]
[ $fails = 0 ] || cat "$dir/metrics.txt"
echo "$passes passed, $fails failed"
[ $fails = 0 ]
