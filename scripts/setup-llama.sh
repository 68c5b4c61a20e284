#!/usr/bin/env bash
# Install llama-cpp-python (llama.cpp built from source) into .venv, for the GGUF tests and q4_k_m export.
# A first build takes about 25 minutes on 2 cores; pip caches the wheel, so later installs take seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x .venv/bin/python ] || bash scripts/setup.sh
if .venv/bin/python -c "import llama_cpp" >/dev/null 2>&1; then
  echo "setup-llama: llama-cpp-python is already installed"
  exit 0
fi
echo "setup-llama: installing llama-cpp-python==0.3.36 (builds llama.cpp unless pip has the wheel cached)"
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF}" \
  .venv/bin/python -m pip --disable-pip-version-check -q install -c .venv/torch-constraint.txt llama-cpp-python==0.3.36
