#!/usr/bin/env bash
# Creates .venv with Python 3.10, installs requirements.txt (and requirements-dev.txt) under
# constraints.txt, then the grec package itself in editable mode (`pip install -e .`: the
# `grec` command, and your edits take effect without reinstalling). A second call with
# unchanged requirement files does nothing.
#
#   scripts/bootstrap.sh           # .venv: everything but Airflow
#   scripts/bootstrap.sh airflow   # .venv-airflow: the same plus Airflow (its pins conflict with .venv's)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-main}" in
  main) venv="$root/.venv"; requirements="$root/requirements-dev.txt"; constraints="$root/constraints.txt" ;;
  airflow) venv="$root/.venv-airflow"; requirements="$root/requirements-airflow.txt"
           constraints="$root/constraints-airflow.txt" ;;
  *) echo "usage: $0 [main|airflow]" >&2; exit 2 ;;
esac
stamp="$venv/.grec-installed"

find_python310() {
  local candidate
  # 1. A python3.10 on PATH that really answers (pyenv shims may refuse).
  if candidate=$(command -v python3.10 2>/dev/null) &&
     "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
    echo "$candidate"; return 0
  fi
  # 2. pyenv's 3.10 installs, newest first.
  if command -v pyenv >/dev/null 2>&1; then
    local version
    for version in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -t. -k3 -n -r); do
      candidate="$(pyenv prefix "$version" 2>/dev/null)/bin/python3"
      if [ -x "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 10)' 2>/dev/null; then
        echo "$candidate"; return 0
      fi
    done
  fi
  return 1
}

want="$(cat "$root/requirements.txt" "$requirements" "$constraints" "$root/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi

if [ ! -x "$venv/bin/python" ]; then
  if ! py="$(find_python310)"; then
    cat >&2 <<'MSG'
GRec needs Python 3.10 (tfx 1.16 supports Python 3.9 and 3.10 only), and none was found.
Install one of:
  - Debian/Ubuntu:  apt-get install python3.10 python3.10-venv   (deadsnakes PPA on Ubuntu)
  - pyenv:          pyenv install 3.10.13
  - conda:          conda create -n py310 python=3.10  (then activate it)
and run this command again.
MSG
    exit 1
  fi
  echo "[bootstrap] creating $venv with $py" >&2
  "$py" -m venv "$venv"
fi
echo "[bootstrap] installing dependencies into $venv (first time takes several minutes)" >&2
pip_install() {
  # Some machines list find-links folders that do not exist; pip warns once per
  # package about them. Drop only those lines; pipefail keeps pip's exit code.
  "$venv/bin/python" -m pip install --quiet "$@" 2>&1 | { grep -v "is ignored: it is neither a file nor a directory" || true; }
}
pip_install --upgrade "pip<25" setuptools wheel
pip_install -r "$root/requirements.txt" -r "$requirements" -c "$constraints"
rm -f "$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/grec_repo.pth"  # older bootstraps
pip_install --no-deps --no-build-isolation -e "$root"
echo "$want" > "$stamp"
echo "[bootstrap] done" >&2
