#!/usr/bin/env bash
# Builds the shmkit Python extension in release mode into a virtualenv (.venv at the
# repository root, created or reused) and runs the Python test suite with pytest.
#
# Needs: Rust (cargo), Python >= 3.11 with pip (and venv). The virtualenv sees the system's
# site-packages, so an installed maturin and pytest are used as they are; whichever is
# missing is installed into the virtualenv from PyPI (also NumPy, which the Array tests use). Extra arguments are passed to pytest.
# Exit status: pytest's; non-zero also when pytest collected no test.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

python="${PYTHON:-}"
if [ -z "$python" ]; then
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then python="$candidate"; break; fi
    done
fi
if [ -z "$python" ]; then
    echo "test-python.sh: no python3 found (set PYTHON)" >&2
    exit 2
fi

venv="$root/.venv"
if [ ! -x "$venv/bin/python" ]; then
    echo "test-python.sh: creating $venv with $python"
    "$python" -m venv --system-site-packages "$venv"
fi
py="$venv/bin/python"

# maturin: the virtualenv's, else one on PATH (it builds for $VIRTUAL_ENV), else install it.
maturin=""
if [ -x "$venv/bin/maturin" ]; then
    maturin="$venv/bin/maturin"
elif command -v maturin >/dev/null 2>&1; then
    maturin="$(command -v maturin)"
fi
missing=()
[ -n "$maturin" ] || missing+=("maturin>=1.9.4,<2")
"$py" -c "import pytest" >/dev/null 2>&1 || missing+=("pytest>=7")
# NumPy: the Array tests check zero-copy views and dtypes against it (shmkit itself runs
# without it).
"$py" -c "import numpy" >/dev/null 2>&1 || missing+=("numpy>=1.26")
if [ ${#missing[@]} -gt 0 ]; then
    echo "test-python.sh: installing ${missing[*]} into $venv"
    "$py" -m pip install --quiet "${missing[@]}"
fi
[ -n "$maturin" ] || maturin="$venv/bin/maturin"

export VIRTUAL_ENV="$venv"
export PATH="$venv/bin:$PATH"

echo "test-python.sh: building the extension (release) into $venv"
(cd crates/shmkit-py && "$maturin" develop --release --quiet)

set +e
"$py" -m pytest crates/shmkit-py/tests -p no:cacheprovider "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "test-python.sh: pytest collected no tests" >&2
fi
exit "$status"
