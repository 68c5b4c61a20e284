#!/usr/bin/env bash
# Set up .venv in the project root: the pinned CPU torch first, then the package with its extras.
#
#   bash scripts/setup.sh            # everything: all extras + dev tools (tests, benchmarks)
#   EXTRAS=all bash scripts/setup.sh # without the dev tools
#   TORCH_SPEC="torch==2.13.0" ...   # the torch to install when .venv has none (default: the CPU wheel)
#
# A torch already in .venv (e.g. a CUDA build on a GPU machine, installed by you) is kept: every later install
# runs under a constraint pinning that exact version, so no package can re-resolve torch to another build.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
EXTRAS="${EXTRAS:-all,dev}"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip --disable-pip-version-check -q)
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "setup: installing $TORCH_SPEC"
  "${PIP[@]}" install "$TORCH_SPEC"
fi
TORCH_VERSION=$(.venv/bin/python -W ignore -c "import torch; print(torch.__version__.split('+')[0])")
echo "torch==$TORCH_VERSION" > .venv/torch-constraint.txt
echo "setup: installing polyglot-ko[$EXTRAS] (torch pinned at $TORCH_VERSION)"
"${PIP[@]}" install -c .venv/torch-constraint.txt -e ".[$EXTRAS]" 2>&1 | { grep -v "^WARNING: Location" || true; }
.venv/bin/polyglot-ko --version
