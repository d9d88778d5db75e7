#!/bin/sh
# pg-compare.sh: Mailroom's ingest beside PostgreSQL 15's bare durable
# insert, on the same machine, alternating, so both see the same load.
#
#   tests/bench/pg-compare.sh [-n PAIRS] [-t SECONDS] [-c CLIENTS] [-b BUILD_DIR]
#
# Each pair runs `bench-ingest -c CLIENTS -t SECONDS` (it starts its own
# router and gateway) and then `pgbench -n -c CLIENTS -j 2 -T SECONDS`, one
# 600-byte row per transaction into a plain table of a throw-away cluster
# (fsync and synchronous_commit on, loopback only). It prints both rates
# and their ratio per pair, then the median ratio. Installs PostgreSQL 15
# with apt when it is missing (root); the cluster runs as the postgres
# user when started as root, and is removed at the end.
set -eu

pairs=5 secs=10 clients=64
here=$(cd "$(dirname "$0")" && pwd)
build="$here/../../build"
while getopts n:t:c:b: o; do
	case $o in
	n) pairs=$OPTARG ;;
	t) secs=$OPTARG ;;
	c) clients=$OPTARG ;;
	b) build=$OPTARG ;;
	*) echo "usage: $0 [-n PAIRS] [-t SECONDS] [-c CLIENTS] [-b BUILD_DIR]" >&2; exit 1 ;;
	esac
done
ingest="$build/tests/bench/bench-ingest"
[ -x "$ingest" ] || { echo "pg-compare: no $ingest (build the bench-ingest target)" >&2; exit 1; }

pgbin=/usr/lib/postgresql/15/bin
if [ ! -x "$pgbin/initdb" ] || [ ! -x "$pgbin/pgbench" ]; then
	[ "$(id -u)" = 0 ] || { echo "pg-compare: PostgreSQL 15 is missing; run as root to install it" >&2; exit 1; }
	# The package's own cluster is not used: it is stopped at once.
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql-15 >/dev/null
	pg_ctlcluster 15 main stop 2>/dev/null || true
fi

# As root the cluster belongs to postgres (initdb refuses root).
as=""
if [ "$(id -u)" = 0 ]; then
	id postgres >/dev/null 2>&1 || useradd --system --home-dir /nonexistent --shell /usr/sbin/nologin postgres
	as="runuser -u postgres --"
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/mr-pg-compare-XXXXXX")
chmod 755 "$dir"
[ -z "$as" ] || chown postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

cleanup() {
	$as "$pgbin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$dir"
}
trap cleanup EXIT INT TERM

$as "$pgbin/initdb" -D "$dir/data" -U postgres --auth=trust --no-instructions -E UTF8 --locale=C >/dev/null
# Durable, as Mailroom's 201: every commit is flushed before its answer.
cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = $((clients + 16))
fsync = on
synchronous_commit = on
full_page_writes = on
shared_buffers = 256MB
EOF
$as "$pgbin/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w start >/dev/null
psql() { $as "$pgbin/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAtX "$@"; }
psql -c "CREATE TABLE msg (id bigserial PRIMARY KEY, body text NOT NULL)"
# One row of 600 bytes per transaction (pgbench: one statement = one transaction).
printf '%s\n' "INSERT INTO msg (body) VALUES (repeat('x', 600));" >"$dir/insert.sql"
chmod 644 "$dir/insert.sql"

ratios=""
echo "pair  mailroom_accepted/s  postgres_rows/s  ratio"
i=1
while [ "$i" -le "$pairs" ]; do
	m=$("$ingest" -c "$clients" -t "$secs" | sed -n 's/^accepted\/s \([0-9.]*\).*/\1/p')
	p=$($as "$pgbin/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -c "$clients" -j 2 -T "$secs" \
		-f "$dir/insert.sql" postgres 2>/dev/null |
		sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p')
	[ -n "$m" ] && [ -n "$p" ] || { echo "pg-compare: pair $i gave no figure (mailroom '$m', postgres '$p')" >&2; exit 1; }
	r=$(awk -v m="$m" -v p="$p" 'BEGIN { printf "%.2f", m / p }')
	printf '%4d  %19.0f  %15.0f  %5s\n' "$i" "$m" "$p" "$r"
	ratios="$ratios $r"
	i=$((i + 1))
done
rows=$(psql -c "SELECT count(*) FROM msg")
echo "$ratios" | tr ' ' '\n' | grep . | sort -n |
	awk -v rows="$rows" '{ v[NR] = $1 } END {
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "median ratio (mailroom / postgres) %.2f over %d pairs; postgres stored %d rows\n", m, NR, rows }'
