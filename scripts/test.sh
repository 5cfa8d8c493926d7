#!/usr/bin/env bash
# Sets everything up with the dev tools, then runs lint, types and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=dev bash scripts/setup.sh
bash scripts/install-chromium.sh
# llama-cpp-python's server, for the tests marked `llamacpp`: compiled from source (about
# 10 minutes on 2 cores the first time, seconds once its wheel is cached) in the
# background while lint, types and the other tests run; pytest runs those tests last and
# they wait for the build (LLAMACPP=skip leaves it out: those tests then skip).
if [ "${LLAMACPP:-build}" != skip ]; then
  export TUNEGATE_LLAMACPP_STATUS="$PWD/.venv/llamacpp-build.status"
  export TUNEGATE_LLAMACPP_LOG="$PWD/.venv/llamacpp-build.log"
  rm -f "$TUNEGATE_LLAMACPP_STATUS"
  LLAMACPP_STATUS="$TUNEGATE_LLAMACPP_STATUS" nice -n 10 bash scripts/install-llamacpp.sh \
    > "$TUNEGATE_LLAMACPP_LOG" 2>&1 &
fi
# Label Studio, for the tests marked `labelstudio`: installed into its own virtualenv
# (.venv-labelstudio; its pins clash with tunegate's) in the background too, about a
# minute; those tests run last and wait for it (LABELSTUDIO=skip leaves it out: they then
# skip, unless an earlier install is there).
if [ "${LABELSTUDIO:-install}" != skip ]; then
  export TUNEGATE_LABELSTUDIO_STATUS="$PWD/.venv/labelstudio-install.status"
  export TUNEGATE_LABELSTUDIO_LOG="$PWD/.venv/labelstudio-install.log"
  rm -f "$TUNEGATE_LABELSTUDIO_STATUS"
  LABELSTUDIO_STATUS="$TUNEGATE_LABELSTUDIO_STATUS" nice -n 10 bash scripts/install-labelstudio.sh \
    > "$TUNEGATE_LABELSTUDIO_LOG" 2>&1 &
fi
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
# The layers of docs/architecture.md (import-linter contracts in pyproject.toml).
.venv/bin/lint-imports --no-cache
exec .venv/bin/pytest "$@"
