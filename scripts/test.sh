#!/usr/bin/env bash
# Runs every test of the project: Rust (unit, integration, doc), C and Python, after the style
# checks (rustfmt and clippy with warnings as errors), which fail the run like a test does.
# Works on a fresh machine with the Rust toolchain, a C compiler (cc), Python 3.11, pip, maturin
# and pytest.
#
# Stores the tests leave behind when a run is interrupted (or a test leaks one) are removed
# before the run and when it ends, however it ends (scripts/clean-test-stores.sh: only test
# names whose creating process is gone and that no process is attached to). A run that
# completes but left stores behind says so, and fails when CI=true.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --no-deps --format-version 1 |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
shmkit_bin="${target_dir:-target}/debug/shmkit"
clean_test_stores() {
    bash scripts/clean-test-stores.sh "$shmkit_bin" || true
}
trap clean_test_stores EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# The cleanup removes stores only through `shmkit rm` (which refuses a store in use), so the
# command is built first: on a fresh clone, leftovers of earlier runs are then removed too.
cargo build --quiet -p shmkit-cli
clean_test_stores

echo "== style: cargo fmt --check, cargo clippy -D warnings, the public API alone"
cargo fmt --all --check
cargo clippy --quiet --workspace --all-targets -- -D warnings
# A workspace-wide build turns on every feature any crate asks for, including the core's
# `internals` (its tests' hooks): check each front end alone, so one reaching for an
# internal item fails here instead of compiling only in the workspace.
for front in shmkit-cli shmkit-py shmkit-capi; do
    cargo check --quiet -p "$front"
done
cargo check --quiet -p shmkit-bench --lib --bins

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
    cargo test -p shmkit --release --test loom_seqlock --test loom_hash_map

echo "== C API: the C example against the header and the library"
bash scripts/test-c.sh

if [ -f scripts/test-python.sh ]; then
    echo "== Python tests"
    bash scripts/test-python.sh
fi
left="$(bash scripts/clean-test-stores.sh --dry-run "$shmkit_bin")"
if [ -n "$left" ]; then
    echo "== tests left stores behind (removed on exit):"
    echo "$left"
    if [ "${CI:-}" = "true" ]; then
        exit 1
    fi
fi
echo "== all tests passed"
