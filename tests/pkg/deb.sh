#!/bin/sh
# Builds the Debian package from BUILD (cpack) and unpacks it under
# BUILD/pkg/root for the other package tests.
set -eu
build=$1
cd "$build"
rm -f mailroom_*_amd64.deb
cpack -G DEB >pkg/cpack.log 2>&1 || { cat pkg/cpack.log; exit 1; }
deb=$(ls mailroom_*_amd64.deb)
rm -rf pkg/root
mkdir -p pkg/root
dpkg-deb -x "$deb" pkg/root
dpkg-deb -c "$deb" >pkg/contents.txt
echo "built $deb"
