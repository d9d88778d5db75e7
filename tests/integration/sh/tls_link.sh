#!/bin/bash
# it_tls_link: the router link over tls+tcp:// between hosts, with mutual
# TLS. The router and three gateways each run in a network namespace of
# their own, joined by veth pairs (10.200.N.1 router, 10.200.N.2 gateway N).
# Gateways 1 and 2 have certificates from the office CA: messages posted to
# each are stored and the log verifies. Gateway 3's certificate is from
# another CA: its post is 503, nothing is stored, the router logs refusals.
# Needs root and iproute2 (exit 77 = skipped without them).
set -u
. "$(dirname "$0")/tls_common.sh" "$1" "$2"
[ "$(id -u)" = 0 ] || { echo "SKIP: network namespaces need root"; exit $SKIP; }
need ip openssl curl
tag="mrt$$"
pids=()

cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
	for n in 1 2 3; do
		ip link del "${tag}r$n" 2>/dev/null
		ip netns del "${tag}g$n" 2>/dev/null
	done
	ip netns del "${tag}r" 2>/dev/null
	[ -n "${MR_KEEP_TMP:-}" ] && echo "kept $dir" || rm -rf "$dir"
}
trap cleanup EXIT

ip netns add "${tag}r" || { echo "SKIP: cannot make network namespaces"; exit $SKIP; }
ip -n "${tag}r" link set lo up
for n in 1 2 3; do
	ip netns add "${tag}g$n"
	ip -n "${tag}g$n" link set lo up
	ip link add "${tag}r$n" netns "${tag}r" type veth peer name "${tag}g$n" netns "${tag}g$n"
	ip -n "${tag}r" addr add "10.200.$n.1/24" dev "${tag}r$n"
	ip -n "${tag}r" link set "${tag}r$n" up
	ip -n "${tag}g$n" addr add "10.200.$n.2/24" dev "${tag}g$n"
	ip -n "${tag}g$n" link set "${tag}g$n" up
done

ca office-ca && ca other-ca &&
cert office-ca router serverAuth "DNS:router.mailroom.test" &&
cert office-ca gateway1 clientAuth "DNS:gateway1.mailroom.test" &&
cert office-ca gateway2 clientAuth "DNS:gateway2.mailroom.test" &&
cert other-ca gateway3 clientAuth "DNS:gateway3.mailroom.test" || { echo "FAIL: openssl"; exit 1; }

{
	store_ini
	cat <<EOT
[router]
listen = tls+tcp://0.0.0.0:4433
events = ipc://$dir/events.ipc
gateway_secret = $dir/keys/gateway.secret
calendars = $SRC/deploy/calendars

[tls]
cert_file = $dir/router.crt
key_file = $dir/router.key
ca_file = $dir/office-ca.crt
EOT
} >"$dir/router.ini"

ip netns exec "${tag}r" "$BIN/mailroom-router" -c "$dir/router.ini" >"$dir/router.log" 2>&1 &
pids+=($!)
wait_for "$dir/router.log" "with TLS" || { echo "FAIL: router did not start"; cat "$dir/router.log"; exit 1; }

for n in 1 2 3; do
	mkdir -p "$dir/g$n" && chmod 700 "$dir/g$n"
	# The HMAC secret reaches the gateway's host as a 0600 file.
	install -m 600 "$dir/keys/gateway.secret" "$dir/g$n/gateway.secret"
	cat >"$dir/g$n.ini" <<EOT
[router]
listen = tls+tcp://10.200.$n.1:4433
gateway_secret = $dir/g$n/gateway.secret

[gateway]
listen_addr = 127.0.0.1
port = 8080
router_timeout_ms = 3000

[tls]
cert_file = $dir/gateway$n.crt
key_file = $dir/gateway$n.key
ca_file = $dir/office-ca.crt
server_name = router.mailroom.test
EOT
	ip netns exec "${tag}g$n" "$BIN/mailroom-gateway" -c "$dir/g$n.ini" >"$dir/g$n.log" 2>&1 &
	pids+=($!)
done
for n in 1 2 3; do
	wait_for "$dir/g$n.log" "listening on" || { echo "FAIL: gateway $n did not start"; cat "$dir/g$n.log"; exit 1; }
done

post() {   # post N SUBJECT -> prints the HTTP status
	ip netns exec "${tag}g$1" curl -s -o "$dir/post$1.json" -w '%{http_code}' --max-time 10 \
		-H 'Content-Type: application/json' --data-binary "$(message "$2")" \
		http://127.0.0.1:8080/v1/messages
}
# The first post may wait for the dialer's first handshake.
for n in 1 2; do
	for _ in $(seq 50); do
		[ "$(ip netns exec "${tag}g$n" curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8080/healthz)" = 200 ] && break
		sleep 0.2
	done
done
s1=$(post 1 "gateway one")
s2=$(post 2 "gateway two")
s3=$(post 3 "other CA")
check "gateway 1 (office CA) stores: $s1" [ "$s1" = 201 ]
check "gateway 2 (office CA) stores: $s2" [ "$s2" = 201 ]
check "gateway 3 (other CA) refused with 503: $s3" [ "$s3" = 503 ]
check "router logs the refused peer" wait_for "$dir/router.log" "tls: refused"

kill "${pids[0]}" && wait "${pids[0]}"
check "router stopped cleanly" [ $? = 0 ]
out=$("$BIN/mailroom-audit" verify --store "$dir/store" --calendars "$SRC/deploy/calendars" 2>&1)
check "verify passes" [ $? = 0 ]
for n in 1 2; do
	code=$(sed -n 's/.*"tracking_code":"\([0-9-]*\)".*/\1/p' "$dir/post$n.json")
	check "gateway $n's message $code is in the log" \
		"$BIN/mailroom-audit" trail "$code" --store "$dir/store" >/dev/null
done
echo "$out" | tail -3

[ $fails = 0 ] || { for f in router g1 g2 g3; do echo "== $f"; tail -20 "$dir/$f.log"; done; }
echo "$passes passed, $fails failed"
[ $fails = 0 ]
