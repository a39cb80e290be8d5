#!/usr/bin/env bash
# Runs every test of the project: Rust (unit, integration, doc) and Python.
# Works on a fresh machine with the Rust toolchain, Python 3.11, pip, maturin and pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== Rust tests"
if cargo nextest --version >/dev/null 2>&1; then
    # One process per test: the crash tests fork and SIGKILL children.
    cargo nextest run --workspace --no-fail-fast
else
    echo "(cargo-nextest not installed: using cargo test, one test at a time)"
    cargo test --workspace --lib --bins --tests -- --test-threads=1
fi
echo "== Rust doc tests"
cargo test --workspace --doc

echo "== loom model checks"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom \
    cargo test -p shmkit --release --test loom_seqlock

if [ -f scripts/test-python.sh ]; then
    echo "== Python tests"
    bash scripts/test-python.sh
fi
echo "== all tests passed"
