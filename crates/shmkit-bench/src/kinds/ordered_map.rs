//! The ordered map's section: a shmkit `OrderedMap` of `--keys` keys (1M by default) of 16
//! random bytes with `--value-size`-byte values (32), next to a
//! `std::collections::BTreeMap<Vec<u8>, Vec<u8>>` running the very same loops in one thread
//! of the coordinator.
//!
//! Phases, each run on the baseline and then in one worker process right after it (so each
//! ratio compares two figures measured seconds apart on this shared machine):
//! - `insert`: every key into an empty map, in index order (random key order); each must be
//!   new (`insert` returns no old value).
//! - `get`: random keys (`get_into` a reused buffer; the baseline copies the value into a
//!   reused buffer too), timed; then the same in 2, 4, … processes reading the one map at
//!   once (fresh worker processes for every count, 1 included).
//! - `scan`: full scans in key order, repeated for the timed duration (at least one);
//!   shmkit's `range` returns owned keys and values, the baseline copies each key and value
//!   into reused buffers. Rate: entries per second.
//! - `range`: scans of [`RANGE_LEN`] entries starting at random keys (`range(start..)`,
//!   taking `RANGE_LEN`), timed. Rate: entries per second.
//! - `remove`: every key, in index order; `remove` must return the key's value.
//!
//! Checks: every value read, scanned or removed is compared with the exact value of its key
//! ([`data::fill_value`](crate::data::fill_value)); the `n`-th entry of a scan must be the
//! `n`-th key in sorted order (the section sorts the keys' 8-byte prefixes, which are unique
//! and decide the order), so every scan returns exactly the expected entries; the entry
//! count after `insert` (`len`, and the map's own `count` of the whole range) must be the
//! number of keys, and 0 after `remove`.
//!
//! ```text
//! $ shmkit bench --kind ordered_map --keys 1000000 --duration 2
//! ```

use super::Kind;
use crate::BenchError;
use crate::data::{Rng, fill_value};
use crate::harness::{CHECK_EVERY, Ctx, Outcome, Progress};
use crate::report::{Row, Section};
use crate::worker::{PhaseCommand, PhaseRunner, WorkerArgs};
use shmkit::{OrderedMap, Store};
use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::{Duration, Instant};

/// The phases, in order.
const PHASES: &[&str] = &["insert", "get", "scan", "range", "remove"];
/// Entries per range scan.
pub const RANGE_LEN: u64 = 1000;
/// Mixed into the index before it becomes a key's first 8 bytes.
const SALT: u64 = 0x6a09_e667_f3bc_c908;
/// Mixed into the index before it becomes a key's last 8 bytes.
const SALT2: u64 = 0xbb67_ae85_84ca_a73b;

/// The ordered map's section (`ordered_map`).
pub struct OrderedMapKind;

/// The multiplicative inverse of odd `a` modulo 2^64 (Newton's iteration).
const fn inverse(a: u64) -> u64 {
    let mut x = a;
    let mut i = 0;
    while i < 6 {
        x = x.wrapping_mul(2u64.wrapping_sub(a.wrapping_mul(x)));
        i += 1;
    }
    x
}

const M1: u64 = 0xbf58_476d_1ce4_e5b9;
const M2: u64 = 0x94d0_49bb_1331_11eb;
const M1_INV: u64 = inverse(M1);
const M2_INV: u64 = inverse(M2);

/// splitmix64's finalizer: a bijection of u64 that looks random.
fn mix(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(M1);
    x = (x ^ (x >> 27)).wrapping_mul(M2);
    x ^ (x >> 31)
}

/// The inverse of [`mix`].
fn unmix(mut x: u64) -> u64 {
    x ^= (x >> 31) ^ (x >> 62);
    x = x.wrapping_mul(M2_INV);
    x ^= (x >> 27) ^ (x >> 54);
    x = x.wrapping_mul(M1_INV);
    x ^ (x >> 30) ^ (x >> 60)
}

/// The first 8 bytes of key `i` (big-endian): unique per index, so they decide the order.
pub fn prefix_of(i: u64) -> u64 {
    mix(i ^ SALT)
}

/// The index whose key starts with `prefix`.
pub fn index_of(prefix: u64) -> u64 {
    unmix(prefix) ^ SALT
}

/// Key `i`: 16 random-looking bytes.
pub fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&prefix_of(i).to_be_bytes());
    k[8..].copy_from_slice(&mix(i ^ SALT2).to_be_bytes());
    k
}

/// The prefixes of keys `0..n` in ascending order: the `r`-th is the `r`-th key's.
pub fn sorted_prefixes(n: u64) -> Vec<u64> {
    let mut p: Vec<u64> = (0..n).map(prefix_of).collect();
    p.sort_unstable();
    p
}

/// A map the section's loops run on.
trait Target {
    /// Inserts `key`; true if it was absent.
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<bool, String>;
    /// Copies the value of `key` into `buf`; false if absent.
    fn get_into(&mut self, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, String>;
    /// Removes `key`, returning its value.
    fn remove(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, String>;
    /// Visits up to `limit` entries in key order from `start` (`None`: the first), each
    /// key and value copied out of the map, until `visit` returns false.
    fn scan(
        &mut self,
        start: Option<&[u8]>,
        limit: usize,
        visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), String>;
    /// Number of entries.
    fn len(&self) -> Result<u64, String>;
}

/// The baseline: a process-private `BTreeMap` of owned keys and values, with the reused
/// buffers its scans copy into.
#[derive(Default)]
struct StdMap {
    map: BTreeMap<Vec<u8>, Vec<u8>>,
    key_buf: Vec<u8>,
    value_buf: Vec<u8>,
}

impl Target for StdMap {
    #[inline]
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<bool, String> {
        Ok(self.map.insert(key.to_vec(), value.to_vec()).is_none())
    }
    #[inline]
    fn get_into(&mut self, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, String> {
        buf.clear();
        match self.map.get(key) {
            Some(v) => {
                buf.extend_from_slice(v);
                Ok(true)
            }
            None => Ok(false),
        }
    }
    #[inline]
    fn remove(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        Ok(self.map.remove(key))
    }
    fn scan(
        &mut self,
        start: Option<&[u8]>,
        limit: usize,
        mut visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), String> {
        let lo = start.map_or(Bound::Unbounded, Bound::Included);
        let (kb, vb) = (&mut self.key_buf, &mut self.value_buf);
        for (k, v) in self
            .map
            .range::<[u8], _>((lo, Bound::Unbounded))
            .take(limit)
        {
            kb.clear();
            kb.extend_from_slice(k);
            vb.clear();
            vb.extend_from_slice(v);
            if !visit(kb, vb) {
                break;
            }
        }
        Ok(())
    }
    fn len(&self) -> Result<u64, String> {
        Ok(self.map.len() as u64)
    }
}

impl Target for OrderedMap {
    #[inline]
    fn insert(&mut self, key: &[u8], value: &[u8]) -> Result<bool, String> {
        OrderedMap::insert(self, key, value)
            .map(|old| old.is_none())
            .map_err(|e| e.to_string())
    }
    #[inline]
    fn get_into(&mut self, key: &[u8], buf: &mut Vec<u8>) -> Result<bool, String> {
        OrderedMap::get_into(self, key, buf).map_err(|e| e.to_string())
    }
    #[inline]
    fn remove(&mut self, key: &[u8]) -> Result<Option<Vec<u8>>, String> {
        OrderedMap::remove(self, key).map_err(|e| e.to_string())
    }
    fn scan(
        &mut self,
        start: Option<&[u8]>,
        limit: usize,
        mut visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), String> {
        // The allocation-free scan (entries copied into one reused buffer), as the
        // baseline copies into reused buffers.
        let lo = start.map_or(Bound::Unbounded, Bound::Included);
        let mut left = limit;
        if left == 0 {
            return Ok(());
        }
        OrderedMap::scan(self, lo, Bound::Unbounded, false, |k, v| {
            left -= 1;
            visit(k, v) && left > 0
        })
        .map(drop)
        .map_err(|e| e.to_string())
    }
    fn len(&self) -> Result<u64, String> {
        let count = self
            .count(Bound::Unbounded, Bound::Unbounded)
            .map_err(|e| e.to_string())?
            .count;
        let len = OrderedMap::len(self);
        if count != len {
            return Err(format!("len() says {len} entries, count() {count}"));
        }
        Ok(len)
    }
}

/// The checks of scanned entries: the `rank`-th entry must be the `rank`-th key in sorted
/// order with its value.
struct EntryCheck<'a> {
    sorted: &'a [u64],
    size: usize,
    expected: Vec<u8>,
}

impl EntryCheck<'_> {
    /// Whether (`k`, `v`) is the entry of rank `rank`; describes the first mismatch in `out`.
    #[inline]
    fn check(&mut self, out: &mut Outcome, rank: u64, k: &[u8], v: &[u8]) {
        let Some(&prefix) = self.sorted.get(rank as usize) else {
            out.error(|| format!("entry {rank}: more entries than keys"));
            return;
        };
        let i = index_of(prefix);
        if k != key(i) {
            out.error(|| format!("entry {rank}: key {k:02x?}, expected key {i}"));
            return;
        }
        fill_value(&mut self.expected, i, 0, self.size);
        if v != self.expected {
            out.error(|| format!("entry {rank} (key {i}): wrong value"));
        }
    }
}

/// Inserts keys `0..keys` (index order), each must be new.
fn insert(
    t: &mut impl Target,
    keys: u64,
    size: usize,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut value = Vec::with_capacity(size);
    for i in 0..keys {
        fill_value(&mut value, i, 0, size);
        if !t.insert(&key(i), &value)? {
            out.error(|| format!("key {i}: present before its insert"));
        }
        out.ops += 1;
        if out.ops % CHECK_EVERY == 0 && !progress(out.ops) {
            break;
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    Ok(out)
}

/// Reads random keys of `0..keys` for `duration`, checking each value.
fn get(
    t: &mut impl Target,
    keys: u64,
    size: usize,
    duration: Duration,
    seed: u64,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut rng = Rng::new(seed);
    let (mut buf, mut expected) = (Vec::new(), Vec::new());
    loop {
        let i = rng.below(keys);
        let found = t.get_into(&key(i), &mut buf)?;
        fill_value(&mut expected, i, 0, size);
        if !found || buf != expected {
            out.error(|| format!("key {i}: {}", if found { "wrong value" } else { "missing" }));
        }
        out.ops += 1;
        if out.ops % CHECK_EVERY == 0 && (start.elapsed() >= duration || !progress(out.ops)) {
            break;
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    Ok(out)
}

/// Full scans in key order, repeated until `duration` is over (at least one); every entry
/// checked, and each scan must return every key. `ops`: entries.
fn scan(
    t: &mut impl Target,
    sorted: &[u64],
    size: usize,
    duration: Duration,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut check = EntryCheck {
        sorted,
        size,
        expected: Vec::new(),
    };
    let keys = sorted.len() as u64;
    loop {
        let mut rank = 0u64;
        let mut stopped = false;
        t.scan(None, usize::MAX, |k, v| {
            check.check(&mut out, rank, k, v);
            rank += 1;
            out.ops += 1;
            if out.ops % CHECK_EVERY == 0 && !progress(out.ops) {
                stopped = true;
            }
            !stopped
        })?;
        if stopped {
            break;
        }
        if rank != keys {
            out.error(|| format!("a full scan returned {rank} entries of {keys}"));
        }
        if start.elapsed() >= duration {
            break;
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    Ok(out)
}

/// Scans of [`RANGE_LEN`] entries from random keys for `duration`: each must return the
/// entries of the next ranks in order (fewer only at the end of the map). `ops`: entries.
fn range(
    t: &mut impl Target,
    sorted: &[u64],
    size: usize,
    duration: Duration,
    seed: u64,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut rng = Rng::new(seed);
    let mut check = EntryCheck {
        sorted,
        size,
        expected: Vec::new(),
    };
    let keys = sorted.len() as u64;
    loop {
        let first = rng.below(keys);
        let from = key(index_of(sorted[first as usize]));
        let expected = RANGE_LEN.min(keys - first);
        let mut rank = first;
        t.scan(Some(&from), RANGE_LEN as usize, |k, v| {
            check.check(&mut out, rank, k, v);
            rank += 1;
            true
        })?;
        let got = rank - first;
        out.ops += got;
        if got != expected {
            out.error(|| {
                format!(
                    "a range scan from rank {first} returned {got} entries, expected {expected}"
                )
            });
        }
        if start.elapsed() >= duration || !progress(out.ops) {
            break;
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    Ok(out)
}

/// Removes keys `0..keys` (index order); each must return its value.
fn remove(
    t: &mut impl Target,
    keys: u64,
    size: usize,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut expected = Vec::with_capacity(size);
    for i in 0..keys {
        let old = t.remove(&key(i))?;
        fill_value(&mut expected, i, 0, size);
        if old.as_deref() != Some(&expected[..]) {
            out.error(|| {
                format!(
                    "key {i}: {} at remove",
                    if old.is_some() {
                        "wrong value"
                    } else {
                        "missing"
                    }
                )
            });
        }
        out.ops += 1;
        if out.ops % CHECK_EVERY == 0 && !progress(out.ops) {
            break;
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    Ok(out)
}

/// Runs `phase` on `t` (the baseline's and a worker's dispatch).
#[allow(clippy::too_many_arguments)]
fn run_phase(
    t: &mut impl Target,
    phase: &str,
    keys: u64,
    size: usize,
    sorted: &mut Option<Vec<u64>>,
    duration: Duration,
    seed: u64,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    match phase {
        "insert" => insert(t, keys, size, progress),
        "get" => get(t, keys, size, duration, seed, progress),
        "scan" => scan(
            t,
            sorted.get_or_insert_with(|| sorted_prefixes(keys)),
            size,
            duration,
            progress,
        ),
        "range" => range(
            t,
            sorted.get_or_insert_with(|| sorted_prefixes(keys)),
            size,
            duration,
            seed,
            progress,
        ),
        "remove" => remove(t, keys, size, progress),
        other => Err(format!("no phase {other:?} for ordered maps")),
    }
}

/// Gets per second of the CPU time the readers of a row got (`written`: CPU nanoseconds),
/// if every reader reported it.
fn cpu_rate(outcomes: &[Outcome]) -> Option<f64> {
    let cpu: u64 = outcomes.iter().map(|o| o.written).sum();
    (outcomes.iter().all(|o| o.written > 0) && !outcomes.is_empty())
        .then(|| outcomes.iter().map(|o| o.ops).sum::<u64>() as f64 / (cpu as f64 / 1e9))
}

/// Values a phase's outcome checked: every operation's (a scan's: every entry's).
fn record(section: &mut Section, phase: &'static str, p: Option<usize>, outcomes: &[Outcome]) {
    let who = p.map_or_else(|| "std baseline".to_string(), |p| format!("{p} processes"));
    for o in outcomes {
        let first = o
            .first_error
            .as_ref()
            .map(|e| format!("{who} {phase}: {e}"));
        section.tally(o.ops, o.errors, first);
    }
    section.rows.push(Row {
        phase,
        processes: p,
        ops: outcomes.iter().map(|o| o.ops).sum(),
        seconds: outcomes.iter().map(|o| o.nanos).max().unwrap_or(0) as f64 / 1e9,
    });
}

/// Checks that `t` holds `expected` entries.
fn check_len(section: &mut Section, t: &impl Target, expected: u64, what: &str) {
    let (wrong, first) = match t.len() {
        Ok(len) if len == expected => (0, None),
        Ok(len) => (
            1,
            Some(format!("{what}: {len} entries, expected {expected}")),
        ),
        Err(e) => (1, Some(format!("{what}: {e}"))),
    };
    section.tally(1, wrong, first);
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "missed" }
}

/// The notes under the table: each target's figure. `cpu`: gets per CPU-second of each
/// reader count.
fn notes(section: &Section, process_counts: &[usize], cpu: &[(usize, f64)]) -> Vec<String> {
    let mut notes = Vec::new();
    let pair = |phase| {
        Some((
            section.rate_of(phase, None)?,
            section.rate_of(phase, Some(1))?,
        ))
    };
    if let Some((std, shm)) = pair("insert") {
        notes.push(format!(
            "insert: 1 process {:.2}M inserts/s into an empty map (target: at least 1M/s: {}), \
             std BTreeMap {:.2}M/s: {:.2}x",
            shm / 1e6,
            met(shm >= 1e6),
            std / 1e6,
            shm / std
        ));
    }
    for (phase, unit, target) in [
        ("get", "op", Some(2.0)),
        ("scan", "entry", Some(2.0)),
        ("range", "entry", Some(2.0)),
        ("remove", "op", None),
    ] {
        if let Some((std, shm)) = pair(phase) {
            let times = std / shm;
            let target = target.map_or_else(String::new, |t: f64| {
                format!(" (target: within {t}x: {})", met(times <= t))
            });
            notes.push(format!(
                "{phase}: 1 process {:.1} ns per {unit}, std BTreeMap {:.1} ns: {times:.2}x \
                 BTreeMap's time{target}",
                1e9 / shm,
                1e9 / std,
            ));
        }
    }
    if let Some(one) = section.rate_of("get", Some(1)) {
        for &p in process_counts.iter().filter(|&&p| p > 1) {
            if let Some(many) = section.rate_of("get", Some(p)) {
                let target = if p == 2 {
                    format!(" (target: at least 1.8x: {})", met(many / one >= 1.8))
                } else {
                    String::new()
                };
                let per_cpu = match (cpu.iter().find(|c| c.0 == 1), cpu.iter().find(|c| c.0 == p)) {
                    (Some(&(_, one)), Some(&(_, many))) => format!(
                        "; per CPU-second the readers got: {:.2}x (a figure near 1x means they \
                         did not slow each other down)",
                        many / one
                    ),
                    _ => String::new(),
                };
                notes.push(format!(
                    "get: {p} readers / one reader {:.2}x ({:.2}M vs {:.2}M gets/s){target}\
                     {per_cpu}",
                    many / one,
                    many / 1e6,
                    one / 1e6
                ));
            }
        }
    }
    notes
}

impl Kind for OrderedMapKind {
    fn name(&self) -> &'static str {
        "ordered_map"
    }

    /// About 20 s with the defaults, which would take the run of every kind from about 60 s
    /// to about 80 s: only with `--kind ordered_map`.
    fn in_default_run(&self) -> bool {
        false
    }

    fn run(&self, ctx: &Ctx<'_>) -> Result<Section, BenchError> {
        let (keys, size, duration) = (ctx.params.keys, ctx.params.value_size, ctx.params.duration);
        let mut section = Section::new(
            self.name(),
            format!(
                "shmkit OrderedMap of {keys} 16-byte random keys, {size}-byte values: insert, \
                 get (1, 2, ... processes), full scans, {RANGE_LEN}-key range scans, remove vs \
                 std BTreeMap in 1 thread"
            ),
            "std BTreeMap",
            PHASES,
            "every value read, scanned and removed, every scan's entries in order, the entry \
             count after insert and remove",
        );
        section
            .info
            .push(("key_size", serde_json::Value::from(16u64)));
        section
            .info
            .push(("range_len", serde_json::Value::from(RANGE_LEN)));
        let name = self.name().to_string();
        let failed = |e: String| BenchError::failed(format!("{name}: {e}"));
        let map = ctx
            .store
            .ordered_map(&name)
            .map_err(|e| failed(e.to_string()))?;
        let mut std_map = StdMap::default();
        let mut std_sorted = None;
        let mut one = ctx.spawn_workers(self, &name, 1)?;
        let mut cpu = Vec::new();
        for (n, &phase) in PHASES.iter().enumerate() {
            ctx.check_interrupted()?;
            let timed = matches!(phase, "get" | "scan" | "range");
            let seed = 100 + n as u64;
            let o = ctx.local_phase(&format!("std BTreeMap {phase}"), timed, |progress| {
                run_phase(
                    &mut std_map,
                    phase,
                    keys,
                    size,
                    &mut std_sorted,
                    duration,
                    seed,
                    progress,
                )
            })?;
            record(&mut section, phase, None, &[o]);
            if phase == "get" {
                // Fresh processes for every count, the one reader included, all reading the
                // map the first worker filled.
                for &p in &ctx.params.process_counts {
                    ctx.check_interrupted()?;
                    let mut readers = ctx.spawn_workers(self, &name, p)?;
                    let label = format!("shmkit {p} proc{} get", if p == 1 { "" } else { "s" });
                    let o = ctx.remote_phase(&mut readers, &label, phase, timed, seed)?;
                    readers.finish();
                    if let Some(r) = cpu_rate(&o) {
                        cpu.push((p, r));
                    }
                    record(&mut section, phase, Some(p), &o);
                }
                continue;
            }
            let label = format!("shmkit 1 proc {phase}");
            let outcomes = ctx.remote_phase(&mut one, &label, phase, timed, seed)?;
            record(&mut section, phase, Some(1), &outcomes);
            match phase {
                "insert" => {
                    check_len(&mut section, &std_map, keys, "std baseline after insert");
                    check_len(&mut section, &map, keys, "shmkit after insert");
                }
                "remove" => {
                    check_len(&mut section, &std_map, 0, "std baseline after remove");
                    check_len(&mut section, &map, 0, "shmkit after remove");
                }
                _ => {}
            }
        }
        one.finish();
        section.notes = notes(&section, &ctx.params.process_counts, &cpu);
        Ok(section)
    }

    fn worker(&self, store: &Store, args: &WorkerArgs) -> Result<Box<dyn PhaseRunner>, BenchError> {
        let map = store
            .open_ordered_map(&args.object)
            .map_err(|e| BenchError::failed(format!("{}: {e}", args.object)))?;
        Ok(Box::new(Worker {
            map,
            keys: args.keys,
            size: args.value_size,
            sorted: None,
        }))
    }
}

/// A worker's map (and, once a scan phase needed them, the sorted key prefixes).
struct Worker {
    map: OrderedMap,
    keys: u64,
    size: usize,
    sorted: Option<Vec<u64>>,
}

/// The CPU time this thread has run, in nanoseconds (`/proc/thread-self/schedstat`), if the
/// kernel tells.
fn cpu_nanos() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl PhaseRunner for Worker {
    fn run(&mut self, c: &PhaseCommand, progress: Progress<'_>) -> Result<Outcome, String> {
        if matches!(c.phase.as_str(), "scan" | "range") && self.sorted.is_none() {
            // Outside the timed loop.
            self.sorted = Some(sorted_prefixes(self.keys));
        }
        let cpu = cpu_nanos();
        let mut o = run_phase(
            &mut self.map,
            &c.phase,
            self.keys,
            self.size,
            &mut self.sorted,
            c.duration,
            c.seed,
            progress,
        )?;
        if c.phase == "get" {
            // The CPU time the reader got: tells a reader slowed by the other readers from
            // one that waited for a core the machine gave to other work.
            o.written = cpu.zip(cpu_nanos()).map_or(0, |(a, b)| b.saturating_sub(a));
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_as_the_cli_names_the_kind() {
        assert_eq!(OrderedMapKind.name(), shmkit::ObjectKind::OrderedMap.name());
    }

    #[test]
    fn keys_are_unique_and_name_their_index() {
        for i in [0, 1, 2, 999_999, u64::MAX] {
            assert_eq!(unmix(mix(i)), i);
            assert_eq!(index_of(prefix_of(i)), i);
            assert_eq!(
                u64::from_be_bytes(key(i)[..8].try_into().unwrap()),
                prefix_of(i)
            );
        }
        let sorted = sorted_prefixes(10_000);
        assert!(sorted.windows(2).all(|w| w[0] < w[1]), "prefixes collide");
    }

    #[test]
    fn the_baseline_checks_every_value_and_every_scan() {
        let (keys, size) = (3000, 24);
        let mut m = StdMap::default();
        let mut sorted = None;
        let mut go = |_| true;
        let d = Duration::from_millis(10);
        let mut phase = |m: &mut StdMap, name| {
            run_phase(m, name, keys, size, &mut sorted, d, 1, &mut go).unwrap()
        };
        let o = phase(&mut m, "insert");
        assert_eq!((o.ops, o.errors), (keys, 0));
        assert_eq!(m.len().unwrap(), keys);
        let o = phase(&mut m, "get");
        assert!(o.ops >= CHECK_EVERY && o.errors == 0, "{o:?}");
        let o = phase(&mut m, "scan");
        assert!(o.ops >= keys && o.ops % keys == 0 && o.errors == 0, "{o:?}");
        let o = phase(&mut m, "range");
        assert!(o.ops > 0 && o.errors == 0, "{o:?}");
        // A wrong value, a missing key and an extra key are each noticed by the scans.
        m.map.insert(key(7).to_vec(), vec![0; size]);
        assert!(phase(&mut m, "scan").errors >= 1);
        m.map.insert(key(7).to_vec(), {
            let mut v = Vec::new();
            fill_value(&mut v, 7, 0, size);
            v
        });
        m.map.remove(&key(8)[..]);
        let o = phase(&mut m, "scan");
        assert!(o.errors >= 1, "{o:?}");
        m.map.insert(vec![0xff; 16], vec![0; size]);
        let o = phase(&mut m, "remove");
        assert_eq!(o.errors, 1, "{o:?}"); // key 8 was missing
        assert_eq!(m.len().unwrap(), 1);
    }

    #[test]
    fn range_scans_near_the_end_expect_fewer_entries() {
        let (keys, size) = (1500, 8);
        let mut m = StdMap::default();
        let mut go = |_| true;
        insert(&mut m, keys, size, &mut go).unwrap();
        let sorted = sorted_prefixes(keys);
        // With 1500 keys, about a third of the starts are within 1000 of the end.
        let o = range(&mut m, &sorted, size, Duration::from_millis(20), 5, &mut go).unwrap();
        assert_eq!(o.errors, 0, "{o:?}");
        m.map.pop_last();
        let o = range(&mut m, &sorted, size, Duration::from_millis(20), 5, &mut go).unwrap();
        assert!(o.errors >= 1, "{o:?}");
    }
}
