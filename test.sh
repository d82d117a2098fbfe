#!/usr/bin/env bash
# The test suite on a fresh clone: installs what it needs (once: .venv and .venv-airflow), checks lint and
# format, then runs pytest (every test not marked `slow`; end-to-end tests on
# small data included).   ./test.sh [pytest arguments]   e.g. ./test.sh -m slow
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
bash scripts/bootstrap.sh
bash scripts/bootstrap.sh airflow  # the Airflow DAG's end-to-end test runs in its own venv
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
if [ "$#" -eq 0 ]; then set -- -m "not slow"; fi
exec .venv/bin/python -m pytest "$@"
