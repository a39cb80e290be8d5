#!/usr/bin/env bash
# Removes what interrupted test runs left behind: stores in /dev/shm, the CLI tests' store
# directories (/dev/shm/.cli-*) and the Rust tests' temporary directories ($TMPDIR/test-*).
# scripts/test.sh runs it before and after (EXIT trap) every run.
#
# Only names the tests create are considered, each carrying the pid of the process that made
# it (shmkit-testkit `unique_name`: test-<name>-<pid>-<n>, cli-<name>-<pid>-<n>; the Python
# tests' run prefix: pytest-<pid>-<6 hex digits>...; doc tests: doc-<name>-<pid>,
# readme-example-<pid>). One
# is removed only when that process is gone, and a store only when no process is attached to
# it: `shmkit rm` (without --force) takes the store's attach lock exclusively before it
# unlinks, and refuses (exit 6) while anyone holds it. So a concurrent test run, or a leftover
# child still attached, keeps its stores.
#
# Usage: scripts/clean-test-stores.sh [--dry-run] PATH-TO-SHMKIT-BINARY
# Without a usable binary, stores cannot be checked for attached processes and are left
# alone (said on stderr); only temporary files of interrupted creations are removed then.
# --dry-run lists the leftovers whose creator is gone and removes nothing.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dry=0
if [ "${1:-}" = "--dry-run" ]; then
    dry=1
    shift
fi
shmkit="${1:-}"
if [ -n "$shmkit" ] && [ ! -x "$shmkit" ]; then
    shmkit=""
fi
shm=/dev/shm
tmp="${TMPDIR:-/tmp}"
removed=0
kept=0

# Prints the creator pid embedded in a test store name, or fails for other names.
test_name_pid() {
    local name="$1"
    if [[ "$name" =~ ^(test|cli)-.+-([0-9]+)-[0-9]+$ ]]; then
        echo "${BASH_REMATCH[2]}"
    elif [[ "$name" =~ ^pytest-([0-9]+)-[0-9a-f]{6}([^0-9a-f].*)?$ ]]; then
        echo "${BASH_REMATCH[1]}"
    elif [[ "$name" =~ ^(doc-[a-z-]+|readme-example)-([0-9]+)$ ]]; then
        echo "${BASH_REMATCH[2]}"
    else
        return 1
    fi
}

# True if process $1 exists; in a dry run, also lists the leftover $2 of a process that is gone.
alive() {
    [[ "$1" =~ ^[1-9][0-9]*$ ]] || return 0 # not a pid: keep
    [ -e "/proc/$1" ] && return 0
    if [ "$dry" -eq 1 ]; then
        echo "would remove (unless in use): $2"
        return 0
    fi
    return 1
}

# Removes the store file $1 unless a process is attached; returns non-zero if it is kept.
remove_store() {
    local f="$1" code
    if [ -z "$shmkit" ]; then
        echo "clean-test-stores: no shmkit binary to check attachments; kept $f" >&2
        return 1
    fi
    "$shmkit" rm "$f" >/dev/null 2>&1
    code=$?
    case "$code" in
        0) return 0 ;;
        4) rm -f -- "$f" ;; # not a store (a test wrote other bytes under the name)
        3) return 0 ;;      # gone meanwhile
        *)
            echo "clean-test-stores: kept $f (shmkit rm exit $code; 6 = in use)" >&2
            return 1
            ;;
    esac
}

# Removes directory $1 if every store in it could be removed.
remove_dir() {
    local d="$1" f ok=0
    while IFS= read -r -d '' f; do
        remove_store "$f" || ok=1
    done < <(find "$d" -type f -print0 2>/dev/null)
    [ "$ok" -eq 0 ] && rm -rf -- "$d"
    return "$ok"
}

count() {
    if [ "$1" -eq 0 ]; then removed=$((removed + 1)); else kept=$((kept + 1)); fi
}

shopt -s nullglob dotglob
for f in "$shm"/shmkit.*; do
    [ -f "$f" ] || continue
    pid=$(test_name_pid "${f#"$shm"/shmkit.}") || continue
    alive "$pid" "$f" && continue
    remove_store "$f"
    count $?
done
# Temporary files of an interrupted creation: .shmkit-tmp.shmkit.<name>.<pid>.<nanos>,
# written only by the creating process, never attached by another.
for f in "$shm"/.shmkit-tmp.shmkit.*; do
    rest="${f#"$shm"/.shmkit-tmp.shmkit.}"
    [[ "$rest" =~ ^(.+)\.([0-9]+)\.[0-9]+$ ]] || continue
    name="${BASH_REMATCH[1]}"
    pid="${BASH_REMATCH[2]}"
    test_name_pid "$name" >/dev/null || continue
    alive "$pid" "$f" && continue
    rm -f -- "$f"
    count 0
done
# The CLI tests' store directories (tests/common StoreDir: /dev/shm/.cli-<name>-<pid>-<n>).
for d in "$shm"/.cli-*; do
    [ -d "$d" ] && [ ! -L "$d" ] || continue
    pid=$(test_name_pid "${d#"$shm"/.}") || continue
    alive "$pid" "$d" && continue
    remove_dir "$d"
    count $?
done
# The Rust tests' temporary directories (shmkit-testkit TempDir: $TMPDIR/test-<name>-<pid>-<n>),
# only for the <name>s the tests pass to TempDir::new: other programs' directories in $TMPDIR
# may look alike.
tempdir_names=" $(grep -rhoE 'TempDir::new\("[^"]+"\)' "$root"/crates/*/tests 2>/dev/null |
    sed -E 's/TempDir::new\("([^"]+)"\)/\1/' | tr '\n' ' ') "
for d in "$tmp"/test-*; do
    [ -d "$d" ] && [ ! -L "$d" ] || continue
    [[ "$(basename "$d")" =~ ^test-(.+)-([0-9]+)-[0-9]+$ ]] || continue
    [[ "$tempdir_names" == *" ${BASH_REMATCH[1]} "* ]] || continue
    pid="${BASH_REMATCH[2]}"
    alive "$pid" "$d" && continue
    remove_dir "$d"
    count $?
done
if [ "$removed" -gt 0 ] || [ "$kept" -gt 0 ]; then
    echo "clean-test-stores: removed $removed leftover(s) of earlier test runs, kept $kept"
fi
