#!/bin/sh
# lintian finds no error in the package; its warnings are printed.
set -eu
build=$1
deb=$(ls "$build"/mailroom_*_amd64.deb)
command -v lintian >/dev/null || { echo "SKIP: lintian is not installed (deploy/setup.sh)"; exit 77; }
out=$(lintian --tag-display-limit 0 "$deb" 2>&1 | grep -v 'running with root privileges' || true)
printf '%s\n' "$out"
if printf '%s\n' "$out" | grep -q '^E: '; then
	echo "FAIL: lintian reports errors"
	exit 1
fi
