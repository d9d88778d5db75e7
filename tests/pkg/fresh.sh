#!/bin/sh
# A fresh Debian 12 machine: debootstrap bookworm into a folder, install
# the package there with apt (so its dependencies resolve from the
# mirror), start router, gateway and mailroom-notify (the packaged
# mode = folder) as the mailroom user the way the units do, following
# docs/operations.md for the notifier's key, post a message whose receipt
# notice lands in the folder, verify the log with mailroom-audit, and purge.
#
# Needs root and the Debian mirror this machine's apt uses; skips (77)
# without them. The bootstrap is cached as a tarball in
# ${MAILROOM_CACHE:-$HOME/.cache/mailroom}, so a rerun takes minutes.
set -eu
build=$1
deb=$(ls "$build"/mailroom_*_amd64.deb)
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root (debootstrap, chroot, mount)"
command -v debootstrap >/dev/null || skip "debootstrap is not installed (deploy/setup.sh)"

# The mirror apt uses here, deb822 or one-line format.
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 ~ /^bookworm$/ {print $2; exit}' \
	/etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true)
[ -n "$mirror" ] || skip "no Debian mirror found in /etc/apt/sources.list*"

cache=${MAILROOM_CACHE:-$HOME/.cache/mailroom}
tarball=$cache/bookworm-minbase.tgz
root=$(mktemp -d /var/tmp/mailroom-fresh.XXXXXX)
router=""
gateway=""
notify=""

cleanup() {
	set +e   # tear everything down even when a step fails
	[ -n "$notify" ] && kill "$notify" 2>/dev/null
	[ -n "$gateway" ] && kill "$gateway" 2>/dev/null
	[ -n "$router" ] && kill "$router" 2>/dev/null
	wait 2>/dev/null
	# Anything else still running inside the new root (ours alone).
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	sleep 0.2
	for m in dev/pts dev proc; do
		mountpoint -q "$root/$m" 2>/dev/null && umount "$root/$m" 2>/dev/null || true
	done
	# Never remove a tree that still has the host's /dev mounted in it.
	if findmnt -rn -o TARGET | grep -q "^$root/"; then
		echo "leaving $root: still mounted" >&2
	else
		rm -rf "$root"
	fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

mkdir -p "$cache"
if [ ! -s "$tarball" ]; then
	echo "bootstrapping bookworm from $mirror (cached in $tarball)"
	work=$(mktemp -d /var/tmp/mailroom-dbs.XXXXXX)
	if ! debootstrap --variant=minbase --make-tarball="$tarball.tmp" bookworm "$work" "$mirror" \
		>"$cache/debootstrap.log" 2>&1; then
		rm -rf "$work" "$tarball.tmp"
		tail -n 5 "$cache/debootstrap.log"
		skip "debootstrap could not fetch bookworm from $mirror"
	fi
	rm -rf "$work"
	mv "$tarball.tmp" "$tarball"
fi
echo "unpacking $tarball"
debootstrap --variant=minbase --unpack-tarball="$tarball" bookworm "$root" "$mirror" \
	>"$root.log" 2>&1 || { tail -n 20 "$root.log"; rm -f "$root.log"; exit 1; }
rm -f "$root.log"
chmod 755 "$root"   # mktemp made it 0700; apt's _apt user must get in
mount -t proc proc "$root/proc"
mount --bind /dev "$root/dev"
in_root() { chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
cp "$deb" "$root/tmp/mailroom.deb"
in_root apt-get update -q >/dev/null
in_root apt-get install -y -q --no-install-recommends /tmp/mailroom.deb >"$build/pkg/fresh-install.log" 2>&1 ||
	{ tail -n 30 "$build/pkg/fresh-install.log"; exit 1; }
echo "installed: $(in_root dpkg-query -W -f='${Package} ${Version} ${Status}' mailroom)"

fail() { echo "FAIL: $*"; exit 1; }
in_root getent passwd mailroom >/dev/null || fail "no mailroom user"
# Owners as the new machine names them, not as this host would.
mode=$(in_root stat -c '%a %U' /var/lib/mailroom)
[ "$mode" = "700 mailroom" ] || fail "/var/lib/mailroom is $mode"
for p in /usr/sbin/mailroom-router /usr/sbin/mailroom-gateway /usr/sbin/mailroom-notify \
	/usr/bin/mailroom-audit; do
	in_root "$p" --version >/dev/null || fail "$p --version"
done

# The office's edits to its conffile: a free port, no console listener.
port=$((20000 + $$ % 20000))
sed -i -e "s/^port = 8080/port = $port/" -e 's/^listen_addr = 127.0.0.1$/&/' \
	"$root/etc/mailroom/mailroom.ini"
sed -i '/^\[console\]/,/^\[/ s/^listen_addr = .*/listen_addr =/' "$root/etc/mailroom/mailroom.ini"

# As the units run them: the mailroom user, no new privileges, umask 077,
# in the state directory, with the packaged configuration. It execs, so
# "as_unit ... &" leaves the daemon's own pid in $!; call it in a subshell
# otherwise.
as_unit() {
	exec chroot "$root" setpriv --reuid=mailroom --regid=mailroom --init-groups --no-new-privs \
		env -i PATH=/usr/sbin:/usr/bin HOME=/var/lib/mailroom \
		sh -c 'umask 077 && cd /var/lib/mailroom && exec "$@"' sh "$@"
}
# The first start creates the keys; then, as docs/operations.md says,
# mailroom-notify's key, listed as [connector.notify], and a restart (a
# connector key is not taken by a reload). Its health on a free port.
as_unit /usr/sbin/mailroom-router -c /etc/mailroom/mailroom.ini >"$build/pkg/fresh-router.log" 2>&1 &
router=$!
i=0
until [ -e "$root/var/lib/mailroom/keys/store.key" ]; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$build/pkg/fresh-router.log"; fail "the router made no keys"; }
	sleep 0.1
done
(as_unit /usr/bin/mailroom-handler --key /var/lib/mailroom/keys/notify.key keygen >/dev/null) ||
	fail "keygen of the notifier's key"
ntpub=$(as_unit /usr/bin/mailroom-handler --key /var/lib/mailroom/keys/notify.key pubkey) ||
	fail "the notifier's public key"
nport=$((port + 1))
printf '\n[connector.notify]\nkey = %s\nrole = notify\n\n[notify]\nmetrics_addr = 127.0.0.1\nmetrics_port = %d\n' \
	"$ntpub" "$nport" >>"$root/etc/mailroom/mailroom.ini"
kill "$router"
wait "$router" || fail "router exit $? at the restart"
as_unit /usr/sbin/mailroom-router -c /etc/mailroom/mailroom.ini >>"$build/pkg/fresh-router.log" 2>&1 &
router=$!
sleep 1
as_unit /usr/sbin/mailroom-gateway -c /etc/mailroom/mailroom.ini >"$build/pkg/fresh-gateway.log" 2>&1 &
gateway=$!
i=0
until curl -sf "http://127.0.0.1:$port/healthz" >/dev/null; do
	i=$((i + 1))
	[ $i -lt 100 ] || { cat "$build/pkg/fresh-router.log" "$build/pkg/fresh-gateway.log"; fail "no /healthz"; }
	sleep 0.1
done
as_unit /usr/sbin/mailroom-notify -c /etc/mailroom/mailroom.ini run >"$build/pkg/fresh-notify.log" 2>&1 &
notify=$!
code=$(curl -s -o "$build/pkg/fresh-post.json" -w '%{http_code}' -X POST \
	"http://127.0.0.1:$port/v1/messages" -H 'Content-Type: application/json' \
	-d '{"channel":"mailbox","subject":"小区路灯不亮","body":"东门路灯坏了三天。","contact":{"email":"zhang@example.cn"}}')
[ "$code" = 201 ] || { cat "$build/pkg/fresh-post.json"; fail "POST answered $code"; }
echo "posted: $(cat "$build/pkg/fresh-post.json" | head -c 120)"
# mailroom-notify is active: healthy, the router takes its key, and the
# receipt notice is written to the folder.
i=0
until [ -n "$(ls -A "$root/var/lib/mailroom/notices" 2>/dev/null)" ]; do
	i=$((i + 1))
	[ $i -lt 150 ] || { cat "$build/pkg/fresh-notify.log"; fail "mailroom-notify wrote no notice"; }
	sleep 0.1
done
kill -0 "$notify" 2>/dev/null || { cat "$build/pkg/fresh-notify.log"; fail "mailroom-notify is not running"; }
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$nport/healthz")
[ "$code" = 200 ] || { cat "$build/pkg/fresh-notify.log"; fail "mailroom-notify /healthz answered $code"; }
curl -s "http://127.0.0.1:$nport/metrics" | grep -q '^mailroom_notify_sent_total [1-9]' ||
	fail "mailroom-notify's metrics count no notice sent"
(as_unit /usr/sbin/mailroom-notify -c /etc/mailroom/mailroom.ini status >/dev/null) ||
	fail "mailroom-notify status"
echo "mailroom-notify: active, $(ls "$root/var/lib/mailroom/notices" | wc -l) notice(s) in the folder"
mode=$(in_root stat -c '%U %a' /var/lib/mailroom/keys/store.key)
[ "$mode" = "mailroom 600" ] || fail "store.key is $mode"
(as_unit /usr/bin/mailroom-audit verify --store /var/lib/mailroom/store \
	--pubkey /var/lib/mailroom/keys/store.pub --calendars /usr/share/mailroom/calendars) ||
	fail "mailroom-audit verify"
kill "$notify" "$gateway" "$router"
wait "$notify" || fail "mailroom-notify exit $?"
wait "$gateway" || fail "gateway exit $?"
wait "$router" || fail "router exit $?"
notify=""
gateway=""
router=""

# Purge: the package's files and /etc/mailroom go; a store is kept (the
# office's legal record), and so is the system user.
in_root apt-get purge -y -q mailroom >"$build/pkg/fresh-purge.log" 2>&1 ||
	{ cat "$build/pkg/fresh-purge.log"; fail "apt purge"; }
[ ! -e "$root/usr/sbin/mailroom-router" ] || fail "router binary left after purge"
[ ! -e "$root/etc/mailroom" ] || fail "/etc/mailroom left after purge"
[ -e "$root/var/lib/mailroom/store/data.mdb" ] || fail "purge removed the store"
in_root getent passwd mailroom >/dev/null || fail "purge removed the mailroom user"
grep -q "holds a store and its keys; kept" "$build/pkg/fresh-purge.log" || fail "purge did not say the store is kept"
echo "fresh machine: installed, served, verified, purged"
