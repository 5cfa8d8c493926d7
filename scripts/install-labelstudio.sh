#!/usr/bin/env bash
# Installs Label Studio into its own virtualenv, .venv-labelstudio, for the tests marked
# `labelstudio` (tests/human/test_labelstudio_server.py): they start a real Label Studio
# server on loopback and run tunegate's annotation exchange against it.
#
# Label Studio pins versions of numpy, openai and pyarrow older than tunegate's, so it
# cannot share .venv: it gets a virtualenv of its own, and the tests only run its
# `label-studio` command and talk to the server over HTTP. uv installs it (about a minute
# cold, against several with pip).
#
# Environment: LABELSTUDIO_VERSION, LABELSTUDIO_SDK_VERSION (defaults below),
# LABELSTUDIO_VENV (default .venv-labelstudio), LABELSTUDIO_STATUS (a file that receives
# this script's exit code when it ends: scripts/test.sh runs it in the background and the
# tests marked `labelstudio` wait for that file).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${LABELSTUDIO_STATUS:-}" ]; then
  rm -f "$LABELSTUDIO_STATUS"
  trap 'echo $? > "$LABELSTUDIO_STATUS"' EXIT
fi

VERSION=${LABELSTUDIO_VERSION:-1.23.2}
SDK_VERSION=${LABELSTUDIO_SDK_VERSION:-2.1.2}
VENV=${LABELSTUDIO_VENV:-.venv-labelstudio}
start=$SECONDS

if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
if [ ! -x "$VENV/bin/uv" ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check uv
fi
"$VENV/bin/uv" pip install --quiet --python "$VENV/bin/python" \
  "label-studio==$VERSION" "label-studio-sdk==$SDK_VERSION"
# (not `label-studio --version`: that sets up a database in the home folder and asks PyPI
# for the latest release)
"$VENV/bin/python" -c "import label_studio, label_studio_sdk" > /dev/null
echo "label-studio $VERSION is installed in $VENV ($((SECONDS - start)) s)"
