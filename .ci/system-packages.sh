#!/usr/bin/env bash
# Debian packages the gateway needs at run time, installed only when missing (non-interactive):
# WeasyPrint (gateway/render/pdf.py) prints with Pango/HarfBuzz and needs a font; the browser tests
# (tests/web/test_browser.py) drive Debian's chromium through Playwright (no browser download);
# `gateway bench validation --instructions` counts with valgrind's callgrind.
set -euo pipefail
PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core chromium valgrind)
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing system packages: ${missing[*]} (run: sudo apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
