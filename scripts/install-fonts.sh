#!/usr/bin/env bash
# Install Debian's fonts for notebook plots whose labels hold CJK text and emoji (notebook 05's
# error messages): Noto Sans CJK and Symbola (outline emoji, which matplotlib can draw; colour
# bitmap emoji fonts it cannot). Installed the way scripts/install-browser.sh installs Chromium.
# Idempotent: does nothing when both are there.
set -euo pipefail

PACKAGES=(fonts-noto-cjk fonts-symbola)

missing=()
for package in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-fonts: installed ${missing[*]}"
