#!/usr/bin/env bash
# Install the Debian packages the project needs beyond Python and Java, each only if missing:
#   graphviz  the `dot` program that lays out the dashboard's state graph (toolkit/dashboard/graph.py)
#   chromium  the browser of the dashboard's browser test (tests/browser/); Playwright drives this
#             system browser (/usr/bin/chromium) and never downloads a browser of its own
#   fonts     Noto Sans CJK and Symbola for notebook plots whose labels hold CJK text and emoji
#             (outline emoji, which matplotlib can draw; colour bitmap emoji fonts it cannot)
# Usage: install-system-packages.sh [graphviz] [chromium] [fonts]   (no argument: all). Idempotent.
set -euo pipefail

declare -A DEBIAN=([graphviz]="graphviz" [chromium]="chromium" [fonts]="fonts-noto-cjk fonts-symbola")
declare -A PROGRAM=([graphviz]=/usr/bin/dot [chromium]=/usr/bin/chromium)
wanted=("$@")
[ ${#wanted[@]} -gt 0 ] || wanted=(graphviz chromium fonts)

installed() {  # a program is there, or every Debian package of a name without one is installed
    local name=$1 package
    if [ -n "${PROGRAM[$name]:-}" ]; then
        [ -x "${PROGRAM[$name]}" ]
        return
    fi
    for package in ${DEBIAN[$name]}; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || return 1
    done
}

missing=()
for name in "${wanted[@]}"; do
    [ -n "${DEBIAN[$name]:-}" ] || { echo "install-system-packages: unknown name $name (graphviz, chromium or fonts)" >&2; exit 2; }
    installed "$name" || missing+=("$name")
done
[ ${#missing[@]} -gt 0 ] || exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

packages=()
for name in "${missing[@]}"; do
    packages+=(${DEBIAN[$name]})
done
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null

for name in "${missing[@]}"; do
    if ! installed "$name"; then
        echo "install-system-packages: apt-get installed ${DEBIAN[$name]} but $name is still missing" >&2
        exit 1
    fi
    echo "install-system-packages: $name installed (${DEBIAN[$name]})"
done
