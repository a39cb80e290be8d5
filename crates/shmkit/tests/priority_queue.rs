//! PriorityQueue across real processes (fork): a model test against `BinaryHeap`, 4
//! producers × 4 consumers with exactly-once delivery and ordered batches, blocking pops and
//! pushes woken from another process, timeouts, SIGKILLs of producers and consumers at
//! random points, holders that die with a change half applied, damaged records.

mod common;

use common::{Exit, Rng, TestStore, fork_child, run_in_processes, wait_until, watchdog};
use proptest::prelude::*;
use shmkit::collections::object::SharedObject;
use shmkit::collections::priority_queue::layout::{
    ARITY, ARRAY_HEADER_LEN, ENTRY_LEN, Entry, INTENT_POP, INTENT_PUSH, PqRoot, RECORD_HEADER_LEN,
    RecordHeader, content_hash, key_prefix, record_len, seal,
};
use shmkit::{ErrorKind, PriorityQueue, PriorityQueueError, PriorityQueueOptions, Store};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A value naming its producer and sequence number, padded to `len` bytes (at least 8).
fn value(producer: u32, seq: u32, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len.max(8));
    v.extend_from_slice(&producer.to_le_bytes());
    v.extend_from_slice(&seq.to_le_bytes());
    v.resize(len.max(8), (seq % 251) as u8);
    v
}

/// The producer and sequence number of a value made by [`value`], checking its padding.
fn parse(v: &[u8]) -> (u32, u32) {
    assert!(v.len() >= 8, "value of {} bytes", v.len());
    let p = u32::from_le_bytes(v[0..4].try_into().unwrap());
    let s = u32::from_le_bytes(v[4..8].try_into().unwrap());
    assert!(
        v[8..].iter().all(|b| *b == (s % 251) as u8),
        "torn value {p}/{s}"
    );
    (p, s)
}

/// A key with many ties: a few stems (some longer than 8 bytes, some sharing their first
/// 8 bytes, one ending in a zero byte) and a short random tail.
fn random_key(rng: &mut Rng) -> Vec<u8> {
    const STEMS: [&[u8]; 6] = [
        b"",
        b"a",
        b"aaaaaaaa",
        b"aaaaaaaa\0",
        b"aaaaaaaaaaaa",
        b"priority-007",
    ];
    let mut k = STEMS[rng.below(STEMS.len() as u64) as usize].to_vec();
    for _ in 0..rng.below(3) {
        k.push([0u8, 1, b'a', 0xff][rng.below(4) as usize]);
    }
    k
}

fn key_strategy() -> impl Strategy<Value = Vec<u8>> {
    let stem = prop::sample::select(vec![
        b"".to_vec(),
        b"a".to_vec(),
        b"a\0".to_vec(),
        b"aaaaaaaa".to_vec(),
        b"aaaaaaaa\0".to_vec(),
        b"aaaaaaaaaaaa".to_vec(),
        b"aaaaaaaab".to_vec(),
        b"zzzzzzzzzzzzzzzzzzzz".to_vec(),
    ]);
    let tail = prop::collection::vec(prop::sample::select(vec![0u8, 1, b'a', 0xff]), 0..3);
    (stem, tail).prop_map(|(mut s, t)| {
        s.extend(t);
        s
    })
}

#[derive(Clone, Debug)]
enum Op {
    Push(Vec<u8>, usize),
    PushMany(Vec<(Vec<u8>, usize)>),
    Pop,
    PopMany(usize),
    Peek,
    Clear,
    Items,
}

fn op() -> impl Strategy<Value = Op> {
    let len = prop_oneof![0usize..16, 0usize..300];
    prop_oneof![
        8 => (key_strategy(), len.clone()).prop_map(|(k, l)| Op::Push(k, l)),
        2 => prop::collection::vec((key_strategy(), len), 0..8).prop_map(Op::PushMany),
        5 => Just(Op::Pop),
        2 => (0usize..8).prop_map(Op::PopMany),
        1 => Just(Op::Peek),
        1 => Just(Op::Clear),
        1 => Just(Op::Items),
    ]
}

type Model = BinaryHeap<Reverse<(Vec<u8>, u64, Vec<u8>)>>;

fn model_pop(model: &mut Model) -> Option<(Vec<u8>, Vec<u8>)> {
    model.pop().map(|Reverse((k, _, v))| (k, v))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn priority_queue_matches_a_binary_heap(
        ops in prop::collection::vec(op(), 1..200),
        maxlen in prop_oneof![Just(None), (1u64..12).prop_map(Some)],
    ) {
        let t = TestStore::new("pq-model");
        let q = t
            .priority_queue_with("q", &PriorityQueueOptions { maxlen, initial_capacity: 16 })
            .unwrap();
        let maxlen = maxlen.map(|m| m as usize);
        let mut model = Model::new();
        let mut seq = 0u64;
        for (step, op) in ops.into_iter().enumerate() {
            let step = step as u32;
            match op {
                Op::Push(k, len) => {
                    let v = value(1, step, len);
                    let room = maxlen.is_none_or(|m| model.len() < m);
                    match q.push(&k, &v) {
                        Ok(()) => prop_assert!(room),
                        Err(PriorityQueueError::Full { .. }) => prop_assert!(!room),
                        Err(e) => panic!("{e}"),
                    }
                    if room {
                        model.push(Reverse((k, seq, v)));
                        seq += 1;
                    }
                }
                Op::PushMany(items) => {
                    let items: Vec<_> = items.into_iter().enumerate()
                        .map(|(i, (k, l))| (k, value(2 + i as u32, step, l))).collect();
                    let mut expect = 0;
                    for (k, v) in &items {
                        if maxlen.is_some_and(|m| model.len() >= m) {
                            break;
                        }
                        model.push(Reverse((k.clone(), seq, v.clone())));
                        seq += 1;
                        expect += 1;
                    }
                    prop_assert_eq!(q.push_many(&items).unwrap(), expect);
                }
                Op::Pop => prop_assert_eq!(q.pop().unwrap(), model_pop(&mut model)),
                Op::PopMany(n) => {
                    let expect: Vec<_> = (0..n).map_while(|_| model_pop(&mut model)).collect();
                    prop_assert_eq!(q.pop_many(n).unwrap(), expect);
                }
                Op::Peek => {
                    let expect = model.peek().map(|Reverse((k, _, v))| (k.clone(), v.clone()));
                    prop_assert_eq!(q.peek().unwrap(), expect);
                }
                Op::Clear => {
                    prop_assert_eq!(q.clear().unwrap(), model.len() as u64);
                    model.clear();
                }
                Op::Items => {
                    let mut expect: Vec<_> = model.iter().map(|Reverse(e)| e.clone()).collect();
                    expect.sort();
                    let expect: Vec<_> = expect.into_iter().map(|(k, _, v)| (k, v)).collect();
                    prop_assert_eq!(q.items().unwrap(), expect);
                }
            }
            prop_assert_eq!(q.len(), model.len() as u64);
            prop_assert_eq!(
                q.total_bytes(),
                model.iter().map(|Reverse((k, _, v))| (k.len() + v.len()) as u64).sum::<u64>()
            );
        }
        let report = q.verify().unwrap();
        prop_assert!(report.is_clean(), "{:?}", report);
        prop_assert!(t.check().is_clean());
    }
}

#[test]
fn the_array_grows_for_many_items_and_gives_the_memory_back_when_drained() {
    let t = TestStore::new("pq-shrink");
    let q = t.priority_queue("q").unwrap();
    let initial = q.stats().unwrap().capacity;
    let mut rng = Rng::new(11);
    let mut keys: Vec<(Vec<u8>, u32)> = Vec::new();
    for i in 0..50_000u32 {
        let k = random_key(&mut rng);
        q.push(&k, &value(0, i, 8)).unwrap();
        keys.push((k, i));
    }
    let grown = q.stats().unwrap();
    assert!(grown.capacity >= 50_000, "{grown:?}");
    assert!(grown.grows >= 9, "{grown:?}");
    assert!(q.verify().unwrap().is_clean());
    keys.sort();
    for (k, i) in keys {
        let (key, v) = q.pop().unwrap().unwrap();
        assert_eq!((key, parse(&v)), (k, (0, i)));
    }
    let drained = q.stats().unwrap();
    assert_eq!(drained.capacity, initial, "{drained:?}");
    assert!(drained.shrinks > 0, "{drained:?}");
    assert!(t.check().is_clean());
}

#[test]
fn bad_input_gets_typed_errors_and_changes_nothing() {
    let t = TestStore::new("pq-errors");
    let zero = PriorityQueueOptions {
        maxlen: Some(0),
        ..PriorityQueueOptions::default()
    };
    let e = t.priority_queue_with("zero", &zero).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    t.hash_map("m").unwrap();
    assert_eq!(
        t.priority_queue("m").unwrap_err().kind(),
        ErrorKind::WrongKind
    );
    assert_eq!(
        t.open_priority_queue("missing").unwrap_err().kind(),
        ErrorKind::ObjectNotFound
    );
    let two = PriorityQueueOptions {
        maxlen: Some(2),
        ..PriorityQueueOptions::default()
    };
    let q = t.priority_queue_with("q", &two).unwrap();
    let used = t.verify_allocator().unwrap().used_blocks;
    let long_key = vec![7u8; shmkit::collections::priority_queue::MAX_KEY_LEN as usize + 1];
    let e = q.push(&long_key, b"").unwrap_err();
    assert!(matches!(e, PriorityQueueError::KeyTooLarge { .. }), "{e}");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    // A batch with one oversized item is refused whole, before anything is allocated.
    let e = q
        .push_many(&[(&b"ok"[..], &b""[..]), (&long_key[..], &b""[..])])
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument);
    assert_eq!(t.verify_allocator().unwrap().used_blocks, used);
    assert!(q.is_empty());
    q.push(b"b", b"2").unwrap();
    q.push(b"a", b"1").unwrap();
    let full = q.push(b"c", b"3").unwrap_err();
    assert_eq!(full.kind(), ErrorKind::Full);
    let full = q
        .push_timeout(b"c", b"3", Some(Duration::from_millis(50)))
        .unwrap_err();
    assert!(matches!(full, PriorityQueueError::Full { maxlen: 2 }));
    assert_eq!(
        q.stats().unwrap().push_waiters,
        0,
        "the waiter unregistered"
    );
    assert_eq!(
        q.items().unwrap(),
        vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"b".to_vec(), b"2".to_vec())
        ]
    );
    assert_eq!(t.verify_allocator().unwrap().used_blocks, used + 2);
    // Reopening with other options keeps the queue's own.
    assert_eq!(t.priority_queue("q").unwrap().maxlen(), Some(2));
}

#[test]
fn a_pop_blocked_in_another_process_wakes_when_an_item_is_pushed() {
    let _dog = watchdog(120);
    let t = TestStore::new("pq-wake");
    let q = t.priority_queue("q").unwrap();
    let got = t.priority_queue("got").unwrap();
    let child = fork_child(|| {
        // Blocks without a deadline.
        let (k, v) = q.pop_timeout(None).unwrap().unwrap();
        got.push(&k, &v).unwrap();
        0
    });
    assert!(wait_until(Duration::from_secs(30), || q
        .stats()
        .unwrap()
        .pop_waiters
        == 1));
    q.push(b"key", b"wake up").unwrap();
    child.expect_success();
    assert_eq!(
        got.pop().unwrap(),
        Some((b"key".to_vec(), b"wake up".to_vec()))
    );
    assert_eq!(q.stats().unwrap().pop_waiters, 0);
}

#[test]
fn a_push_blocked_on_a_full_queue_wakes_when_another_process_pops() {
    let _dog = watchdog(120);
    let t = TestStore::new("pq-room");
    let one = PriorityQueueOptions {
        maxlen: Some(1),
        ..PriorityQueueOptions::default()
    };
    let q = t.priority_queue_with("q", &one).unwrap();
    q.push(b"1", b"first").unwrap();
    let child = fork_child(|| {
        q.push_timeout(b"0", b"second", None).unwrap();
        0
    });
    assert!(wait_until(Duration::from_secs(30), || q
        .stats()
        .unwrap()
        .push_waiters
        == 1));
    assert_eq!(q.pop().unwrap().unwrap().1, b"first");
    child.expect_success();
    assert_eq!(q.pop().unwrap().unwrap().1, b"second");
    // Nothing built for the waiting push was left behind.
    assert!(t.check().is_clean());
}

#[test]
fn a_pop_with_a_timeout_on_an_empty_queue_returns_none() {
    let _dog = watchdog(60);
    let t = TestStore::new("pq-timeout");
    let q = t.priority_queue("q").unwrap();
    assert_eq!(
        q.pop_timeout(Some(Duration::from_millis(200))).unwrap(),
        None
    );
    assert_eq!(q.stats().unwrap().pop_waiters, 0, "the waiter unregistered");
    assert!(
        q.pop_many_timeout(5, Some(Duration::from_millis(20)))
            .unwrap()
            .is_empty()
    );
}

/// A key of two bytes (a priority of 0..100, so many ties) followed by the producer: a
/// batch must come out sorted by it, and one producer's items of one priority in the order
/// it pushed them.
fn mixed_key(rng: &mut Rng) -> Vec<u8> {
    (rng.below(100) as u16).to_be_bytes().to_vec()
}

#[test]
fn four_producers_and_four_consumers_deliver_every_item_once_in_order() {
    let _dog = watchdog(900);
    const PER: u32 = 100_000;
    const PRODUCERS: u32 = 4;
    let t = TestStore::new("pq-4x4");
    // Bounded, so producers also block on a full queue now and then.
    let bounded = PriorityQueueOptions {
        maxlen: Some(5000),
        ..PriorityQueueOptions::default()
    };
    let q = t.priority_queue_with("q", &bounded).unwrap();
    let seen = t.atomic_vector("seen", (PRODUCERS * PER) as u64).unwrap();
    let consumed = t.atomic_vector("consumed", 1).unwrap();
    let total = (PRODUCERS * PER) as i64;
    run_in_processes(&t, 8, |i| {
        let i = i as u32;
        if i < PRODUCERS {
            let mut rng = Rng::new(0x4444 + i as u64);
            let mut seq = 0;
            while seq < PER {
                if seq % 3 == 0 {
                    let batch: Vec<_> = (seq..(seq + 50).min(PER))
                        .map(|s| (mixed_key(&mut rng), value(i, s, 24)))
                        .collect();
                    seq += q.push_many_timeout(&batch, None).unwrap() as u32;
                } else {
                    q.push_timeout(&mixed_key(&mut rng), &value(i, seq, 24), None)
                        .unwrap();
                    seq += 1;
                }
            }
            return 0;
        }
        while consumed.load(0).unwrap() < total {
            let items = if i % 2 == 0 {
                q.pop_many_timeout(32, Some(Duration::from_millis(20)))
                    .unwrap()
            } else {
                q.pop_timeout(Some(Duration::from_millis(20)))
                    .unwrap()
                    .into_iter()
                    .collect()
            };
            // One batch is one lock hold: sorted by key, and a producer's items of one key
            // in its push order.
            for w in items.windows(2) {
                let ((k0, v0), (k1, v1)) = (&w[0], &w[1]);
                let ((p0, s0), (p1, s1)) = (parse(v0), parse(v1));
                if k0 > k1 || (k0 == k1 && p0 == p1 && s0 >= s1) {
                    eprintln!("out of order in a batch: {k0:?} {p0}/{s0} before {k1:?} {p1}/{s1}");
                    return 1;
                }
            }
            for (_, v) in &items {
                let (p, s) = parse(v);
                seen.fetch_add((p * PER + s) as u64, 1).unwrap();
            }
            consumed.fetch_add(0, items.len() as i64).unwrap();
        }
        0
    });
    let counts = seen.load_range(0, (PRODUCERS * PER) as u64).unwrap();
    let wrong: Vec<_> = counts
        .iter()
        .enumerate()
        .filter(|(_, c)| **c != 1)
        .take(5)
        .collect();
    assert!(wrong.is_empty(), "items not seen exactly once: {wrong:?}");
    assert!(q.is_empty());
    assert!(q.verify().unwrap().is_clean());
    assert!(t.check().is_clean());
}

#[test]
fn producers_and_consumers_killed_at_random_points_lose_no_acknowledged_item() {
    // Round after round, a producer and a consumer run side by side and both are
    // SIGKILLed at a random moment (600 kills). A producer acknowledges each push after
    // it returned (`acked[r]`); a consumer counts each popped item in `seen` after its pop
    // returned, and announces in `inflight[r]` how many items the pop it is in may take
    // (cleared once they are counted). At the end every acknowledged item was seen exactly
    // once or is still queued, except at most the items announced by killed consumers
    // (popped, not yet counted); no item is ever seen twice, every item is whole, and the
    // drain comes out in order. (A rebuild that ignored a pop's intent loses the last
    // entry when a popper dies in its sift: one item more than the popper announced.)
    let _dog = watchdog(1200);
    const ROUNDS: u32 = 300;
    const MAX_SEQ: u32 = 1 << 14;
    let t = TestStore::new("pq-kills");
    let q = t
        .priority_queue_with(
            "q",
            &PriorityQueueOptions {
                initial_capacity: 16,
                ..PriorityQueueOptions::default()
            },
        )
        .unwrap();
    let acked = t.atomic_vector("acked", ROUNDS as u64).unwrap();
    let seen = t.atomic_vector("seen", (ROUNDS * MAX_SEQ) as u64).unwrap();
    let inflight = t.atomic_vector("inflight", ROUNDS as u64).unwrap();
    let mut rng = Rng::new(0x9e00_0001);
    let mut abandoned = 0;
    let record = |v: &[u8]| {
        let (p, s) = parse(v);
        seen.fetch_add((p * MAX_SEQ + s) as u64, 1).unwrap();
    };
    // Acknowledged items of rounds up to `last` neither counted nor queued (a snapshot: the
    // first lock of it rebuilds after a dead holder); also checks that nothing counted is
    // still queued.
    let lost_items = |last: u32| -> u64 {
        let queued: std::collections::HashSet<(u32, u32)> =
            q.items().unwrap().iter().map(|(_, v)| parse(v)).collect();
        for (p, s) in &queued {
            let c = seen.load((p * MAX_SEQ + s) as u64).unwrap();
            assert_eq!(c, 0, "item {p}/{s} counted and still queued");
        }
        let mut lost = 0;
        for p in 0..=last {
            let base = (p * MAX_SEQ) as u64;
            let acked = acked.load(p as u64).unwrap() as u64;
            let counts = seen.load_range(base, base + acked).unwrap();
            for (s, c) in counts.iter().enumerate() {
                if *c == 0 && !queued.contains(&(p, s as u32)) {
                    lost += 1;
                }
            }
        }
        lost
    };
    let mut lost_before = 0u64;
    for r in 0..ROUNDS {
        let seed = rng.next();
        let producer = fork_child(|| {
            let mut rng = Rng::new(seed);
            let mut seq = 0;
            while seq < MAX_SEQ {
                let len = 8 + rng.below(300) as usize;
                if rng.below(4) == 0 {
                    let n = (1 + rng.below(4) as u32).min(MAX_SEQ - seq);
                    let batch: Vec<_> = (seq..seq + n)
                        .map(|s| (random_key(&mut rng), value(r, s, len)))
                        .collect();
                    q.push_many(&batch).unwrap();
                    seq += n;
                } else {
                    q.push(&random_key(&mut rng), &value(r, seq, len)).unwrap();
                    seq += 1;
                }
                acked.store(r as u64, seq as i64).unwrap();
            }
            0
        });
        let consumer = fork_child(|| {
            let mut rng = Rng::new(seed ^ 1);
            loop {
                let choice = rng.below(8);
                let max = if choice == 0 { 1 + rng.below(4) } else { 1 };
                inflight.store(r as u64, max as i64).unwrap();
                let items = match choice {
                    0 => q
                        .pop_many_timeout(max as usize, Some(Duration::from_millis(5)))
                        .unwrap(),
                    1 | 2 => q
                        .pop_timeout(Some(Duration::from_millis(5)))
                        .unwrap()
                        .into_iter()
                        .collect(),
                    3 if rng.below(16) == 0 => {
                        q.peek().unwrap();
                        Vec::new()
                    }
                    _ => q.pop().unwrap().into_iter().collect(),
                };
                for (_, v) in &items {
                    record(v);
                }
                inflight.store(r as u64, 0).unwrap();
            }
        });
        // Both started (the producer acknowledged a push), then a random moment.
        assert!(wait_until(Duration::from_secs(60), || acked
            .load(r as u64)
            .unwrap()
            > 0));
        std::thread::sleep(Duration::from_micros(rng.below(3000)));
        if rng.below(2) == 0 {
            producer.kill_and_wait();
            consumer.kill_and_wait();
        } else {
            consumer.kill_and_wait();
            producer.kill_and_wait();
        }
        if let Some(l) = t
            .lock_states()
            .iter()
            .find(|l| l.is_abandoned() && l.name.starts_with("priority_queue"))
        {
            if r < 3 {
                eprintln!("round {r}: {l:?}");
            }
            abandoned += 1;
        }
        if r % 2 == 1 {
            // Every other round (so that in the others the next round's processes rebuild,
            // and are killed in rebuilds too), account: the items acknowledged and not
            // counted must be queued, except what the consumers killed in these two rounds
            // had announced; nothing counted may still be queued.
            let lost = lost_items(r);
            let announced = inflight.load(r as u64).unwrap() + inflight.load(r as u64 - 1).unwrap();
            assert!(
                lost - lost_before <= announced as u64,
                "rounds {}-{r}: {} acknowledged items lost, the killed consumers had announced {announced}",
                r - 1,
                lost - lost_before
            );
            lost_before = lost;
        }
    }
    // Drain what is left (the first operation rebuilds after a lock a kill left behind),
    // checking the order.
    let mut last: Option<Vec<u8>> = None;
    while let Some((k, v)) = q.pop().unwrap() {
        assert!(
            last.as_ref().is_none_or(|l| *l <= k),
            "drained out of order"
        );
        last = Some(k);
        record(&v);
    }
    let mut missing = 0;
    let mut unacked_seen = 0;
    let total_acked: i64 = acked.load_range(0, ROUNDS as u64).unwrap().iter().sum();
    let total_seen: i64 = seen
        .load_range(0, (ROUNDS * MAX_SEQ) as u64)
        .unwrap()
        .iter()
        .sum();
    eprintln!("{total_acked} items acknowledged, {total_seen} seen");
    for r in 0..ROUNDS {
        let acked = acked.load(r as u64).unwrap() as u32;
        let counts = seen
            .load_range((r * MAX_SEQ) as u64, ((r + 1) * MAX_SEQ) as u64)
            .unwrap();
        for (s, c) in counts.iter().enumerate() {
            assert!(*c <= 1, "producer {r} item {s} seen {c} times");
            if (s as u32) < acked && *c == 0 {
                missing += 1;
            }
            if (s as u32) >= acked && *c == 1 {
                unacked_seen += 1;
            }
        }
    }
    let recoveries = q.stats().unwrap().recoveries;
    let announced: i64 = inflight.load_range(0, ROUNDS as u64).unwrap().iter().sum();
    eprintln!(
        "{} kills: {abandoned} rounds left the lock abandoned, {recoveries} rebuilds, {missing} acknowledged items lost in killed consumers (which had announced {announced}), {unacked_seen} pushed items the producer died before acknowledging",
        2 * ROUNDS
    );
    assert!(
        missing <= announced as u32,
        "{missing} acknowledged items lost, more than the killed consumers had in flight ({announced})"
    );
    assert!(
        abandoned >= ROUNDS / 20,
        "only {abandoned} kills landed with the lock held"
    );
    let report = q.verify().unwrap();
    assert!(report.is_clean(), "{report:?}");
    let repair = t.repair();
    assert!(repair.after.is_clean(), "{repair:?}");
}

/// The root, the entries and the record words of a queue, through the test hooks.
struct Raw<'a> {
    t: &'a Store,
    root: &'a PqRoot,
}

impl<'a> Raw<'a> {
    fn new(t: &'a Store, q: &PriorityQueue) -> Raw<'a> {
        Raw {
            t,
            root: t.get(q.root_offset()).unwrap(),
        }
    }

    fn entry(&self, i: u64) -> &'a Entry {
        let array = self.root.array.load(Ordering::SeqCst);
        self.t
            .get(array + ARRAY_HEADER_LEN + i * ENTRY_LEN)
            .unwrap()
    }

    /// Copies entry `from` over entry `to`, word by word (as a sift does).
    fn copy(&self, from: u64, to: u64) {
        let (f, t) = (self.entry(from), self.entry(to));
        t.key_prefix
            .store(f.key_prefix.load(Ordering::SeqCst), Ordering::SeqCst);
        t.seq.store(f.seq.load(Ordering::SeqCst), Ordering::SeqCst);
        t.rec.store(f.rec.load(Ordering::SeqCst), Ordering::SeqCst);
    }
}

/// A queue holding ten items pushed in scrambled order: keys `k00`..`k09` whose values
/// name them.
fn ten_items(t: &Store) -> PriorityQueue {
    let q = t.priority_queue("q").unwrap();
    for i in [7u32, 2, 9, 0, 5, 3, 8, 1, 6, 4] {
        q.push(format!("k{i:02}").as_bytes(), &value(0, i, 16))
            .unwrap();
    }
    q
}

fn drain_seqs(q: &PriorityQueue) -> Vec<u32> {
    let mut out = Vec::new();
    while let Some((k, v)) = q.pop().unwrap() {
        let (_, s) = parse(&v);
        assert_eq!(k, format!("k{s:02}").as_bytes());
        out.push(s);
    }
    out
}

#[test]
fn the_next_lock_holder_finishes_a_pop_whose_holder_died_in_the_middle_of_its_sift() {
    // A popper killed after its commit (the length store) and before its sift put the last
    // entry in place leaves the top slot holding a copy of a child and the last entry
    // beyond the length: the next holder must drop the popped record, keep every other
    // exactly once, and restore heap order. The window is a few instructions wide, so the
    // test makes it: a child does the first steps of a pop by hand and exits holding the
    // lock.
    let t = TestStore::new("pq-half-pop");
    let q = ten_items(&t);
    let raw = Raw::new(&t, &q);
    let popped = raw.entry(0).rec.load(Ordering::SeqCst);
    fork_child(|| {
        let guard = t.lock(&raw.root.lock).unwrap();
        let n = raw.root.len.load(Ordering::SeqCst);
        raw.root.intent_rec.store(popped, Ordering::SeqCst);
        raw.root.intent_old_len.store(n, Ordering::SeqCst);
        raw.root.intent_op.store(INTENT_POP, Ordering::SeqCst);
        raw.root.len.store(n - 1, Ordering::SeqCst);
        // The sift's first move: the smallest child up into the hole.
        let best = (1..=ARITY.min(n - 2))
            .min_by_key(|c| raw.entry(*c).key_prefix.load(Ordering::SeqCst))
            .unwrap();
        raw.copy(best, 0);
        std::mem::forget(guard);
        0
    })
    .expect_success();
    assert_eq!(q.len(), 9, "the pop committed");
    assert_eq!(drain_seqs(&q), (1..10).collect::<Vec<_>>());
    assert_eq!(q.stats().unwrap().recoveries, 1);
    assert!(q.verify().unwrap().is_clean());
    // The popped record is no structure's: the leak sweep frees it.
    assert_eq!(t.find_unreachable().unwrap().unreachable, vec![popped]);
    assert!(t.repair().after.is_clean());
}

/// Writes a complete record of queue `q` for `key`/`val`, sealed with sequence number `seq`
/// (and `q`'s root offset), into a new block, as a push does before its commit.
fn sealed_record(t: &Store, q: &PriorityQueue, key: &[u8], val: &[u8], seq: u64) -> u64 {
    let rec = t
        .alloc(record_len(key.len() as u64, val.len() as u64))
        .unwrap();
    let h: &RecordHeader = t.get(rec).unwrap();
    h.key_len.store(key.len() as u32, Ordering::SeqCst);
    h.val_len.store(val.len() as u32, Ordering::SeqCst);
    h.reserved.store(0, Ordering::SeqCst);
    h.seq.store(seq, Ordering::SeqCst);
    h.checksum.store(
        seal(content_hash(q.root_offset(), key, val), seq),
        Ordering::SeqCst,
    );
    t.write_bytes(rec + RECORD_HEADER_LEN, key).unwrap();
    t.write_bytes(rec + RECORD_HEADER_LEN + key.len() as u64, val)
        .unwrap();
    rec
}

/// A child that does a push of `k05b` by hand up to its commit (if `commit`), then the
/// first move of its sift (the record then named only by the intent), and exits holding
/// the lock. Returns the record.
fn die_in_a_push(t: &Store, q: &PriorityQueue, commit: bool) -> u64 {
    let raw = Raw::new(t, q);
    let key = b"k05b";
    let seq = raw.root.next_seq.load(Ordering::SeqCst);
    let rec = sealed_record(t, q, key, &value(0, 55, 16), seq);
    fork_child(|| {
        let guard = t.lock(&raw.root.lock).unwrap();
        let n = raw.root.len.load(Ordering::SeqCst);
        raw.root.next_seq.store(seq + 1, Ordering::SeqCst);
        raw.root.intent_rec.store(rec, Ordering::SeqCst);
        raw.root.intent_old_len.store(n, Ordering::SeqCst);
        raw.root.intent_op.store(INTENT_PUSH, Ordering::SeqCst);
        let e = raw.entry(n);
        e.key_prefix.store(key_prefix(key), Ordering::SeqCst);
        e.seq.store(seq, Ordering::SeqCst);
        e.rec.store(rec, Ordering::SeqCst);
        if commit {
            raw.root.len.store(n + 1, Ordering::SeqCst);
            // The sift's first move: the parent down into the new entry's place.
            raw.copy((n - 1) / ARITY, n);
        }
        std::mem::forget(guard);
        0
    })
    .expect_success();
    rec
}

#[test]
fn the_next_lock_holder_finishes_a_push_whose_holder_died_in_the_middle_of_its_sift() {
    // After the commit the pushed record may be named only by the intent (the sift has
    // copied a parent over its entry): the next holder must keep it, in order.
    let t = TestStore::new("pq-half-push");
    let q = ten_items(&t);
    die_in_a_push(&t, &q, true);
    assert_eq!(q.len(), 11, "the push committed");
    let items = q.items().unwrap();
    let keys: Vec<_> = items.iter().map(|(k, _)| k.clone()).collect();
    let mut expect: Vec<Vec<u8>> = (0..10).map(|i| format!("k{i:02}").into_bytes()).collect();
    expect.insert(6, b"k05b".to_vec());
    assert_eq!(keys, expect);
    assert_eq!(q.stats().unwrap().recoveries, 1);
    assert!(q.verify().unwrap().is_clean());
    // Equal keys after the rebuild still pop in push order: the sequence counter moved on.
    q.push(b"k05b", &value(0, 56, 16)).unwrap();
    let mut order = Vec::new();
    while let Some((k, v)) = q.pop().unwrap() {
        if k == b"k05b" {
            order.push(parse(&v).1);
        }
    }
    assert_eq!(order, vec![55, 56]);
    assert!(t.check().is_clean());
}

#[test]
fn a_push_whose_holder_died_before_its_commit_is_rolled_back_and_its_record_swept() {
    let t = TestStore::new("pq-push-rollback");
    let q = ten_items(&t);
    let rec = die_in_a_push(&t, &q, false);
    assert_eq!(q.len(), 10);
    assert_eq!(drain_seqs(&q), (0..10).collect::<Vec<_>>());
    assert_eq!(t.find_unreachable().unwrap().unreachable, vec![rec]);
    assert!(t.repair().after.is_clean());
}

#[test]
fn a_killed_holder_never_wedges_a_blocked_consumer() {
    // A process churning the queue is killed at random points (after it started) until
    // kills have left the queue's lock abandoned a number of times. After each kill a
    // consumer takes over: it pops what is left (the first pop recovers an abandoned lock
    // and rebuilds the heap), then blocks on the empty queue until the item pushed after
    // the kill arrives.
    let _dog = watchdog(300);
    let t = TestStore::new("pq-dead-holder");
    let q = t.priority_queue("q").unwrap();
    let started = t.atomic_vector("started", 1).unwrap();
    let mut rng = Rng::new(7);
    let mut abandoned = 0;
    for round in 0..200 {
        started.store(0, 0).unwrap();
        let child = fork_child(|| {
            let mut rng = Rng::new(round + 1);
            let mut i = 0u32;
            loop {
                q.push(&random_key(&mut rng), &value(9, i, 200)).unwrap();
                if i % 2 == 0 {
                    q.pop().unwrap();
                }
                if i == 0 {
                    started.store(0, 1).unwrap();
                }
                i = i.wrapping_add(1);
            }
        });
        assert!(wait_until(Duration::from_secs(60), || started
            .load(0)
            .unwrap()
            == 1));
        std::thread::sleep(Duration::from_micros(rng.below(2000)));
        let exit = child.kill_and_wait();
        assert_eq!(
            exit,
            Exit::Signal(libc::SIGKILL),
            "round {round}: the churner failed"
        );
        if t.lock_states()
            .iter()
            .any(|l| l.is_abandoned() && l.name.starts_with("priority_queue"))
        {
            abandoned += 1;
        }
        let consumer = fork_child(|| {
            loop {
                match q.pop_timeout(Some(Duration::from_secs(60))) {
                    Ok(Some((_, v))) if v == b"after" => return 0,
                    Ok(Some((_, v))) => {
                        parse(&v);
                    }
                    other => {
                        eprintln!("round {round}: {other:?}");
                        return 1;
                    }
                }
            }
        });
        assert!(wait_until(Duration::from_secs(60), || q
            .stats()
            .unwrap()
            .pop_waiters
            == 1));
        q.push(b"z", b"after").unwrap();
        consumer.expect_success();
        if abandoned >= 20 {
            break;
        }
    }
    assert!(
        abandoned >= 10,
        "only {abandoned} kills left the queue's lock abandoned"
    );
    assert!(q.is_empty());
    assert!(q.verify().unwrap().is_clean());
    assert!(t.repair().after.is_clean());
}

#[test]
fn a_damaged_record_is_an_error_and_repair_removes_it() {
    let t = TestStore::new("pq-damage");
    let q = ten_items(&t);
    // Damage the value of the record of k03.
    let mut target = 0;
    SharedObject::owned_blocks(&q, &mut |b| {
        let mut head = [0u8; 27];
        if t.read_bytes(b, &mut head).is_ok() && &head[24..27] == b"k03" {
            target = b;
        }
    })
    .unwrap();
    assert_ne!(target, 0);
    t.write_bytes(target + RECORD_HEADER_LEN + 3 + 9, &[0xEE])
        .unwrap();
    let report = q.verify().unwrap();
    assert!(!report.is_clean(), "{report:?}");
    assert_eq!(q.items().unwrap_err().kind(), ErrorKind::Corrupt);
    for i in 0..3u32 {
        assert_eq!(parse(&q.pop().unwrap().unwrap().1), (0, i));
    }
    let e = q.pop().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Corrupt);
    assert_eq!(q.len(), 7, "a failed pop changed nothing");
    let repaired = q.repair().unwrap();
    assert!(repaired.is_clean(), "{repaired:?}");
    assert!(
        repaired.repaired.iter().any(|r| r.contains("damaged")),
        "{repaired:?}"
    );
    assert_eq!(q.len(), 6);
    assert_eq!(drain_seqs(&q), (4..10).collect::<Vec<_>>());
    // The dropped record is nobody's now: the store's repair frees it.
    assert!(t.repair().after.is_clean());
}

#[test]
fn an_array_with_a_damaged_header_is_refused_and_repair_replaces_it() {
    let t = TestStore::new("pq-array-damage");
    let q = ten_items(&t);
    let array = Raw::new(&t, &q).root.array.load(Ordering::SeqCst);
    t.write_bytes(array, b"garbage!").unwrap();
    assert_eq!(q.pop().unwrap_err().kind(), ErrorKind::Corrupt);
    assert_eq!(q.push(b"x", b"").unwrap_err().kind(), ErrorKind::Corrupt);
    let report = t.repair();
    assert!(report.after.is_clean(), "{report:?}");
    q.push(b"new", b"1").unwrap();
    assert_eq!(q.items().unwrap(), vec![(b"new".to_vec(), b"1".to_vec())]);
}

#[test]
fn a_push_whose_sift_meets_a_damaged_record_commits_and_the_heap_is_rebuilt_without_it() {
    // Keys sharing their first 8 bytes make every comparison read full keys from the
    // records. The top record's key length is damaged: a push of a smaller key commits,
    // then fails in its sift when it reads that key; the same lock hold rebuilds the heap
    // from the intent (dropping the damaged record), so the push succeeds and the queue
    // stays usable.
    let t = TestStore::new("pq-sift-damage");
    let q = t.priority_queue("q").unwrap();
    for i in 1..=20u32 {
        q.push(format!("samekey-{i:02}").as_bytes(), &value(0, i, 8))
            .unwrap();
    }
    let raw = Raw::new(&t, &q);
    let top = raw.entry(0).rec.load(Ordering::SeqCst);
    let header: &RecordHeader = t.get(top).unwrap();
    header.key_len.store(u32::MAX, Ordering::SeqCst);
    q.push(b"samekey-00", &value(0, 0, 8)).unwrap();
    assert_eq!(q.len(), 20, "one pushed, the damaged one dropped");
    assert_eq!(q.stats().unwrap().recoveries, 1);
    assert!(q.verify().unwrap().is_clean());
    let order: Vec<u32> = std::iter::from_fn(|| q.pop().unwrap())
        .map(|(_, v)| parse(&v).1)
        .collect();
    assert_eq!(order, [0].into_iter().chain(2..=20).collect::<Vec<_>>());
    // The dropped record is nobody's now: the store's repair frees it.
    assert_eq!(t.find_unreachable().unwrap().unreachable, vec![top]);
    assert!(t.repair().after.is_clean());
}
