#!/bin/sh
# Installs what Mailroom needs to build, run and test on Debian 12.
set -eu
pkgs="build-essential cmake pkg-config protobuf-c-compiler libprotobuf-c-dev libnng-dev
libsodium-dev liblmdb-dev lmdb-utils libcurl4-openssl-dev libssl-dev libcriterion-dev libmicrohttpd-dev
libjansson-dev libinih-dev libsystemd-dev libsqlite3-dev curl openssl iproute2
chromium fonts-noto-cjk nginx-light clamav-daemon
scdoc lintian debootstrap python3 python3-cryptography python3-aiosmtpd
clang libclang-rt-14-dev"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
# The browser test (tests/browser) runs on node and npm; a node that came
# with its own npm is kept.
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
[ -z "$missing" ] && exit 0
echo "installing:$missing"
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends $missing
