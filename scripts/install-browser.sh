#!/usr/bin/env bash
# Install Debian's Chromium for the dashboard's browser test (tests/browser/), if it is missing.
# Playwright drives this system browser (/usr/bin/chromium); it never downloads a browser of
# its own. Idempotent: does nothing when /usr/bin/chromium is already there.
set -euo pipefail

BROWSER=/usr/bin/chromium

if [ -x "$BROWSER" ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium >/dev/null

if [ ! -x "$BROWSER" ]; then
    echo "install-browser: apt-get installed chromium but $BROWSER is still missing" >&2
    exit 1
fi
echo "install-browser: $("$BROWSER" --version)"
