#!/bin/sh
# ctest's entry to the browser test: installs the npm packages the lock
# file names when they are missing (never a browser: Debian's chromium is
# used), then runs one test (pages.test.mjs unless named) against the build.
# Both tests take their shared pieces from common.mjs.
#   run.sh BUILD_DIR SOURCE_DIR [TEST.mjs]
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
exec node "${3:-pages.test.mjs}" "$1" "$2"
