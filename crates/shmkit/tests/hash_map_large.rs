//! HashMap with a 1 GiB value: stored and read back intact, also while another process keeps
//! writing to the same shard (the reader falls back to the shard lock instead of retrying
//! its long copy forever).

mod common;

use common::{TestStore, fork_churner, stop_churner, watchdog};

#[test]
fn one_gib_value_read_while_the_shard_churns() {
    let _watchdog = watchdog(300);
    const GIB: usize = 1 << 30;
    let t = TestStore::new("map-gib");
    let map = t.map(1);
    let mut value = vec![0u8; GIB];
    for (i, chunk) in value.chunks_mut(4096).enumerate() {
        chunk.fill((i % 251) as u8);
    }
    map.set(b"big", &value).unwrap();
    let churner = fork_churner(&map, |n| {
        let k = (n % 1000).to_le_bytes();
        map.set(&k, &n.to_le_bytes()).is_ok()
    });
    // Let the churn start, then read the big value a few times.
    while map.len() < 10 {
        std::thread::yield_now();
    }
    let mut buf = Vec::new();
    for _ in 0..3 {
        assert!(map.get_into(b"big", &mut buf).unwrap());
        assert!(buf == value, "1 GiB value came back different");
    }
    stop_churner(&map, churner);
    assert_eq!(map.remove(b"big").unwrap().map(|v| v.len()), Some(GIB));
    assert!(map.verify().unwrap().is_clean());
}
