#!/bin/bash
# it_https: the gateway serves HTTPS itself on both listeners ([gateway]
# tls_cert_file, tls_key_file): curl with the test CA gets the pages, the
# API and the console; without the CA it refuses the certificate; plain
# HTTP gets no answer; a key file others may read stops the gateway.
set -u
. "$(dirname "$0")/tls_common.sh" "$1" "$2"
need openssl curl
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	[ -n "${MR_KEEP_TMP:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT

ca office-ca &&
cert office-ca gateway serverAuth "DNS:gw.mailroom.test" || { echo "FAIL: openssl"; exit 1; }
{
	store_ini
	router_ini
	cat <<EOT

[gateway]
listen_addr = 127.0.0.1
port = 0
tls_cert_file = $dir/gateway.crt
tls_key_file = $dir/gateway.key

[console]
listen_addr = 127.0.0.1
port = 0
EOT
} >"$dir/mailroom.ini"

"$BIN/mailroom-router" -c "$dir/mailroom.ini" >"$dir/router.log" 2>&1 &
pids+=($!)
wait_for "$dir/router.log" "listening on" || { echo "FAIL: router"; cat "$dir/router.log"; exit 1; }

"$BIN/mailroom-gateway" -c "$dir/mailroom.ini" >"$dir/gateway.log" 2>&1 &
pids+=($!)
wait_for "$dir/gateway.log" "console listening on" || { echo "FAIL: gateway"; cat "$dir/gateway.log"; exit 1; }
port=$(sed -n 's/.*gateway: listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/gateway.log")
cport=$(sed -n 's/.*console listening on https:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$dir/gateway.log")
check "both listeners say https ($port, $cport)" [ -n "$port" ] && [ -n "$cport" ]

tls() {   # tls PORT PATH [curl args] -> status
	local p=$1 path=$2
	shift 2
	curl -s -o "$dir/out" -w '%{http_code}' --max-time 10 --cacert "$dir/office-ca.crt" \
		--resolve "gw.mailroom.test:$p:127.0.0.1" "$@" "https://gw.mailroom.test:$p$path"
}
for _ in $(seq 50); do [ "$(tls "$port" /healthz)" = 200 ] && break; sleep 0.2; done
check "GET /healthz over HTTPS is 200" [ "$(tls "$port" /healthz)" = 200 ]
check "the home page over HTTPS is 200" [ "$(tls "$port" /)" = 200 ]
s=$(tls "$port" /v1/messages -H 'Content-Type: application/json' --data-binary "$(message "https")")
check "POST /v1/messages over HTTPS is 201 ($s)" [ "$s" = 201 ]
check "the answer has a tracking code" grep -q '"tracking_code"' "$dir/out"
check "the console over HTTPS is 200" [ "$(tls "$cport" /)" = 200 ]
curl -s -o /dev/null --max-time 5 --resolve "gw.mailroom.test:$port:127.0.0.1" \
	"https://gw.mailroom.test:$port/healthz"
check "without the CA curl refuses the certificate (exit 60)" [ $? = 60 ]
plain=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/healthz")
check "plain HTTP gets no HTTP answer ($plain)" [ "$plain" != 200 ]

kill "${pids[1]}"; wait "${pids[1]}"
# A key others may read is refused before anything listens.
chmod 644 "$dir/gateway.key"
"$BIN/mailroom-gateway" -c "$dir/mailroom.ini" >"$dir/bad.log" 2>&1 &
bad=$!
sleep 1
kill $bad 2>/dev/null && { wait $bad; echo "FAIL: gateway ran with a 0644 key"; fails=$((fails + 1)); }
check "a 0644 key is refused with chmod 600" grep -q "chmod 600 $dir/gateway.key" "$dir/bad.log"
chmod 600 "$dir/gateway.key"

kill "${pids[0]}"; wait "${pids[0]}"
check "verify passes" "$BIN/mailroom-audit" verify --store "$dir/store" --calendars "$SRC/deploy/calendars" >/dev/null
[ $fails = 0 ] || { tail -n 20 "$dir/router.log" "$dir/gateway.log"; }
echo "$passes passed, $fails failed"
[ $fails = 0 ]
