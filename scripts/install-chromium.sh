#!/usr/bin/env bash
# Installs Debian's chromium for the browser tests (Playwright drives it through
# executable_path; Playwright's own browser download is not used). Needs root and apt;
# elsewhere it says what to do and the browser tests skip with a reason.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
else
  echo "install-chromium.sh: no chromium; install Debian's chromium package for the browser tests" >&2
fi
