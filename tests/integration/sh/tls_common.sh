# Shared by the shell integration tests: a private directory, a test CA
# made with openssl, and the programs from the build tree.
# Usage: . tls_common.sh BIN_DIR SOURCE_DIR
BIN=$1
SRC=$2
SKIP=77
fails=0
passes=0

need() {
	for t in "$@"; do
		command -v "$t" >/dev/null 2>&1 || { echo "SKIP: $t is not installed"; exit $SKIP; }
	done
}

dir=$(mktemp -d "${TMPDIR:-/tmp}/mr-tls.XXXXXX")
chmod 700 "$dir"

check() {   # check "what" command...
	if "${@:2}"; then
		echo "ok: $1"
		passes=$((passes + 1))
	else
		echo "FAIL: $1"
		fails=$((fails + 1))
	fi
}

# ca NAME: a CA certificate NAME.crt and key NAME.key
ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$dir/$1.key" -out "$dir/$1.crt" -days 2 -subj "/CN=$1" 2>/dev/null
}

# cert CA NAME USAGE SAN: NAME.crt and NAME.key (0600) signed by CA;
# USAGE is serverAuth or clientAuth.
cert() {
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
		-keyout "$dir/$2.key" -out "$dir/$2.csr" -subj "/CN=$2" 2>/dev/null &&
	printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
		"$3" "$4" >"$dir/$2.ext" &&
	openssl x509 -req -in "$dir/$2.csr" -CA "$dir/$1.crt" -CAkey "$dir/$1.key" \
		-CAcreateserial -days 2 -extfile "$dir/$2.ext" -out "$dir/$2.crt" 2>/dev/null &&
	chmod 600 "$dir/$2.key"
}

# The store part of every INI here.
store_ini() {
	cat <<EOT
[general]
log_level = ${MR_LOG_LEVEL:-info}

[store]
path = $dir/store
map_size_mb = 256
keys_dir = $dir/keys
signing_key = $dir/keys/store.key
data_key = $dir/keys/data.key
log_origin = mailroom.test/log

EOT
}

# The [router] section of every INI here, on the shipped calendars; more
# of its settings may follow.
router_ini() {
	cat <<EOT
[router]
listen = ipc://$dir/router.ipc
events = ipc://$dir/events.ipc
gateway_secret = $dir/keys/gateway.secret
calendars = $SRC/deploy/calendars
EOT
}

# The [gateway] section: loopback, a free port.
gateway_ini() {
	printf '\n[gateway]\nlisten_addr = 127.0.0.1\nport = 0\n'
}

# start INI NAME: router and gateway on INI, logs NAME-router.log and
# NAME-gateway.log, their pids added to the array pids; sets $port.
# stop: both (every pid in pids).
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

# wait_for FILE PATTERN: up to 10 s for PATTERN in FILE
wait_for() {
	for _ in $(seq 100); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

message() {
	printf '{"channel":"mailbox","subject":"%s","body":"路灯坏了三天。"}' "$1"
}
