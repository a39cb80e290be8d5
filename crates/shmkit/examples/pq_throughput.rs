//! Quick figures for the priority queue: push + pop pairs per second with 1M items queued,
//! against `std::collections::BinaryHeap` (ordered by key, then a sequence number, as the
//! shared queue is) in the same run, one process, no contention. Not a benchmark with
//! statistics: a sanity figure for the docs.
//!
//! Run: `cargo run --release -p shmkit --example pq_throughput [queued] [pairs]`

use shmkit::{PriorityQueueOptions, Store, StoreOptions};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// What the std heap holds: key, sequence number (stable order), value.
type StdItem = ([u8; 16], u64, Vec<u8>);

/// xorshift64*: deterministic keys, the same sequence for both queues.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// How keys are made: random 16 bytes (prefixes decide), or a shared 8-byte stem followed
/// by 8 random bytes (every comparison ties on the prefix and reads full keys).
#[derive(Clone, Copy)]
enum Keys {
    Random,
    SharedPrefix,
}

fn key(rng: &mut Rng, keys: Keys) -> [u8; 16] {
    let mut k = [0u8; 16];
    match keys {
        Keys::Random => k[..8].copy_from_slice(&rng.next().to_be_bytes()),
        Keys::SharedPrefix => k[..8].copy_from_slice(b"job-2026"),
    }
    k[8..].copy_from_slice(&rng.next().to_be_bytes());
    k
}

fn per_second(n: u64, start: Instant) -> f64 {
    n as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers"))
        .collect();
    let queued = args.first().copied().unwrap_or(1_000_000);
    let pairs = args.get(1).copied().unwrap_or(1_000_000);
    let value = [7u8; 16];
    let name = format!("pq-throughput-{}", std::process::id());
    let store = Store::create(&name, &StoreOptions::default()).expect("create store");
    println!("{queued} items queued, {pairs} push+pop pairs, 16-byte keys and values");
    for (label, keys) in [
        ("random keys", Keys::Random),
        ("keys sharing 8 bytes", Keys::SharedPrefix),
    ] {
        // std: the same order (key, seq), the same bytes per item.
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut heap: BinaryHeap<Reverse<StdItem>> = BinaryHeap::new();
        let mut seq = 0u64;
        for _ in 0..queued {
            heap.push(Reverse((key(&mut rng, keys), seq, value.to_vec())));
            seq += 1;
        }
        let start = Instant::now();
        for _ in 0..pairs {
            heap.push(Reverse((key(&mut rng, keys), seq, value.to_vec())));
            seq += 1;
            std::hint::black_box(heap.pop());
        }
        let std_rate = per_second(pairs, start);
        drop(heap);

        let q = store
            .priority_queue_with(
                label,
                &PriorityQueueOptions {
                    initial_capacity: 64,
                    maxlen: None,
                },
            )
            .expect("create queue");
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let batch: Vec<_> = (0..queued).map(|_| (key(&mut rng, keys), value)).collect();
        for chunk in batch.chunks(4096) {
            q.push_many(chunk).expect("fill");
        }
        let start = Instant::now();
        for _ in 0..pairs {
            q.push(&key(&mut rng, keys), &value).expect("push");
            std::hint::black_box(q.pop().expect("pop"));
        }
        let rate = per_second(pairs, start);
        let start = Instant::now();
        let mut done = 0;
        while done < pairs {
            let items: Vec<_> = (0..64).map(|_| (key(&mut rng, keys), value)).collect();
            q.push_many(&items).expect("push_many");
            std::hint::black_box(q.pop_many(64).expect("pop_many"));
            done += 64;
        }
        let batched = per_second(done, start);
        println!(
            "{label:>22}: std BinaryHeap {:>6.2} M pairs/s | shmkit push+pop {:>6.2} M/s \
             ({:.1}x slower) | push_many+pop_many of 64 {:>6.2} M/s",
            std_rate / 1e6,
            rate / 1e6,
            std_rate / rate,
            batched / 1e6
        );
        assert!(q.verify().expect("verify").is_clean());
        q.clear().expect("clear");
    }
    drop(store);
    Store::remove(&name).expect("remove store");
}
