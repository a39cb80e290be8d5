#!/usr/bin/env bash
# Builds the C API (crates/shmkit-capi), compiles the C examples (examples/c/*.c:
# hash_map_demo, atomic_vector_demo, array_demo, queue_demo, ordered_map_demo) against its header with `cc -Wall -Wextra -Werror`
# twice (linked to the shared library with an rpath, and to the static library), and runs
# each. Fails if anything fails: the build, a compiler warning, or a check of a demo.
#
# Usage: scripts/test-c.sh [--build-only]
#   --build-only  builds the shared-library binaries and prints the directory holding them
#                 (for the Python test that runs them next to a Python process), without
#                 running anything.
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
demos=(hash_map_demo atomic_vector_demo array_demo queue_demo ordered_map_demo)
for demo in "${demos[@]}"; do
    "$cc" "${flags[@]}" "examples/c/$demo.c" -o "$out_dir/$demo" \
        -L"$lib_dir" -lshmkit_c -Wl,-rpath,"$lib_dir"
done
if [ "$build_only" -eq 1 ]; then
    echo "$out_dir"
    exit 0
fi
for demo in "${demos[@]}"; do
    # shellcheck disable=SC2086 # the library list is words
    "$cc" "${flags[@]}" "examples/c/$demo.c" -o "$out_dir/${demo}_static" \
        "$lib_dir/libshmkit_c.a" $static_libs
done

# Store names of the form the cleanup script recognises (test-<name>-<pid>-<n>).
for demo in "${demos[@]}"; do
    tag="${demo%_demo}"
    tag="${tag//_/-}"
    "$out_dir/$demo" demo "test-c-$tag-$$-0"
    "$out_dir/${demo}_static" demo "test-c-$tag-static-$$-0"
done
echo "test-c.sh: the C examples passed (shared and static)"
