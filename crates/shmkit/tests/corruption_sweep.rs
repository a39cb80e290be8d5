//! The corruption sweep: thousands of damaged copies of one store file (two hash maps and an
//! atomic vector; a quarter of the damage aimed at the objects' roots) — bits flipped,
//! words overwritten with lengths and offsets that point past the end, runs zeroed, the
//! file cut short — each opened from scratch and put through every public read, check,
//! repair and a few writes (`common/exercise.rs`). A case passes when nothing panics, no
//! signal arrives (SIGBUS, SIGSEGV), nothing waits without end, and every entry handed out,
//! before or after repair, is one that was written.
//!
//! The cases run in forked children, a batch per child, each child announcing a case before
//! running it; a child that dies by a signal, exits non-zero or overruns its time limit fails
//! the test with the case's seed, which replays it alone:
//! `SHMKIT_SWEEP_SEED=<seed> SHMKIT_SWEEP_CASES=1 cargo nextest run --test corruption_sweep`.
//! `SHMKIT_SWEEP_CASES` (default 1500) sets the number of cases.

mod common;

use common::exercise::{Expect, SWEEP_KEYS, build_sweep_store, exercise_store};
use common::{Exit, Pipe, Rng, TempDir, fork_child, watchdog};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::time::Duration;

const CASES_PER_CHILD: u64 = 100;
/// A batch's time limit: a guard against a hang, far above what a batch takes.
const BATCH_LIMIT: Duration = Duration::from_secs(120);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Bytes from each object's root offset that [`damage`] aims at a quarter of the time: a
/// vector's header (length, base, lock, counters) and first eight segment entries (where the
/// sweep store's vector has its five segments); a map's root and its first shard header.
const ROOT_SPAN: u64 = 128;

/// The root offsets of the objects of the store file `pristine` (opened from a copy).
fn object_roots(dir: &TempDir, pristine: &[u8]) -> Vec<u64> {
    let path = dir.store_path("roots");
    write_store_file(&path, pristine);
    let roots = {
        let store = shmkit::Store::open_with(&path, &shmkit::OpenOptions::default())
            .expect("open the pristine store");
        let objects = store.objects().expect("list the pristine store's objects");
        objects.iter().map(|o| o.root).collect()
    };
    shmkit::Store::remove(&path).expect("remove the copy");
    roots
}

/// One kind of damage, chosen and applied by a seeded generator.
fn damage(bytes: &mut Vec<u8>, used: usize, roots: &[u64], rng: &mut Rng) -> String {
    let len = bytes.len() as u64;
    // A quarter of the damage lands on objects' roots, three eighths in the first 16 KiB
    // (header, registry, directory), the rest anywhere in use.
    let offset = |rng: &mut Rng, align: u64| {
        let at = match rng.below(8) {
            0 | 1 if !roots.is_empty() => {
                roots[rng.below(roots.len() as u64) as usize] + rng.below(ROOT_SPAN)
            }
            0..=4 => rng.below((16 << 10).min(len) - 8),
            _ => rng.below((used as u64).min(len) - 8),
        };
        (at.min(len - 8) / align) * align
    };
    match rng.below(10) {
        0..=3 => {
            let flips = 1 + rng.below(4);
            for _ in 0..flips {
                let at = offset(rng, 1) as usize;
                bytes[at] ^= 1 << rng.below(8);
            }
            format!("{flips} bits flipped")
        }
        4 | 5 => {
            let at = offset(rng, 8);
            let value = match rng.below(8) {
                0 => 0,
                1 => u64::MAX,
                2 => 1 << 63,
                3 => len,
                4 => len - 8 + rng.below(3) * 8,
                5 => at,
                6 => rng.below(64),
                _ => rng.next(),
            };
            bytes[at as usize..at as usize + 8].copy_from_slice(&value.to_le_bytes());
            format!("u64 at {at} set to {value:#x}")
        }
        6 => {
            let at = offset(rng, 4) as usize;
            let value = match rng.below(3) {
                0 => u32::MAX,
                1 => rng.below(1 << 16) as u32,
                _ => rng.next() as u32,
            };
            bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
            format!("u32 at {at} set to {value:#x}")
        }
        7 => {
            let at = offset(rng, 1) as usize;
            let run = (1 + rng.below(256) as usize).min(bytes.len() - at);
            bytes[at..at + run].fill(0);
            format!("{run} bytes zeroed at {at}")
        }
        8 => {
            let keep = match rng.below(3) {
                0 => rng.below(4096),
                1 => rng.below(len),
                _ => (rng.below(len / 4096) * 4096).max(4096),
            };
            bytes.truncate(keep as usize);
            format!("cut to {keep} bytes")
        }
        _ => {
            let n = 3 + rng.below(8);
            for _ in 0..n {
                let at = offset(rng, 8) as usize;
                let value = rng.next();
                bytes[at..at + 8].copy_from_slice(&value.to_le_bytes());
            }
            format!("{n} random words")
        }
    }
}

/// Writes a damaged copy as a store file only its owner may use (the mode a store has).
fn write_store_file(path: &str, bytes: &[u8]) {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .expect("create the damaged copy");
    file.write_all(bytes).expect("write the damaged copy");
}

/// Runs cases `first..first + count` in a forked child; panics naming the case that crashed,
/// failed or hung.
fn run_batch(
    dir: &TempDir,
    pristine: &[u8],
    used: usize,
    roots: &[u64],
    base_seed: u64,
    first: u64,
    count: u64,
) {
    let mut progress = Pipe::new();
    let mut child = fork_child(|| {
        for case in first..first + count {
            progress.send(&case.to_le_bytes());
            let mut rng = Rng::new(base_seed.wrapping_add(case));
            let mut bytes = pristine.to_vec();
            let _what = damage(&mut bytes, used, roots, &mut rng);
            let path = dir.store_path(&format!("case-{case}"));
            write_store_file(&path, &bytes);
            exercise_store(&path, &Expect::Written { keys: SWEEP_KEYS });
            let _ = std::fs::remove_file(&path);
        }
        0
    });
    progress.close_write();
    let exit = child.wait_timeout(BATCH_LIMIT);
    if exit == Exit::Code(0) {
        return;
    }
    let announced = progress.read_all();
    let case = announced
        .chunks_exact(8)
        .last()
        .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
        .unwrap_or(first);
    let seed = base_seed.wrapping_add(case);
    let mut rng = Rng::new(seed);
    let mut bytes = pristine.to_vec();
    let what = damage(&mut bytes, used, roots, &mut rng);
    let _ = std::fs::remove_file(dir.store_path(&format!("case-{case}")));
    panic!(
        "case {case} ({what}) ended as {exit:?} (a panic exits 101; see the output above); \
         replay it with SHMKIT_SWEEP_SEED={seed} SHMKIT_SWEEP_CASES=1"
    );
}

#[test]
fn damaged_store_files_never_crash_hang_or_hand_out_wrong_entries() {
    let _watchdog = watchdog(1200);
    let dir = TempDir::new("corruption-sweep");
    let pristine = build_sweep_store(&dir.store_path("pristine"));
    // Damage concentrates where the store has content: up to its last non-zero byte.
    let used = pristine
        .iter()
        .rposition(|b| *b != 0)
        .map_or(pristine.len(), |p| (p + 64).min(pristine.len()));
    let roots = object_roots(&dir, &pristine);
    let base_seed = env_u64("SHMKIT_SWEEP_SEED").unwrap_or(0x5eed_0000);
    let cases = env_u64("SHMKIT_SWEEP_CASES").unwrap_or(1500);
    let mut first = 0;
    while first < cases {
        let count = CASES_PER_CHILD.min(cases - first);
        run_batch(&dir, &pristine, used, &roots, base_seed, first, count);
        first += count;
    }
}
