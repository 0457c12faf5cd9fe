#!/usr/bin/env bash
# Install the Debian packages the project needs beyond Python and Java, each only if missing:
#   graphviz  the `dot` program that lays out the dashboard's state graph (toolkit/dashboard/graph.py)
#   chromium  the browser of the dashboard's browser test (tests/browser/); Playwright drives this
#             system browser (/usr/bin/chromium) and never downloads a browser of its own
# Usage: install-system-packages.sh [graphviz] [chromium]   (no argument: both). Idempotent.
set -euo pipefail

declare -A PROGRAM=([graphviz]=/usr/bin/dot [chromium]=/usr/bin/chromium)
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(graphviz chromium)

missing=()
for package in "${wanted[@]}"; do
    program="${PROGRAM[$package]:?install-system-packages: unknown package $package (graphviz or chromium)}"
    [ -x "$program" ] || missing+=("$package")
done
[ ${#missing[@]} -gt 0 ] || exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${missing[@]}" >/dev/null

for package in "${missing[@]}"; do
    if [ ! -x "${PROGRAM[$package]}" ]; then
        echo "install-system-packages: apt-get installed $package but ${PROGRAM[$package]} is still missing" >&2
        exit 1
    fi
    echo "install-system-packages: $package installed (${PROGRAM[$package]})"
done
