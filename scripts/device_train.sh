#!/usr/bin/env bash
# The prepared accelerator run (issue 26); see scripts/device_train.py for the modes:
#   scripts/device_train.sh --pack    here: pack the training photos into .device_data (ignored)
#   scripts/device_train.sh           on the lent GPU: train, release fp16 weights + log into $OUT
#   scripts/device_train.sh --smoke   on the CPU: the same path, tiny, ~20 steps (make test)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=python3
[ -x .venv/bin/python ] && PY=.venv/bin/python
exec "$PY" scripts/device_train.py "$@"
