#!/usr/bin/env bash
# Installs llama-cpp-python with its OpenAI-compatible server into .venv, for the tests
# marked `llamacpp` (tests/models/test_llamacpp.py): they run tunegate's `openai` backend
# against `python -m llama_cpp.server` serving the Gemma 3 270M GGUF.
#
# PyPI ships llama-cpp-python as a source distribution only, so pip compiles llama.cpp.
# The default build (-march=native) crashes on this machine's CPU at the first request,
# hence the flags below: a portable AVX2/FMA/F16C build with no AVX-512, no AMX, and no
# OpenMP. The compile took 10 minutes on 2 cores here.
#
# pip's own wheel cache is keyed by the sdist's URL and the Python version, not by
# CMAKE_ARGS: a wheel built once with other flags would be reused silently. So the
# wheel is built without pip's cache into a folder named after the version and a hash
# of the flags, and installed from there: a later run (or a fresh .venv) installs it
# in seconds, and changing the flags builds a new one.
#
# Environment: LLAMACPP_VERSION (default below), LLAMACPP_WHEELS (where wheels are kept,
# default ~/.cache/tunegate/wheels), LLAMACPP_REBUILD=1 to build again, LLAMACPP_STATUS
# (a file that receives this script's exit code when it ends: scripts/test.sh runs it in
# the background and the tests marked `llamacpp` wait for that file).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${LLAMACPP_STATUS:-}" ]; then
  rm -f "$LLAMACPP_STATUS"
  trap 'echo $? > "$LLAMACPP_STATUS"' EXIT
fi

VERSION=${LLAMACPP_VERSION:-0.3.36}
FLAGS="-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AVX512_VNNI=OFF -DGGML_AVX512_BF16=OFF \
-DGGML_AVX512_VBMI=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_TILE=OFF -DGGML_OPENMP=OFF"
PY=.venv/bin/python

if [ ! -x "$PY" ]; then
  echo "install-llamacpp.sh: no .venv here; run scripts/setup.sh first" >&2
  exit 2
fi

key=$(printf '%s\n%s\n' "$VERSION" "$FLAGS" | sha256sum | cut -c1-12)
root=${LLAMACPP_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/tunegate/wheels}
dir="$root/llama-cpp-python-$VERSION-$key"

find_wheel() {
  if [ -d "$dir" ]; then
    find "$dir" -maxdepth 1 -name 'llama_cpp_python-*.whl' | head -n 1
  fi
}

wheel=$(find_wheel)
if [ -n "$wheel" ] && [ "${LLAMACPP_REBUILD:-0}" != 1 ]; then
  echo "llama-cpp-python $VERSION: reusing $wheel"
else
  echo "llama-cpp-python $VERSION: building from source (about 10 minutes on 2 cores)"
  echo "  CMAKE_ARGS=$FLAGS"
  start=$SECONDS
  tmp="$dir.part.$$"
  rm -rf "$tmp"
  mkdir -p "$tmp"
  trap 'code=$?; rm -rf "$tmp"; [ -z "${LLAMACPP_STATUS:-}" ] || echo $code > "$LLAMACPP_STATUS"' EXIT
  # --no-binary: never take a prebuilt wheel from an index or --find-links folder;
  # --no-cache-dir: never take a wheel pip built earlier with other CMAKE_ARGS.
  # (scikit-build-core reads CMAKE_ARGS; FORCE_CMAKE=1 is for older releases.)
  CMAKE_ARGS="$FLAGS" FORCE_CMAKE=1 CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
    "$PY" -m pip wheel --no-deps --no-binary llama-cpp-python --no-cache-dir \
    --wheel-dir "$tmp" "llama-cpp-python==$VERSION"
  rm -rf "$dir"
  mv "$tmp" "$dir"
  if [ -n "${LLAMACPP_STATUS:-}" ]; then
    trap 'echo $? > "$LLAMACPP_STATUS"' EXIT
  else
    trap - EXIT
  fi
  wheel=$(find_wheel)
  echo "llama-cpp-python $VERSION: built $wheel in $((SECONDS - start)) s"
fi

# pip takes any installed llama-cpp-python of the same version as "already satisfied",
# whatever it was built with: replace it unless it was installed from this very wheel
# (pip records the file it came from in direct_url.json).
installed=$("$PY" - <<'EOF' 2>/dev/null || true
import importlib.metadata as md
import json

print(json.loads(md.distribution("llama-cpp-python").read_text("direct_url.json") or "{}")["url"])
EOF
)
if [ "$installed" != "file://$wheel" ]; then
  "$PY" -m pip install --quiet --force-reinstall --no-deps "$wheel"
fi
"$PY" -m pip install --quiet "llama-cpp-python[server] @ file://$wheel"
"$PY" - <<'EOF'
import llama_cpp
import llama_cpp.server.app  # noqa: F401  (the server's own dependencies are there)

print(f"llama-cpp-python {llama_cpp.__version__} with its server is installed")
EOF
