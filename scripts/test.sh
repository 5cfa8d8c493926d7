#!/usr/bin/env bash
# Sets everything up with the dev tools, then runs lint, types and the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=dev bash scripts/setup.sh
bash scripts/install-chromium.sh
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy
exec .venv/bin/pytest "$@"
