#!/usr/bin/env bash
# Builds the C API (crates/shmkit-capi), compiles examples/c/hash_map_demo.c against its
# header with `cc -Wall -Wextra -Werror` twice (linked to the shared library with an rpath,
# and to the static library), and runs both. Fails if anything fails: the build, a compiler
# warning, or a check of the demo.
#
# Usage: scripts/test-c.sh [--build-only]
#   --build-only  builds and prints the path of the shared-library binary (for the Python
#                 test that runs it next to a Python process), without running anything.
# Needs: cargo and a C compiler (`cc`, or $CC).
set -euo pipefail
cd "$(dirname "$0")/.."

build_only=0
if [ "${1:-}" = "--build-only" ]; then
    build_only=1
fi
cc="${CC:-cc}"
if ! command -v "$cc" >/dev/null 2>&1; then
    echo "test-c.sh: no C compiler ($cc) found" >&2
    exit 2
fi
target_dir="${CARGO_TARGET_DIR:-$(cargo metadata --no-deps --format-version 1 |
    sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')}"
lib_dir="$target_dir/debug"
out_dir="$target_dir/c-examples"
mkdir -p "$out_dir"

cargo build --quiet -p shmkit-capi >&2
# What the static library needs from the system, as rustc reports it.
static_libs="$(cargo rustc --quiet -p shmkit-capi --lib --crate-type staticlib -- \
    --print native-static-libs 2>&1 | sed -n 's/.*native-static-libs: //p' | tail -n 1)"

flags=(-std=c11 -Wall -Wextra -Werror -Icrates/shmkit-capi/include)
"$cc" "${flags[@]}" examples/c/hash_map_demo.c -o "$out_dir/hash_map_demo" \
    -L"$lib_dir" -lshmkit_c -Wl,-rpath,"$lib_dir"
if [ "$build_only" -eq 1 ]; then
    echo "$out_dir/hash_map_demo"
    exit 0
fi
# shellcheck disable=SC2086 # the library list is words
"$cc" "${flags[@]}" examples/c/hash_map_demo.c -o "$out_dir/hash_map_demo_static" \
    "$lib_dir/libshmkit_c.a" $static_libs

# Store names of the form the cleanup script recognises (test-<name>-<pid>-<n>).
"$out_dir/hash_map_demo" demo "test-c-demo-$$-0"
"$out_dir/hash_map_demo_static" demo "test-c-demo-static-$$-0"
echo "test-c.sh: the C example passed (shared and static)"
