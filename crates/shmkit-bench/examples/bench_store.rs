//! Store foundation figures: robust mutex (uncontended, contended between two processes,
//! recovery from a SIGKILLed owner) and allocator, each beside a std baseline measured in
//! the same run.
//!
//! ```text
//! cargo run --release -p shmkit-bench --example bench_store
//! ```
//!
//! An example rather than a program in `src/bin`: the mutex and the allocator are internals,
//! reached through the core's `internals` feature, which only this crate's dev-dependency
//! enables (until the public API was narrowed it was `--bin bench_store`, same program).

use shmkit::{Store, StoreOptions};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn ns_per_op(iters: u64, f: impl FnOnce()) -> f64 {
    let t = Instant::now();
    f();
    t.elapsed().as_nanos() as f64 / iters as f64
}

/// Best of `runs` measurements (the least disturbed by other work on the machine).
fn best(runs: usize, mut f: impl FnMut() -> f64) -> f64 {
    (0..runs).map(|_| f()).fold(f64::INFINITY, f64::min)
}

fn fork(f: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child runs `f` and leaves with `_exit`, never returning into `main`.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let code = f();
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    pid
}

fn wait(pid: libc::pid_t) {
    let mut status = 0;
    // SAFETY: reaping our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
}

fn main() {
    let name = format!("bench-store-{}", std::process::id());
    let store = Store::create(&name, &StoreOptions::default()).expect("create store");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&store)));
    drop(store);
    let _ = Store::remove(&name);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

fn run(store: &Store) {
    const N: u64 = 2_000_000;
    println!(
        "shmkit store foundation ({} CPUs)",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!();

    // --- uncontended lock + unlock --------------------------------------------------
    let lock = store.test_mutex().unwrap();
    let shm_lock = best(5, || {
        ns_per_op(N, || {
            for _ in 0..N {
                let g = lock.lock().unwrap();
                black_box(&g);
            }
        })
    });
    let std_mutex = std::sync::Mutex::new(0u64);
    let std_lock = best(5, || {
        ns_per_op(N, || {
            for _ in 0..N {
                let g = std_mutex.lock().unwrap();
                black_box(&g);
            }
        })
    });
    println!("lock+unlock, uncontended");
    println!("  shmkit RobustMutex   {shm_lock:8.1} ns");
    println!(
        "  std::sync::Mutex     {std_lock:8.1} ns   (ratio {:.2}x)",
        shm_lock / std_lock
    );
    println!();

    // --- contended: two processes increment one counter under the lock ---------------
    println!("lock+increment+unlock, 2 processes contending (fork)");
    for outside in [0u32, 20] {
        contended(store, outside);
    }
    println!();

    // --- allocator ----------------------------------------------------------------------
    const A: u64 = 1_000_000;
    println!("alloc+free (same size, steady state)");
    for size in [32u64, 4096] {
        let shm = best(5, || {
            ns_per_op(A, || {
                for _ in 0..A {
                    let off = store.alloc(black_box(size)).unwrap();
                    store.free(black_box(off)).unwrap();
                }
            })
        });
        let boxed = best(5, || {
            ns_per_op(A, || {
                for _ in 0..A {
                    black_box(vec![0u8; black_box(size as usize)]);
                }
            })
        });
        println!(
            "  {size:5} B  shmkit {shm:7.1} ns   Vec<u8> (zeroed, malloc) {boxed:6.1} ns   (ratio {:.2}x)",
            shm / boxed
        );
    }
    // Working set: allocate many, then free them all (free lists in use, not one block).
    const W: u64 = 100_000;
    let mut offs = Vec::with_capacity(W as usize);
    let shm_ws = best(5, || {
        ns_per_op(W, || {
            for _ in 0..W {
                offs.push(store.alloc(32).unwrap());
            }
            for off in offs.drain(..) {
                store.free(off).unwrap();
            }
        })
    });
    let mut boxes: Vec<Box<[u8; 32]>> = Vec::with_capacity(W as usize);
    let box_ws = best(5, || {
        ns_per_op(W, || {
            for _ in 0..W {
                boxes.push(Box::new([0u8; 32]));
            }
            boxes.clear();
        })
    });
    println!(
        "  32 B x {W} live, then freed: shmkit {shm_ws:.1} ns  Box {box_ws:.1} ns per alloc+free  (ratio {:.2}x)",
        shm_ws / box_ws
    );
    println!();

    // --- recovery from a SIGKILLed owner --------------------------------------------------
    const TRIALS: usize = 20;
    let flag_off = store.alloc(8).unwrap();
    let flag: &AtomicU64 = store.get(flag_off).unwrap();
    let mut times = Vec::with_capacity(TRIALS);
    for _ in 0..TRIALS {
        flag.store(0, Ordering::SeqCst);
        let s = store.clone();
        let child = fork(move || {
            let lock = s.test_mutex().unwrap();
            let _g = lock.lock().unwrap();
            s.get::<AtomicU64>(flag_off)
                .unwrap()
                .store(1, Ordering::SeqCst);
            loop {
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        while flag.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        let t = Instant::now();
        // SAFETY: killing our own child.
        unsafe { libc::kill(child, libc::SIGKILL) };
        let mut g = lock
            .lock_timeout(Duration::from_secs(10))
            .expect("recovered");
        let took = t.elapsed();
        assert!(g.recovered());
        g.mark_consistent();
        drop(g);
        wait(child);
        times.push(took);
    }
    let mean = times.iter().sum::<Duration>() / TRIALS as u32;
    let max = times.iter().max().unwrap();
    let min = times.iter().min().unwrap();
    println!("lock recovery after SIGKILL of the owner ({TRIALS} trials, from kill() to guard)");
    println!(
        "  mean {:.2} ms   min {:.2} ms   max {:.2} ms",
        ms(mean),
        ms(*min),
        ms(*max)
    );
    store.sweep_dead_processes();
}

fn contended(store: &Store, outside: u32) {
    let per_process: u64 = if outside == 0 { 2_000_000 } else { 200_000 };
    let counter_off = store.alloc(32).unwrap();
    let counter: &AtomicU64 = store.get(counter_off).unwrap();
    let gate: &AtomicU64 = store.get(counter_off + 8).unwrap();
    counter.store(0, Ordering::SeqCst);
    gate.store(0, Ordering::SeqCst);
    let work = move |s: &Store| {
        let lock = s.test_mutex().unwrap();
        let c: &AtomicU64 = s.get(counter_off).unwrap();
        let gate: &AtomicU64 = s.get(counter_off + 8).unwrap();
        let _ = s.owner_id(); // register before the start
        gate.fetch_add(1, Ordering::SeqCst);
        while gate.load(Ordering::SeqCst) < 3 {
            std::hint::spin_loop();
        }
        let last: &AtomicU64 = s.get(counter_off + 16).unwrap();
        let handoffs: &AtomicU64 = s.get(counter_off + 24).unwrap();
        let me = s.owner_id() as u64;
        for _ in 0..per_process {
            let _g = lock.lock().unwrap();
            c.store(c.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            if last.load(Ordering::Relaxed) != me {
                last.store(me, Ordering::Relaxed);
                handoffs.store(handoffs.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
            }
            drop(_g);
            for _ in 0..outside {
                std::hint::spin_loop(); // work outside the lock
            }
        }
    };
    let s1 = store.clone();
    let s2 = store.clone();
    let a = fork(move || {
        work(&s1);
        0
    });
    let b = fork(move || {
        work(&s2);
        0
    });
    while gate.load(Ordering::SeqCst) < 2 {
        std::thread::yield_now();
    }
    let start = Instant::now();
    gate.store(3, Ordering::SeqCst); // both children start together
    wait(a);
    wait(b);
    let elapsed = start.elapsed();
    let total = counter.load(Ordering::SeqCst);
    assert_eq!(total, 2 * per_process, "lost increments");
    let handoffs: &AtomicU64 = store.get(counter_off + 24).unwrap();
    println!(
        "  {outside:3} spins outside the lock: {:6.2} M ops/s  ({total} ops in {:.3} s, counter exact; the lock changed process {} times)",
        total as f64 / elapsed.as_secs_f64() / 1e6,
        elapsed.as_secs_f64(),
        handoffs.load(Ordering::SeqCst)
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
