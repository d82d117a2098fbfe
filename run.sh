#!/usr/bin/env bash
# The main job on a fresh clone: installs what it needs (once), then writes the
# embedded synthetic data set and prints what it holds.
#   ./run.sh [extra arguments for data_tools.generate_synthetic]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/bootstrap.sh
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec .venv/bin/python -m data_tools.generate_synthetic --out data/synthetic "$@"
