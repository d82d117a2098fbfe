#!/usr/bin/env bash
# The main job on a fresh clone: installs what it needs (once), then runs
# `grec demo` (pipelines/main_job.py): synthetic data -> TFX pipeline -> per-task AP table -> gRPC query.
#   ./run.sh [--rows N] [--train-steps N] [--no-serve]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/bootstrap.sh
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
exec .venv/bin/grec demo "$@"
