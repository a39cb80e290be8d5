#!/usr/bin/env bash
# Mutation testing of the modules that carry shmkit's crash and concurrency claims.
#
#   bash scripts/mutants.sh GROUP [extra cargo-mutants arguments]
#
# GROUP is one of: sync, attach, alloc, hash_map, hash_map_verify, hash_map_slab,
# atomic_vector, array, deque, priority_queue, all. Each group mutates its modules and
# judges every mutant with the core's unit tests and the integration tests that exercise
# those modules (nextest, one test per process). Results land in mutants.out/ (see
# docs/TESTING.md for how to read them and for the figures of the last full run).
# Not part of the default test command: a full run takes hours on two cores. Rerun a group
# when its modules change; `--iterate` retests only the mutants that were not caught before.
# Needs: cargo install cargo-mutants (installed on first use).
set -euo pipefail
cd "$(dirname "$0")/.."

group="${1:-}"
shift || true

command -v cargo-mutants >/dev/null 2>&1 || cargo install --locked cargo-mutants

src=crates/shmkit/src
files=()
tests=()
filter=
timeout=30
case "$group" in
    sync)
        files=("$src/sync/mutex.rs" "$src/sync/seqlock.rs" "$src/sync/futex.rs")
        tests=(crash_lock store_lock fork_liveness fork_without_slot store_fork hash_map_procs
               crash_hash_map crash_alloc)
        ;;
    attach)
        files=("$src/store/attach.rs" "$src/store/reopen.rs")
        tests=(store_open store_registry store_fork store_lock store_growth store_errors
               store_options store_alloc store_corrupt store_remove hash_map crash_lock
               fork_during_attach fork_during_store_call fork_liveness
               fork_without_descriptor fork_without_slot)
        ;;
    alloc)
        files=("$src/store/alloc.rs")
        tests=(store_alloc crash_alloc store_corrupt store_growth)
        ;;
    hash_map | hash_map_verify)
        if [ "$group" = hash_map ]; then
            files=("$src/collections/hash_map/lookup.rs" "$src/collections/hash_map/write.rs"
                   "$src/collections/hash_map/resize.rs")
        else
            files=("$src/collections/hash_map/verify.rs")
        fi
        # hash_map_large (a 1 GiB value) is left out: unoptimised, it alone outlasts the
        # timeout. The chunked value paths it covers are also hit by hash_map_checksum.
        tests=(hash_map hash_map_procs hash_map_corrupt hash_map_corrupt_lengths
               hash_map_checksum crash_hash_map crash_hash_map_counters maintenance_busy
               hash_map_batch hash_map_shrink)
        timeout=60
        ;;
    hash_map_slab)
        # A fixed-size map's slabs, judged by the fixed-size map's tests only (the
        # conformance suite's other kinds filtered out: they never reach a slab). A mutant
        # that allocates without bound fills /dev/shm: run with SHMKIT_DIR on a small tmpfs.
        files=("$src/collections/hash_map/slab.rs")
        tests=(hash_map_fixed hash_map_fixed_damage crash_hash_map_fixed conformance)
        filter='not (binary(conformance) & not test(/^fixed_hash_map::/))'
        timeout=90
        ;;
    atomic_vector)
        files=("$src/collections/atomic_vector/mod.rs" "$src/collections/atomic_vector/verify.rs")
        tests=(atomic_vector)
        timeout=60
        ;;
    array)
        files=("$src/collections/array/mod.rs" "$src/collections/array/object.rs"
               "$src/collections/array/dtype.rs")
        tests=(array)
        ;;
    deque)
        files=("$src/collections/deque/locked.rs" "$src/collections/deque/ring.rs"
               "$src/collections/deque/mod.rs" "$src/collections/deque/verify.rs"
               "$src/sync/eventcount.rs")
        tests=(deque deque_damage)
        timeout=90
        ;;
    priority_queue)
        files=("$src/collections/priority_queue/locked.rs" "$src/collections/priority_queue/record.rs"
               "$src/collections/priority_queue/mod.rs" "$src/collections/priority_queue/verify.rs")
        tests=(priority_queue priority_queue_damage)
        timeout=120
        ;;
    all)
        for g in sync attach alloc hash_map hash_map_verify hash_map_slab atomic_vector array deque \
                 priority_queue; do
            bash "$0" "$g" "$@"
        done
        exit 0
        ;;
    *)
        echo "usage: $0 sync|attach|alloc|hash_map|hash_map_verify|hash_map_slab|atomic_vector|array|deque|priority_queue|all [cargo-mutants args]" >&2
        exit 2
        ;;
esac

args=(--package shmkit --test-package shmkit --timeout "$timeout" --build-timeout 600
      --output "mutants.out/$group" --cargo-test-arg=--lib)
for f in "${files[@]}"; do args+=(--file "$f"); done
for t in "${tests[@]}"; do
    # Skip binaries that do not exist (yet) in this checkout.
    [ -f "crates/shmkit/tests/$t.rs" ] && args+=("--cargo-test-arg=--test=$t")
done
[ -n "$filter" ] && args+=("--cargo-test-arg=-E" "--cargo-test-arg=$filter")
mkdir -p "mutants.out/$group"
exec cargo mutants "${args[@]}" "$@"
