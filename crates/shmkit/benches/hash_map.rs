//! Criterion benchmarks of the shared-memory `HashMap`, each beside the same operation on
//! `std::collections::HashMap<Vec<u8>, Vec<u8>>` so the ratio comes from one run.
//!
//! Run: `cargo bench -p shmkit --bench hash_map` (the store lives in `/dev/shm`).
//! For the 1M-key table and the multi-process figures see `crates/shmkit-bench`
//! (`src/bin/bench_hash_map.rs`, and `shmkit bench`).

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use shmkit::{Store, StoreOptions};
use std::collections::HashMap as StdMap;
use std::hint::black_box;

const KEYS: u64 = 100_000;

fn key(i: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&i.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
    k[8..].copy_from_slice(&i.to_le_bytes());
    k
}

fn bench(c: &mut Criterion) {
    let name = format!("bench-criterion-hash-map-{}", std::process::id());
    let store = Store::create(&name, &StoreOptions::default()).expect("store");
    let map = store.hash_map("m").expect("map");
    let mut std_map = StdMap::new();
    let value = [7u8; 32];
    for i in 0..KEYS {
        map.set(&key(i), &value).expect("set");
        std_map.insert(key(i).to_vec(), value.to_vec());
    }
    let mut group = c.benchmark_group("hash_map");
    let mut i = 0u64;
    let mut next = || {
        i = (i + 7919) % KEYS;
        i
    };
    let mut buf = Vec::with_capacity(64);
    group.bench_function(BenchmarkId::new("get_hit", "std"), |b| {
        b.iter(|| {
            let v = std_map.get(&key(next())[..]).expect("hit");
            buf.clear();
            buf.extend_from_slice(v);
            black_box(&buf);
        })
    });
    group.bench_function(BenchmarkId::new("get_hit", "shmkit"), |b| {
        b.iter(|| black_box(map.get_into(&key(next()), &mut buf).expect("get")))
    });
    group.bench_function(BenchmarkId::new("get_miss", "std"), |b| {
        b.iter(|| black_box(std_map.contains_key(&key(next() + KEYS)[..])))
    });
    group.bench_function(BenchmarkId::new("get_miss", "shmkit"), |b| {
        b.iter(|| black_box(map.get_into(&key(next() + KEYS), &mut buf).expect("get")))
    });
    group.bench_function(BenchmarkId::new("insert_overwrite", "std"), |b| {
        b.iter(|| black_box(std_map.insert(key(next()).to_vec(), value.to_vec())))
    });
    group.bench_function(BenchmarkId::new("set_overwrite", "shmkit"), |b| {
        b.iter(|| map.set(&key(next()), &value).expect("set"))
    });
    group.bench_function(BenchmarkId::new("insert_remove_new", "std"), |b| {
        b.iter(|| {
            let k = key(next() + KEYS);
            std_map.insert(k.to_vec(), value.to_vec());
            black_box(std_map.remove(&k[..]))
        })
    });
    group.bench_function(BenchmarkId::new("insert_remove_new", "shmkit"), |b| {
        b.iter(|| {
            let k = key(next() + KEYS);
            map.set(&k, &value).expect("set");
            black_box(map.delete(&k).expect("delete"))
        })
    });
    group.bench_function(BenchmarkId::new("incr_i64", "shmkit"), |b| {
        b.iter(|| black_box(map.incr_i64(b"counter", 1).expect("incr")))
    });
    group.finish();
    drop(map);
    let _ = Store::remove(&name);
}

criterion_group!(benches, bench);
criterion_main!(benches);
