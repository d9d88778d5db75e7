#!/bin/sh
# The packaged units: systemd-analyze verify says nothing (any line is a
# problem: it only warns about an unknown key), every unit rates OK or
# better in systemd-analyze security, and every program has its man page.
set -eu
build=$1
root=$build/pkg/root
[ -d "$root/lib/systemd/system" ] || { echo "no unpacked package under $root"; exit 1; }
# verify resolves the units' dependencies and ExecReload's kill inside
# --root: give it the host's targets and kill there.
cp -an /lib/systemd/system/. "$root/lib/systemd/system/"
mkdir -p "$root/bin"
cp -f /bin/kill "$root/bin/kill"
fail=0
units=$(ls "$root"/lib/systemd/system/mailroom-*.service)
out=$(systemd-analyze verify --man=no --root="$root" $units 2>&1) || fail=1
if [ -n "$out" ]; then
	printf '%s\n' "$out"
	fail=1
fi
for u in $units; do
	line=$(systemd-analyze security --offline=yes --root="$root" "$u" 2>&1 | tail -n 1)
	echo "$line"
	case "$line" in
	*" OK "* | *" SAFE "* | *" PERFECT "*) ;;
	*) echo "FAIL: $(basename "$u") rates worse than OK"; fail=1 ;;
	esac
done
for p in mailroom-admin.1 mailroom-audit.1 mailroom-handler.1 mailroom-router.8 \
	mailroom-gateway.8 mailroom-hotline.8 mailroom-notify.8 mailroom.ini.5; do
	sec=${p##*.}
	grep -q "usr/share/man/man$sec/$p.gz\$" "$build/pkg/contents.txt" || {
		echo "FAIL: no man page $p"
		fail=1
	}
done
exit $fail
