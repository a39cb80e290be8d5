//! loom model check of the seqlock protocol: a reader that validates never sees a torn
//! pair of values, and a reader retrying after a failed validation eventually succeeds.
//!
//! The seqlock's counter is a facade atomic, so the models run through
//! `shmkit::sync::model::check` (which routes it to loom); each model touches the counter on
//! its main thread before spawning, so its loom shadow exists before any thread uses it.
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p shmkit --release --test loom_seqlock`
#![cfg(loom)]

use loom::sync::Arc;
use loom::sync::atomic::{AtomicU64, Ordering};
use shmkit::sync::SeqLock;

/// Two data words written under the seqlock, read racily (relaxed) as readers of shared
/// memory do; the seqlock must make every validated read consistent.
struct Guarded {
    seq: SeqLock,
    a: AtomicU64,
    b: AtomicU64,
}

/// Runs `f` as a loom model over the facade's atomics (nothing to reset or discover: the
/// seqlock lives in the model's own memory).
fn model(f: impl Fn() + Sync + Send + 'static) {
    shmkit::sync::model::check(&loom::model::Builder::new(), || {}, || {}, f);
}

/// A fresh guarded pair, its counter touched on the current (main) thread.
fn guarded() -> Arc<Guarded> {
    let g = Arc::new(Guarded {
        seq: SeqLock::new(),
        a: AtomicU64::new(0),
        b: AtomicU64::new(0),
    });
    assert_eq!(g.seq.value(), 0);
    g
}

#[test]
fn validated_reads_are_never_torn() {
    model(|| {
        let g = guarded();
        let writer = {
            let g = g.clone();
            loom::thread::spawn(move || {
                for v in 1..=2u64 {
                    g.seq.write_begin();
                    g.a.store(v, Ordering::Relaxed);
                    g.b.store(v, Ordering::Relaxed);
                    g.seq.write_end();
                }
            })
        };
        let mut validated = None;
        for _ in 0..3 {
            let Some(start) = g.seq.read_begin() else {
                loom::thread::yield_now();
                continue;
            };
            let a = g.a.load(Ordering::Relaxed);
            let b = g.b.load(Ordering::Relaxed);
            if g.seq.read_validate(start) {
                assert_eq!(a, b, "a validated read saw a torn pair");
                validated = Some(a);
                break;
            }
            loom::thread::yield_now();
        }
        writer.join().unwrap();
        if let Some(v) = validated {
            assert!(v <= 2);
        }
        // After the writer is done, a read always validates and sees the last write.
        let start = g.seq.read_begin().expect("no write in progress");
        let a = g.a.load(Ordering::Relaxed);
        assert!(g.seq.read_validate(start));
        assert_eq!(a, 2);
    });
}

/// Reads `g` optimistically up to `tries` times; asserts every validated read is
/// consistent (`a == b`) and returns the last validated value.
fn read_consistent(g: &Guarded, tries: u32) -> Option<u64> {
    for _ in 0..tries {
        if let Some(start) = g.seq.read_begin() {
            let a = g.a.load(Ordering::Relaxed);
            let b = g.b.load(Ordering::Relaxed);
            if g.seq.read_validate(start) {
                assert_eq!(
                    a, b,
                    "a validated read saw a half-written or half-repaired pair"
                );
                return Some(a);
            }
        }
        loom::thread::yield_now();
    }
    None
}

#[test]
fn a_dead_writers_half_write_stays_hidden_until_repaired() {
    model(|| {
        let g = guarded();
        // A writer dies half-way through a write: `a` changed, `b` not, the sequence odd.
        let writer = {
            let g = g.clone();
            loom::thread::spawn(move || {
                g.seq.write_begin();
                g.a.store(1, Ordering::Relaxed);
            })
        };
        // A reader racing the writer sees the old pair or nothing, never the half write.
        let reader = {
            let g = g.clone();
            loom::thread::spawn(move || {
                if let Some(v) = read_consistent(&g, 2) {
                    assert_eq!(v, 0);
                }
            })
        };
        writer.join().unwrap();
        reader.join().unwrap();
        // The writer is gone: nobody can read until someone repairs.
        assert!(g.seq.is_writing());
        assert!(g.seq.read_begin().is_none());
        // Whoever recovers the lock repairs the data (still odd while it works), then makes
        // the sequence even; a reader racing the repair sees nothing or the repaired pair.
        let repairer = {
            let g = g.clone();
            loom::thread::spawn(move || {
                g.seq.write_begin();
                let a = g.a.load(Ordering::Relaxed);
                g.b.store(a, Ordering::Relaxed);
                g.seq.force_even();
            })
        };
        if let Some(v) = read_consistent(&g, 2) {
            assert_eq!(v, 1);
        }
        repairer.join().unwrap();
        assert_eq!(read_consistent(&g, 1), Some(1), "repaired and readable");
    });
}
