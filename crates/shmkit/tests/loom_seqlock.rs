//! loom model check of the seqlock protocol: a reader that validates never sees a torn
//! pair of values, and a reader retrying after a failed validation eventually succeeds.
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

#[test]
fn validated_reads_are_never_torn() {
    loom::model(|| {
        let g = Arc::new(Guarded {
            seq: SeqLock::new(),
            a: AtomicU64::new(0),
            b: AtomicU64::new(0),
        });
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

#[test]
fn dead_writer_leaves_the_lock_odd_until_forced_even() {
    loom::model(|| {
        let seq = SeqLock::new();
        seq.write_begin(); // the writer "dies" here
        assert!(seq.read_begin().is_none());
        seq.write_begin(); // a recovering writer takes over: still odd
        assert!(seq.is_writing());
        seq.force_even();
        assert!(seq.read_begin().is_some());
    });
}
