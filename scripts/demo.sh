#!/usr/bin/env bash
# Sets everything up, then runs the offline demo (`tunegate demo`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/tunegate demo "$@"
