//! A corrupt record length in the store must give an error, never a panic (and never a huge
//! allocation sized from it): `get` checks the record against the committed length, but the
//! iterator sized its buffers from the stored lengths unchecked, and verify/repair added them
//! with overflowing arithmetic.

mod common;

use common::{TestStore, watchdog};
use shmkit::collections::hash_map::layout::{RecordHeader, TableHeader};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::Ordering;

#[test]
fn corrupt_value_length_is_an_error_not_a_panic() {
    let _watchdog = watchdog(60);
    let t = TestStore::new("review-corrupt-lengths");
    let map = t.map(1);
    map.set(b"key", b"value").unwrap();
    // Blocks come root, table, then the table's records: the last one is our record.
    let mut blocks = Vec::new();
    map.owned_blocks(&mut |b| blocks.push(b)).unwrap();
    let rec = *blocks.last().unwrap();
    let header: &RecordHeader = t.get(rec).unwrap();
    assert_eq!(header.val_len.load(Ordering::Relaxed), 5);
    header.val_len.store(u64::MAX - 4, Ordering::Relaxed);

    let get = catch_unwind(AssertUnwindSafe(|| map.get(b"key").is_err()));
    let iter = catch_unwind(AssertUnwindSafe(|| {
        map.iter().collect::<Vec<_>>().iter().any(|r| r.is_err())
    }));
    let verify = catch_unwind(AssertUnwindSafe(|| {
        map.verify().map(|r| !r.is_clean()).unwrap_or(true)
    }));
    let repair = catch_unwind(AssertUnwindSafe(|| map.repair().is_ok()));
    let outcomes = [get.ok(), iter.ok(), verify.ok(), repair.ok()];
    assert_eq!(
        outcomes,
        [Some(true); 4],
        "[get, iter, verify, repair]: None = panicked, Some(false) = no error reported"
    );
    assert_eq!(map.get(b"key").unwrap(), None);
    assert!(map.verify().unwrap().is_clean());
}

#[test]
fn a_table_whose_bucket_count_is_not_a_power_of_two_is_corrupt() {
    // The table header's magic is intact, only its bucket count is wrong: the probe mask
    // (buckets - 1) would then skip slots, so the table must be refused, not searched.
    let _watchdog = watchdog(60);
    let t = TestStore::new("corrupt-table-buckets");
    let map = t.map(1);
    map.set(b"key", b"value").unwrap();
    let mut blocks = Vec::new();
    map.owned_blocks(&mut |b| blocks.push(b)).unwrap();
    let header: &TableHeader = t.get(blocks[1]).unwrap();
    let buckets = header.buckets.load(Ordering::Relaxed);
    assert!(
        buckets.is_power_of_two() && buckets >= 4,
        "blocks[1] is the table"
    );
    header.buckets.store(buckets - 1, Ordering::Relaxed);
    let get = catch_unwind(AssertUnwindSafe(|| map.get(b"key")));
    assert!(
        matches!(get, Ok(Err(_))),
        "a read of the damaged table: {get:?} (Ok(Ok(..)) = the table was searched)"
    );
    assert!(!map.verify().unwrap().is_clean());
}

#[test]
fn shard_counters_at_their_maximum_do_not_panic_len_or_stats() {
    use shmkit::collections::hash_map::layout::{ROOT_LEN, SHARD_STRIDE, ShardHeader};
    use shmkit::store::header::Line;
    let _watchdog = watchdog(60);
    let t = TestStore::new("corrupt-shard-counters");
    let map = t.map(2);
    map.set(b"key", b"value").unwrap();
    let shards_offset = (map.root_offset() + ROOT_LEN).next_multiple_of(SHARD_STRIDE);
    for s in 0..2 {
        let shard: &Line<ShardHeader> = t.get(shards_offset + s * SHARD_STRIDE).unwrap();
        shard.0.len.store(u64::MAX, Ordering::Relaxed);
        shard.0.bytes.store(u64::MAX, Ordering::Relaxed);
        shard.0.resizes.store(u64::MAX, Ordering::Relaxed);
    }
    // Two counters at their maximum would overflow a plain sum (a panic in test builds).
    let len = catch_unwind(AssertUnwindSafe(|| map.len()));
    assert_eq!(len.ok(), Some(u64::MAX), "len saturates");
    let stats = catch_unwind(AssertUnwindSafe(|| map.stats()));
    let stats = stats.expect("stats must not panic").unwrap();
    assert_eq!(stats.entries, u64::MAX);
    assert!(
        !map.verify().unwrap().is_clean(),
        "verify reports the counters"
    );
}
