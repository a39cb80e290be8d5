//! Benchmark: shmkit `HashMap` against `std::collections::HashMap<Vec<u8>, Vec<u8>>`, measured
//! in the same run, then reads and mixed reads/writes from two processes at once.
//!
//! Run: `cargo run --release -p shmkit-bench --bin bench_hash_map` (until the benchmark crate
//! existed: `cargo run --release -p shmkit --example bench_hash_map`, same program).
//! `shmkit bench` is the shorter, multi-process run of the same comparison.
//! `... --bin bench_hash_map batch` runs only the batched-read comparison (`get_many_into`
//! of 200 and 1,000 random keys per call against a loop of `get_into` and std gets);
//! `... --bin bench_hash_map single` stops after the single-process rows;
//! `... --bin bench_hash_map handles` compares reads by key handle with reads by key (and
//! std gets) over the same random keys;
//! `... --bin bench_hash_map fixed` compares a fixed-size map (16-byte keys, 32-byte values)
//! with a map of any sizes holding the same entries: loading, overwriting, removing and
//! re-inserting, reading, and the store memory each takes per entry.
//!
//! 1M keys of 16 bytes, 32-byte values, store in `/dev/shm`. Every figure is the best of a
//! few repetitions (the machine may be shared); ratios compare numbers from this same run.
//! `std` reads copy the value into a reused buffer, which is what `get_into` does.

use shmkit::{FixedSize, HashMap, HashMapOptions, Store, StoreOptions};
use std::collections::HashMap as StdMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const N: u64 = 1_000_000;
const REPS: usize = 3;
/// Repetitions of each multi-process workload (the best is kept).
const PROC_REPS: usize = 5;
const READS_PER_PROC: u64 = 3_000_000;

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
    k[8..].copy_from_slice(&i.to_le_bytes());
    k
}

fn value(i: u64, round: u64) -> [u8; 32] {
    let mut v = [0u8; 32];
    v[..8].copy_from_slice(&i.to_le_bytes());
    v[8..16].copy_from_slice(&round.to_le_bytes());
    v
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

fn shuffled(n: u64, seed: u64) -> Vec<u64> {
    let mut v: Vec<u64> = (0..n).collect();
    let mut rng = Rng(seed);
    for i in (1..v.len()).rev() {
        let j = (rng.next() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
    v
}

fn ns_per_op(d: Duration, ops: u64) -> f64 {
    d.as_nanos() as f64 / ops as f64
}

/// One row: the best of `REPS` runs of each side. `setup` runs untimed before each run.
fn row<S, T>(
    name: &str,
    mut setup_std: impl FnMut() -> S,
    mut run_std: impl FnMut(&mut S) -> u64,
    mut setup_shm: impl FnMut() -> T,
    mut run_shm: impl FnMut(&mut T) -> u64,
) -> (f64, f64) {
    let (mut best_std, mut best_shm) = (f64::MAX, f64::MAX);
    for _ in 0..REPS {
        let mut s = setup_std();
        let t = Instant::now();
        let ops = run_std(&mut s);
        best_std = best_std.min(ns_per_op(t.elapsed(), ops));
        drop(s);
        let mut m = setup_shm();
        let t = Instant::now();
        let ops = run_shm(&mut m);
        best_shm = best_shm.min(ns_per_op(t.elapsed(), ops));
    }
    println!(
        "| {name:<18} | {best_std:>9.1} | {best_shm:>9.1} | {:>6.2}x |",
        best_shm / best_std
    );
    (best_std, best_shm)
}

fn fresh_map(store: &Store, round: &mut u64) -> HashMap {
    *round += 1;
    let name = format!("m{round}");
    store.hash_map(&name).expect("map")
}

fn filled_std() -> StdMap<Vec<u8>, Vec<u8>> {
    let mut m = StdMap::new();
    for i in 0..N {
        m.insert(key(i).to_vec(), value(i, 0).to_vec());
    }
    m
}

fn fill(map: &HashMap) {
    for i in 0..N {
        map.set(&key(i), &value(i, 0)).expect("set");
    }
}

fn fork(f: impl FnOnce()) -> libc::pid_t {
    // SAFETY: the child runs `f` and leaves with `_exit`, never returning into `main`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        // SAFETY: only sets this process's parent-death signal, so no child outlives a
        // benchmark that failed.
        unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
        f();
        // SAFETY: ending the child at once.
        unsafe { libc::_exit(0) };
    }
    pid
}

/// Words shared with the forked workers (the start gate and each worker's CPU time): an
/// anonymous shared mapping, inherited across `fork`, so the coordination stays out of the
/// store being measured.
struct SharedWords {
    base: *mut AtomicU64,
    len: usize,
}

impl SharedWords {
    fn new(len: usize) -> SharedWords {
        // SAFETY: a new anonymous mapping at an address of the kernel's choice; nothing else
        // is touched, and the result is checked below.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len * size_of::<AtomicU64>(),
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(base != libc::MAP_FAILED, "mmap of the gate words failed");
        SharedWords {
            base: base.cast(),
            len,
        }
    }

    fn word(&self, i: u64) -> &AtomicU64 {
        let i = usize::try_from(i).expect("word index");
        assert!(i < self.len, "word {i} of {}", self.len);
        // SAFETY: 1. `i` is within the mapping (checked above), which lives as long as
        // `self`; 2. the base is page aligned, so every word is 8-aligned; 3. the kernel
        // zero-fills the mapping, and zero is a valid `AtomicU64`.
        unsafe { &*self.base.add(i) }
    }
}

impl Drop for SharedWords {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`; no reference from `word`
        // outlives `self`.
        unsafe { libc::munmap(self.base.cast(), self.len * size_of::<AtomicU64>()) };
    }
}

fn wait(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: waiting for our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "child failed"
    );
}

/// CPU time this thread has used, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through a valid pointer.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// Throughput of a multi-process run.
#[derive(Clone, Copy, Debug, Default)]
struct Rate {
    /// Aggregate operations per wall-clock second.
    wall: f64,
    /// Operations per second of CPU time actually used (summed over processes): equal for
    /// 1 and 2 processes when they do not slow each other down, whatever cores the machine
    /// could spare.
    cpu: f64,
}

/// Runs `procs` processes, each calling `op(process, n)` for `n` in `0..ops`, all started
/// together.
fn concurrent(procs: u64, ops: u64, op: &dyn Fn(&mut Worker, u64)) -> Rate {
    let gate = SharedWords::new(2 + procs as usize);
    let word = |i: u64| gate.word(i);
    let children: Vec<_> = (0..procs)
        .map(|p| {
            fork(|| {
                let mut w = Worker {
                    rng: Rng(0x5EED + p * 7919),
                    buf: Vec::with_capacity(64),
                };
                word(0).fetch_add(1, Ordering::SeqCst);
                while word(1).load(Ordering::Acquire) == 0 {
                    std::hint::spin_loop();
                }
                let cpu = thread_cpu_ns();
                for n in 0..ops {
                    op(&mut w, n);
                }
                word(2 + p).store(thread_cpu_ns() - cpu, Ordering::SeqCst);
            })
        })
        .collect();
    while word(0).load(Ordering::SeqCst) < procs {
        std::thread::sleep(Duration::from_millis(1));
    }
    let t = Instant::now();
    word(1).store(1, Ordering::Release);
    for c in children {
        wait(c);
    }
    let secs = t.elapsed().as_secs_f64();
    let cpu_ns: u64 = (0..procs).map(|p| word(2 + p).load(Ordering::SeqCst)).sum();
    let total = (procs * ops) as f64;
    Rate {
        wall: total / secs,
        cpu: total / (cpu_ns as f64 / 1e9),
    }
}

/// Per-process state of a concurrent run.
struct Worker {
    rng: Rng,
    buf: Vec<u8>,
}

/// Random reads, and `write_pct` % overwrites, on the shared map.
fn map_op(map: &HashMap, write_pct: u64) -> impl Fn(&mut Worker, u64) + '_ {
    move |w, n| {
        let r = w.rng.next();
        let i = r % N;
        if (r >> 40) % 100 < write_pct {
            map.set(&key(i), &value(i, n)).expect("set");
        } else {
            assert!(map.get_into(&key(i), &mut w.buf).expect("get"));
        }
    }
}

/// Batched reads: per-key ns of `get_many_into` over `batch` random keys per call against
/// a loop of `get_into` over the same keys and std gets (every value checked).
fn batch_rows(store: &Store, round: &mut u64) {
    println!("batched reads, {N} keys, random keys per call; best of {REPS}, ns per key\n");
    println!("| keys per call | std get | shmkit get loop | get_many_into | loop / batch |");
    println!("|---------------|---------|-----------------|---------------|--------------|");
    let std_map = filled_std();
    let map = fresh_map(store, round);
    fill(&map);
    let order = shuffled(N, 7);
    let keys: Vec<[u8; 16]> = order.iter().map(|&i| key(i)).collect();
    for batch in [200usize, 1000] {
        let calls = keys.len() / batch;
        let (mut std_ns, mut loop_ns, mut many_ns) = (f64::MAX, f64::MAX, f64::MAX);
        let (mut out, mut spans) = (Vec::with_capacity(batch * 32), Vec::with_capacity(batch));
        let mut buf = Vec::with_capacity(64);
        for _ in 0..REPS {
            let t = Instant::now();
            for chunk in keys.chunks_exact(batch) {
                for k in chunk {
                    let v = std_map.get(&k[..]).expect("hit");
                    buf.clear();
                    buf.extend_from_slice(v);
                }
            }
            std_ns = std_ns.min(ns_per_op(t.elapsed(), (calls * batch) as u64));
            let t = Instant::now();
            for chunk in keys.chunks_exact(batch) {
                for k in chunk {
                    assert!(map.get_into(k, &mut buf).expect("get"));
                }
            }
            loop_ns = loop_ns.min(ns_per_op(t.elapsed(), (calls * batch) as u64));
            let t = Instant::now();
            for chunk in keys.chunks_exact(batch) {
                map.get_many_into(chunk, &mut out, &mut spans)
                    .expect("get_many");
                assert!(
                    spans
                        .iter()
                        .all(|s| s.as_ref().is_some_and(|r| r.len() == 32))
                );
            }
            many_ns = many_ns.min(ns_per_op(t.elapsed(), (calls * batch) as u64));
        }
        // Every value once more, outside the timing.
        map.get_many_into(&keys[..batch], &mut out, &mut spans)
            .expect("get_many");
        for (i, s) in order[..batch].iter().zip(&spans) {
            assert_eq!(&out[s.clone().expect("hit")], &value(*i, 0)[..]);
        }
        println!(
            "| {batch:>13} | {std_ns:>7.1} | {loop_ns:>15.1} | {many_ns:>13.1} | {:>11.2}x |",
            loop_ns / many_ns
        );
    }
}

/// Reads by key handle against reads by key and std gets: every key has a handle, the
/// same shuffled order for every side, every value checked after the timing.
fn handle_rows(store: &Store, round: &mut u64) {
    println!("reads by handle, {N} keys, random order; best of {REPS}, ns per read\n");
    let std_map = filled_std();
    let map = fresh_map(store, round);
    fill(&map);
    let order = shuffled(N, 11);
    let keys: Vec<[u8; 16]> = order.iter().map(|&i| key(i)).collect();
    let mut buf = Vec::with_capacity(64);
    // Reads by key before any key has a handle (no cell to follow).
    let mut plain_ns = f64::MAX;
    for _ in 0..REPS {
        let t = Instant::now();
        for k in &keys {
            assert!(map.get_into(k, &mut buf).expect("get"));
        }
        plain_ns = plain_ns.min(ns_per_op(t.elapsed(), N));
    }
    let handles: Vec<shmkit::KeyHandle> = keys
        .iter()
        .map(|k| map.handle(k).expect("handle").expect("present"))
        .collect();
    let (mut std_ns, mut key_ns, mut handle_ns) = (f64::MAX, f64::MAX, f64::MAX);
    for _ in 0..REPS {
        let t = Instant::now();
        for k in &keys {
            let v = std_map.get(&k[..]).expect("hit");
            buf.clear();
            buf.extend_from_slice(v);
        }
        std_ns = std_ns.min(ns_per_op(t.elapsed(), N));
        let t = Instant::now();
        for k in &keys {
            assert!(map.get_into(k, &mut buf).expect("get"));
        }
        key_ns = key_ns.min(ns_per_op(t.elapsed(), N));
        let t = Instant::now();
        for &h in &handles {
            assert!(map.get_by_handle_into(h, &mut buf).expect("get_by_handle"));
        }
        handle_ns = handle_ns.min(ns_per_op(t.elapsed(), N));
    }
    for (&i, &h) in order.iter().zip(&handles) {
        assert!(map.get_by_handle_into(h, &mut buf).expect("get_by_handle"));
        assert_eq!(buf, value(i, 0));
    }
    let stats = map.stats().expect("stats");
    println!(
        "| std get | get by key, no handles | get by key, every key has a handle | get by handle | by key (no handles) / by handle |"
    );
    println!(
        "|---------|------------------------|------------------------------------|---------------|---------------------------------|"
    );
    println!(
        "| {std_ns:>7.1} | {plain_ns:>22.1} | {key_ns:>34.1} | {handle_ns:>13.1} | {:>30.2}x |",
        plain_ns / handle_ns
    );
    println!(
        "\nhandle cells: {} keys, {} bytes ({:.1} bytes per handled key)",
        stats.handles,
        stats.handle_bytes,
        stats.handle_bytes as f64 / stats.handles.max(1) as f64
    );
}

/// What one kind of map measured in [`fixed_rows`]: ns per operation, and bytes.
#[derive(Default)]
struct ModeFigures {
    load: f64,
    overwrite: f64,
    churn: f64,
    get: f64,
    store_bytes_per_entry: f64,
    stats_bytes_per_entry: f64,
}

/// Runs the `fixed` comparison for one kind of map (`fixed_size` `None`: any sizes), each
/// repetition in a store of its own (so the memory figure is the map's alone).
fn mode_figures(fixed_size: Option<FixedSize>) -> ModeFigures {
    let order = shuffled(N, 7);
    // Overwrites in an order of their own: in the load's order, a map of any sizes would
    // walk its records (allocated in that order) as one sequential stream.
    let overwrite_order = shuffled(N, 8);
    let mut best = ModeFigures {
        load: f64::MAX,
        overwrite: f64::MAX,
        churn: f64::MAX,
        get: f64::MAX,
        ..ModeFigures::default()
    };
    for rep in 0..REPS as u64 {
        let name = format!("bench-hash-map-fixed-{}-{rep}", std::process::id());
        let store = Store::create(&name, &StoreOptions::default()).expect("create store");
        let options = HashMapOptions {
            fixed_size,
            ..HashMapOptions::default()
        };
        let map = store.hash_map_with("m", &options).expect("map");
        let empty = store.alloc_stats().expect("alloc stats").used_bytes;
        let t = Instant::now();
        for &i in &order {
            map.set(&key(i), &value(i, 0)).expect("set");
        }
        best.load = best.load.min(ns_per_op(t.elapsed(), N));
        let full = store.alloc_stats().expect("alloc stats").used_bytes;
        best.store_bytes_per_entry = (full - empty) as f64 / N as f64;
        best.stats_bytes_per_entry = map.stats().expect("stats").bytes_per_entry;
        let t = Instant::now();
        for &i in &overwrite_order {
            map.set(&key(i), &value(i, 1)).expect("overwrite");
        }
        best.overwrite = best.overwrite.min(ns_per_op(t.elapsed(), N));
        let mut rng = Rng(rep + 11);
        let t = Instant::now();
        for _ in 0..N / 2 {
            let i = rng.next() % N;
            map.delete(&key(i)).expect("delete");
            map.set(&key(i), &value(i, 2)).expect("set");
        }
        best.churn = best.churn.min(ns_per_op(t.elapsed(), N / 2));
        let mut buf = Vec::with_capacity(64);
        let t = Instant::now();
        for _ in 0..N {
            let i = rng.next() % N;
            assert!(map.get_into(&key(i), &mut buf).expect("get"));
        }
        best.get = best.get.min(ns_per_op(t.elapsed(), N));
        drop(map);
        drop(store);
        Store::remove(&name).expect("remove store");
    }
    best
}

fn fixed_rows() {
    println!("fixed-size HashMap (16-byte keys, 32-byte values) vs a map of any sizes");
    println!(
        "{N} keys, 64 shards, best of {REPS} runs, ns per operation (churn: per delete + set)
"
    );
    // std's overwrite, for scale.
    let mut std_map = filled_std();
    let order = shuffled(N, 8);
    let t = Instant::now();
    for &i in &order {
        std_map.insert(key(i).to_vec(), value(i, 1).to_vec());
    }
    let std_overwrite = ns_per_op(t.elapsed(), N);
    drop(std_map);
    let any = mode_figures(None);
    let fixed = mode_figures(Some(FixedSize {
        key_len: 16,
        value_len: 32,
    }));
    println!("| operation                 | any sizes | fixed size | fixed / any |");
    println!("|---------------------------|-----------|------------|-------------|");
    for (label, a, f) in [
        ("load (insert)", any.load, fixed.load),
        ("overwrite", any.overwrite, fixed.overwrite),
        ("churn (delete + set)", any.churn, fixed.churn),
        ("get", any.get, fixed.get),
        (
            "store bytes per entry",
            any.store_bytes_per_entry,
            fixed.store_bytes_per_entry,
        ),
        (
            "stats bytes_per_entry",
            any.stats_bytes_per_entry,
            fixed.stats_bytes_per_entry,
        ),
    ] {
        println!("| {label:<25} | {a:>9.1} | {f:>10.1} | {:>10.2}x |", f / a);
    }
    println!(
        "
std HashMap overwrite (insert of an existing key): {std_overwrite:.1} ns"
    );
}

fn main() {
    if std::env::args().nth(1).as_deref() == Some("fixed") {
        fixed_rows();
        return;
    }
    let name = format!("bench-hash-map-{}", std::process::id());
    let store = Store::create(&name, &StoreOptions::default()).expect("create store");
    if std::env::args().nth(1).as_deref() == Some("handles") {
        let mut round = 0;
        handle_rows(&store, &mut round);
        drop(store);
        Store::remove(&name).expect("remove store");
        return;
    }
    if std::env::args().nth(1).as_deref() == Some("batch") {
        let mut round = 0;
        batch_rows(&store, &mut round);
        drop(store);
        Store::remove(&name).expect("remove store");
        return;
    }
    println!("shmkit HashMap vs std::collections::HashMap<Vec<u8>, Vec<u8>>");
    println!(
        "{N} keys of 16 bytes, 32-byte values; store {}",
        store.path().display()
    );
    println!("best of {REPS} runs, ns per operation\n");
    println!("| operation          |   std ns  | shmkit ns |  ratio  |");
    println!("|--------------------|-----------|-----------|---------|");
    let order = shuffled(N, 42);
    let mut round = 0u64;

    row(
        "insert (new)",
        StdMap::new,
        |m| {
            for i in 0..N {
                m.insert(key(i).to_vec(), value(i, 0).to_vec());
            }
            N
        },
        || fresh_map(&store, &mut round),
        |m| {
            for i in 0..N {
                m.insert(&key(i), &value(i, 0)).expect("insert");
            }
            N
        },
    );
    let std_map = filled_std();
    let map = fresh_map(&store, &mut round);
    fill(&map);
    let mut buf = Vec::with_capacity(64);
    row(
        "get (hit)",
        || (),
        |_| {
            for &i in &order {
                let v = std_map.get(&key(i)[..]).expect("hit");
                buf.clear();
                buf.extend_from_slice(v);
            }
            N
        },
        || (),
        |_| {
            let mut b = Vec::with_capacity(64);
            for &i in &order {
                assert!(map.get_into(&key(i), &mut b).expect("get"));
            }
            N
        },
    );
    row(
        "get (miss)",
        || (),
        |_| {
            let mut found = 0;
            for &i in &order {
                found += u64::from(std_map.contains_key(&key(i + N)[..]));
            }
            assert_eq!(found, 0);
            N
        },
        || (),
        |_| {
            let mut b = Vec::new();
            for &i in &order {
                assert!(!map.get_into(&key(i + N), &mut b).expect("get"));
            }
            N
        },
    );
    drop(std_map);
    let overwrite_round = std::cell::Cell::new(0u64);
    let mut std_map = filled_std();
    row(
        "insert (overwrite)",
        || (),
        |_| {
            overwrite_round.set(overwrite_round.get() + 1);
            for &i in &order {
                std_map.insert(key(i).to_vec(), value(i, overwrite_round.get()).to_vec());
            }
            N
        },
        || (),
        |_| {
            overwrite_round.set(overwrite_round.get() + 1);
            for &i in &order {
                map.insert(&key(i), &value(i, overwrite_round.get()))
                    .expect("insert");
            }
            N
        },
    );
    drop(std_map);
    row(
        "remove",
        filled_std,
        |m| {
            for &i in &order {
                m.remove(&key(i)[..]).expect("present");
            }
            N
        },
        || {
            let m = fresh_map(&store, &mut round);
            fill(&m);
            m
        },
        |m| {
            for &i in &order {
                m.remove(&key(i)).expect("remove").expect("present");
            }
            N
        },
    );
    if std::env::args().nth(1).as_deref() == Some("single") {
        drop(map);
        drop(store);
        Store::remove(&name).expect("remove store");
        return;
    }

    println!(
        "\nProcesses on the map of {N} keys (aggregate operations per second, best of {PROC_REPS})\n"
    );
    println!(
        "(wall: aggregate ops per second; cpu: ops per second of CPU time the processes got.\n\
         std rows: each process reads its own std HashMap, showing how this machine scales)\n"
    );
    println!(
        "| workload                   | wall ops/s  | vs 1 proc.  | cpu ops/s    | vs 1 proc.  |"
    );
    println!(
        "|----------------------------|-------------|-------------|--------------|-------------|"
    );
    let best = |procs: u64, op: &dyn Fn(&mut Worker, u64)| {
        (0..PROC_REPS)
            .map(|_| concurrent(procs, READS_PER_PROC, op))
            .fold(Rate::default(), |a, b| Rate {
                wall: a.wall.max(b.wall),
                cpu: a.cpu.max(b.cpu),
            })
    };
    // The machine's own scaling, for reference: each process reads its copy-on-write
    // inherited std HashMap (nothing shared is written either).
    let std_map = filled_std();
    let std_read = |w: &mut Worker, _n: u64| {
        let i = w.rng.next() % N;
        let v = std_map.get(&key(i)[..]).expect("hit");
        w.buf.clear();
        w.buf.extend_from_slice(v);
    };
    let std_one = best(1, &std_read);
    let std_two = best(2, &std_read);
    drop(std_map);
    let one = best(1, &map_op(&map, 0));
    let line = |label: &str, r: Rate, base: Rate| {
        println!(
            "| {label:<26} | {:>11.0} | {:>10.2}x | {:>12.0} | {:>10.2}x |",
            r.wall,
            r.wall / base.wall,
            r.cpu,
            r.cpu / base.cpu
        );
    };
    line("1 process, reads", one, one);
    line("2 processes, reads", best(2, &map_op(&map, 0)), one);
    // Mixed workloads compare with one process running the same mix (a write costs more
    // than a read, so "vs 1 reader" would mix the two effects).
    for pct in [10, 50] {
        let single = best(1, &map_op(&map, pct));
        line(
            &format!("1 process, {}/{pct} r/w", 100 - pct),
            single,
            single,
        );
        line(
            &format!("2 processes, {}/{pct} r/w", 100 - pct),
            best(2, &map_op(&map, pct)),
            single,
        );
    }
    line("std HashMap, 1 process", std_one, std_one);
    line("std HashMap, 2 processes", std_two, std_one);
    let stats = map.stats().expect("stats");
    println!(
        "\nmap: {} entries, {} buckets, {} resizes",
        stats.entries, stats.buckets, stats.resizes
    );
    drop(map);
    Store::remove(&name).expect("remove store");
}
