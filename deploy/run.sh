#!/bin/sh
# Runs the whole service on loopback with the demo configuration:
# router, gateway and the notice sender, state under ./var, a demo handler
# key in ./var/handler.key allowed on the demo queues and to import.
# Notices to citizens are written to ./var/notices, never sent. Ctrl-C
# stops them all.
set -eu
cd "$(dirname "$0")/.."
deploy/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
# mailroom-bin builds every program and links it into build/bin.
cmake --build build -j "$(nproc)" --target mailroom-bin
mkdir -p var
if [ ! -f var/handler.key ]; then
	build/bin/mailroom-handler --key var/handler.key keygen >/dev/null
fi
pub=$(build/bin/mailroom-handler --key var/handler.key pubkey)
# mailroom-hotline's own key: the router serves it as [connector.hotline].
mkdir -p -m 0700 var/keys
if [ ! -f var/keys/hotline.key ]; then
	build/bin/mailroom-handler --key var/keys/hotline.key keygen >/dev/null
fi
hlpub=$(build/bin/mailroom-handler --key var/keys/hotline.key pubkey)
# mailroom-notify's own key: [connector.notify], role notify.
if [ ! -f var/keys/notify.key ]; then
	build/bin/mailroom-handler --key var/keys/notify.key keygen >/dev/null
fi
ntpub=$(build/bin/mailroom-handler --key var/keys/notify.key pubkey)
{
	cat deploy/mailroom.ini
	# The demo handler may also import and change the handler list
	# (mailroom-admin uses this key by default), and sees the supervision view.
	printf '\n[handler.demo]\nkey = %s\nqueues = general, roads, supervision, hotline, disclosure\nimport = yes\nadmin = yes\nsupervise = yes\n' "$pub"
	printf '\n[connector.hotline]\nkey = %s\n' "$hlpub"
	printf '\n[connector.notify]\nkey = %s\nrole = notify\n' "$ntpub"
	# mailroom-notify's own /healthz and /metrics, on loopback.
	printf '\n[notify]\nmetrics_addr = 127.0.0.1\nmetrics_port = 9103\n'
} >var/mailroom.ini
build/bin/mailroom-router -c var/mailroom.ini &
router=$!
trap 'kill $router 2>/dev/null; wait $router 2>/dev/null' EXIT INT TERM
sleep 0.5
# The demo's notices go to a folder ([notify] mode = folder), not out.
build/bin/mailroom-notify -c var/mailroom.ini run &
notify=$!
trap 'kill $notify $router 2>/dev/null; wait $notify $router 2>/dev/null' EXIT INT TERM
echo "Notices to citizens (e-mail, SMS) are written to ./var/notices, not sent;"
echo "the sender's health and metrics: http://127.0.0.1:9103/healthz and /metrics."
echo "Mailroom: http://127.0.0.1:8080  console: http://127.0.0.1:8081  handler key: var/handler.key  config: var/mailroom.ini"
echo "Programs: build/bin (export PATH=\"$PWD/build/bin:\$PATH\")"
build/bin/mailroom-gateway -c var/mailroom.ini
