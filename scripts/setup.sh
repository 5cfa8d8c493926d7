#!/usr/bin/env bash
# Creates .venv (if needed) and installs tunegate with its extras.
# PyTorch is pinned to 2.13.0 first: that CPU build installs from local disk here,
# and a looser requirement would pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check "torch==2.13.0"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[local${EXTRAS:+,$EXTRAS}]"
# With the dev extras, the example plugin (an `echo` backend and a `max_words` scorer,
# found through entry points; tests/e2e/test_plugin_package.py uses it), without
# dependencies (tunegate is installed).
case ",${EXTRAS:-}," in
  *,dev,*)
    .venv/bin/python -m pip install --quiet --disable-pip-version-check \
      --no-deps -e plugins/tunegate-example-plugin
    ;;
esac
# An editable install leaves tunegate's own modules uncompiled, and with
# PYTHONDONTWRITEBYTECODE set (as on some machines) they would be compiled again by
# every command (~45 ms of each start): compile them once here.
.venv/bin/python -m compileall -q src/tunegate
