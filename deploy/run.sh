#!/bin/sh
# Runs the whole service on loopback with the demo configuration:
# router and gateway, state under ./var, a demo handler key in
# ./var/handler.key allowed on the demo queues and to import. Ctrl-C
# stops both.
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
{
	cat deploy/mailroom.ini
	# The demo handler may also import and change the handler list
	# (mailroom-admin uses this key by default), and sees the supervision view.
	printf '\n[handler.demo]\nkey = %s\nqueues = general, roads, supervision, hotline, disclosure\nimport = yes\nadmin = yes\nsupervise = yes\n' "$pub"
	printf '\n[connector.hotline]\nkey = %s\n' "$hlpub"
} >var/mailroom.ini
build/bin/mailroom-router -c var/mailroom.ini &
router=$!
trap 'kill $router 2>/dev/null; wait $router 2>/dev/null' EXIT INT TERM
sleep 0.5
echo "Mailroom: http://127.0.0.1:8080  console: http://127.0.0.1:8081  handler key: var/handler.key  config: var/mailroom.ini"
echo "Programs: build/bin (export PATH=\"$PWD/build/bin:\$PATH\")"
build/bin/mailroom-gateway -c var/mailroom.ini
