#!/usr/bin/env bash
# Runs every fuzz target under fuzz/ for a bounded time (default 60 s each) and prints, per
# target, the executions, their rate and the crashes found (a crash, a hang past the time
# limit, or a leak fails the run; libFuzzer leaves the input in fuzz/artifacts/<target>/).
# Not part of the test command: fuzzing is open-ended; docs/TESTING.md records the figures.
#
#   bash scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs cargo-fuzz (installed with `cargo install cargo-fuzz` when missing) and a nightly
# toolchain when one is installed (for the sanitizers); with only a stable toolchain the
# targets run without a sanitizer (`-s none`), coverage-guided all the same.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(open_file damaged_store)
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
toolchain=()
sanitizer=(-s none)
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    toolchain=(+nightly)
    sanitizer=(-s address)
fi

cleanup() { rm -rf /dev/shm/shmkit-fuzz-* 2>/dev/null || true; }
trap cleanup EXIT

declare -A max_len=([open_file]=65536 [damaged_store]=4096)
failed=0
summary=()
for target in "${targets[@]}"; do
    mkdir -p "corpus/$target"
    rm -rf "artifacts/$target"
    log="$(mktemp)"
    status=0
    cargo "${toolchain[@]}" fuzz run "${sanitizer[@]}" --release "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=20 -rss_limit_mb=4096 \
        -max_len="${max_len[$target]:-4096}" -print_final_stats=1 >"$log" 2>&1 || status=$?
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
    rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
    crashes="$(ls "artifacts/$target" 2>/dev/null | wc -l)"
    summary+=("$target: ${execs:-?} executions in ${seconds} s (${rate:-?}/s), exit status $status, $crashes input(s) in artifacts/$target")
    if [ "$status" -ne 0 ] || [ "$crashes" -ne 0 ]; then
        failed=1
        tail -40 "$log"
    fi
    rm -f "$log"
done
printf '%s\n' "${summary[@]}"
exit "$failed"
