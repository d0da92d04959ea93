#!/usr/bin/env bash
# Installs what riverchief needs on a Debian machine: the system libraries
# WeasyPrint renders with, one Simplified Chinese font family, and the
# project itself in .venv. Safe to run again; it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# poppler-utils (pdftotext, pdffonts, pdftoppm) is what the report tests read PDFs with.
SYSTEM_PACKAGES=(libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-noto-cjk poppler-utils)
# `setup.sh --test` adds the headless browser the page tests drive.
if [ "${1:-}" = "--test" ]; then
  SYSTEM_PACKAGES+=(chromium)
fi
missing=()
for pkg in "${SYSTEM_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! fc-list :lang=zh-cn family 2>/dev/null | grep -qi "CJK"; then
  echo "error: no Simplified Chinese font found after install (package fonts-noto-cjk)" >&2
  exit 1
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Every dependency at the version and hash in requirements/lock.txt (`make lock` updates it), then
# the project itself on top, without letting it pull anything the lock does not name.
stamp=.venv/.riverchief-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ requirements/lock.txt -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --require-hashes -r requirements/lock.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  touch "$stamp"
fi
