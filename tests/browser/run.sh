#!/bin/sh
# ctest's entry to the browser test: installs the npm packages the lock
# file names when they are missing (never a browser: Debian's chromium is
# used), then runs pages.test.mjs against the build.
#   run.sh BUILD_DIR SOURCE_DIR
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"
if [ ! -d node_modules/playwright-core ] || [ ! -d node_modules/axe-core ]; then
	PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
fi
exec node pages.test.mjs "$1" "$2"
