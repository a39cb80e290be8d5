//! The conformance suite: what every kind of shared object must do, run for each kind by one
//! line at the bottom (`conformance!(Kind, module_name)`). A new kind implements
//! [`Subject`] (how to create a small one, one random write, one oversized write) and adds
//! its line.
//!
//! Each kind must:
//! - check clean when fresh, through its own check and the whole-store check;
//! - after random churn, own exactly the blocks in use: the directory plus every object's
//!   owned blocks account for every allocated block (no leak, nothing unaccounted);
//! - survive SIGKILLs of a writer at random points (at least 200, many inside a critical
//!   section — the test counts them): `Store::repair` leaves a clean store (no leaked block
//!   either), and a second repair changes nothing;
//! - show the same item count to a forked child;
//! - give typed errors for bad input: the name holding another kind (`WrongKind`), an
//!   oversized write (`InvalidArgument`), a missing object (`ObjectNotFound`).
//!
//! A fixed-size hash map runs the suite as a kind of its own ([`FixedMap`]): its records
//! live in per-shard slabs instead of allocator blocks, so its owned blocks, its repair
//! after kills and its leak accounting are different code.

mod common;

use common::{Rng, TestStore, fork_child, wait_until, watchdog};
use shmkit::collections::object::{CheckMode, Collection, Item, ObjectLock, SharedObject};
use shmkit::maintenance::check::{Finding, Severity, Unreachable};
use shmkit::{
    Array, AtomicVector, Deque, DequeOptions, End, ErrorKind, HashMap, HashMapOptions, MapError,
    MapReport, MapStats, ObjectKind, OrderedMap, PriorityQueue, PriorityQueueOptions, Store,
};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// What the suite needs to know about a kind.
trait Subject: Collection {
    /// Creates (or opens) a small instance named `name`.
    fn create_small(store: &Store, name: &str) -> Self;
    /// One random write (insert, overwrite, remove, ...), numbered `step`.
    fn random_write(&self, rng: &mut Rng, step: u64);
    /// A write too large for the object; must fail.
    fn oversized_write(&self) -> Result<(), Self::Error>;
    /// Whether 200 kills of a writer must leave at least one leaked block: true for a kind
    /// whose writes allocate all the time (a map's records), false for one that allocates
    /// rarely (a vector allocates only when growth adds a segment, some twenty times in the
    /// whole test), where a kill lands in that window by chance only. Such a kind's kills
    /// are still repaired and checked leak-free after each one; the sweep itself is the
    /// store's and is exercised by the kinds that must leak.
    const KILLS_MUST_LEAK: bool = true;
    /// Whether the kind has robust locks of its own (an array has none: its header never
    /// changes and its elements are plain memory).
    const HAS_LOCKS: bool = true;
}

impl Subject for HashMap {
    fn create_small(store: &Store, name: &str) -> HashMap {
        let options = HashMapOptions {
            shards: 4,
            initial_capacity: 0,
            fixed_size: None,
        };
        store.open_or_create_object(name, &options).unwrap()
    }

    fn random_write(&self, rng: &mut Rng, step: u64) {
        let key = format!("k{}", rng.below(400));
        let value = vec![step as u8; rng.below(300) as usize];
        match rng.below(10) {
            0..=4 => self.set(key.as_bytes(), &value).map(drop),
            5 => self.incr_i64(b"counter", 1).map(drop),
            6 => self
                .compare_and_set(key.as_bytes(), None, Some(&value))
                .map(drop),
            7 if rng.below(50) == 0 => self.clear(),
            _ => self.delete(key.as_bytes()).map(drop),
        }
        .unwrap();
    }

    fn oversized_write(&self) -> Result<(), shmkit::MapError> {
        // A key longer than the maximum is refused before anything is read or allocated.
        self.set(
            huge_zeros(shmkit::collections::hash_map::MAX_KEY_LEN + 1),
            b"",
        )
    }
}

/// A fixed-size hash map (8-byte keys and values) as a kind of its own: a
/// [`Collection`] that delegates everything to the [`HashMap`] it wraps.
#[derive(Debug)]
struct FixedMap(HashMap);

impl Collection for FixedMap {
    const KIND: ObjectKind = ObjectKind::HashMap;
    type Options = HashMapOptions;
    type Error = MapError;
    type Stats = MapStats;
    type Report = MapReport;

    fn open_at(store: &Store, name: &str, root: u64) -> Result<FixedMap, MapError> {
        HashMap::open_at(store, name, root).map(FixedMap)
    }
    fn open_or_create(
        store: &Store,
        name: &str,
        options: &HashMapOptions,
    ) -> Result<FixedMap, MapError> {
        HashMap::open_or_create(store, name, options).map(FixedMap)
    }
    fn object_name(&self) -> &str {
        self.0.object_name()
    }
    fn root(&self) -> u64 {
        self.0.root()
    }
    fn item_count(&self) -> Option<u64> {
        Collection::item_count(&self.0)
    }
    fn check(&self, mode: CheckMode) -> Result<MapReport, MapError> {
        Collection::check(&self.0, mode)
    }
    fn statistics(&self) -> Result<MapStats, MapError> {
        self.0.statistics()
    }
    fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), MapError> {
        Collection::owned_blocks(&self.0, f)
    }
    fn locks(&self) -> Vec<ObjectLock<'_>> {
        Collection::locks(&self.0)
    }
    fn for_each_item(&self, f: &mut dyn FnMut(Item) -> bool) -> Result<(), MapError> {
        Collection::for_each_item(&self.0, f)
    }
}

impl Subject for FixedMap {
    // Its writes take records from the shard's slab: the allocator is called only for a
    // new chunk or table (and by clear), so a kill leaks a block by chance only.
    const KILLS_MUST_LEAK: bool = false;

    fn create_small(store: &Store, name: &str) -> FixedMap {
        let options = common::fixed_options(4, 8, 8);
        let map: HashMap = store.open_or_create_object(name, &options).unwrap();
        assert!(map.fixed_size().is_some(), "a fixed-size map");
        FixedMap(map)
    }

    fn random_write(&self, rng: &mut Rng, step: u64) {
        // 400 keys, removes nearly as likely as inserts, and a clear now and then: records
        // go onto the free lists and are taken back all the time, slabs grow new chunks
        // and clear gives them back.
        let map = &self.0;
        let key = rng.below(400).to_le_bytes();
        let value = step.to_le_bytes();
        match rng.below(20) {
            0..=6 => map.set(&key, &value),
            7 => map.incr_i64(&key, 1).map(drop),
            8 => map.insert(&key, &value).map(drop),
            9 | 10 => map.compare_and_set(&key, None, Some(&value)).map(drop),
            11 => map
                .set_many(&[(&key[..], &value[..]), (&1u64.to_le_bytes(), &value[..])])
                .map(drop),
            12 => map
                .remove_many(&[&key[..], &2u64.to_le_bytes()[..]])
                .map(drop),
            13 if rng.below(30) == 0 => map.clear(),
            _ => map.delete(&key).map(drop),
        }
        .unwrap();
    }

    fn oversized_write(&self) -> Result<(), MapError> {
        // A value longer than the map's value size is refused before anything is locked.
        self.0.set(&7u64.to_le_bytes(), &[0u8; 9])
    }
}

impl Subject for AtomicVector {
    const KILLS_MUST_LEAK: bool = false;

    fn create_small(store: &Store, name: &str) -> AtomicVector {
        store.atomic_vector(name, 8).unwrap()
    }

    fn random_write(&self, rng: &mut Rng, step: u64) {
        // Growth is the vector's only multi-step write (and the only one that allocates or
        // locks), so it is a large share of the mix: kills land inside `expand`.
        let len = self.len();
        let i = rng.below(len);
        match rng.below(10) {
            0..=3 => self.expand(len + 1 + rng.below(32)),
            4 => self.fetch_add(i, 1).map(drop),
            5 => self.store(i, step as i64),
            6 => self.compare_exchange(i, 0, step as i64).map(drop),
            7 => self.set_bit(rng.below(len * 64)).map(drop),
            8 => self.flip_bit(rng.below(len * 64)).map(drop),
            _ => self.fetch_xor(i, rng.next() as i64).map(drop),
        }
        .unwrap();
    }

    fn oversized_write(&self) -> Result<(), shmkit::VectorError> {
        // A length past the maximum is refused before anything is locked or allocated.
        self.expand(shmkit::collections::atomic_vector::MAX_LEN + 1)
    }
}

impl Subject for Deque {
    // A deque allocates only when its ring grows or shrinks.
    const KILLS_MUST_LEAK: bool = false;

    fn create_small(store: &Store, name: &str) -> Deque {
        let options = DequeOptions {
            initial_bytes: 1024,
            ..DequeOptions::default()
        };
        store.deque_with(name, &options).unwrap()
    }

    fn random_write(&self, rng: &mut Rng, step: u64) {
        // Items of up to 1.5 KiB in a 1 KiB ring, pushes a little more likely than pops
        // and a clear now and then: the ring grows and shrinks often, so kills land in
        // resizes as well as in pushes and pops.
        let item = vec![step as u8; rng.below(1500) as usize];
        let end = if rng.below(2) == 0 {
            End::Front
        } else {
            End::Back
        };
        match rng.below(20) {
            0..=5 => self.push_back(&item),
            6..=8 => self.push_front(&item),
            9 => self
                .push_back_many(&[&item[..], b"x", b"yy"], None)
                .map(drop),
            10..=13 => self.pop_front().map(drop),
            14..=16 => self.pop_back().map(drop),
            17 | 18 => self.pop_many(end, 3, Some(Duration::ZERO)).map(drop),
            _ if rng.below(10) == 0 => self.clear().map(drop),
            _ => self.pop_front().map(drop),
        }
        .unwrap();
    }

    fn oversized_write(&self) -> Result<(), shmkit::DequeError> {
        // An item past the maximum is refused before anything is locked.
        self.push_back(huge_zeros(shmkit::collections::deque::MAX_ITEM_LEN + 1))
    }
}

impl Subject for PriorityQueue {
    // Every push allocates its record before taking the lock and every pop frees its
    // record after releasing it: kills land between allocation and publication (or
    // unlinking and freeing) all the time.
    const KILLS_MUST_LEAK: bool = true;

    fn create_small(store: &Store, name: &str) -> PriorityQueue {
        let options = PriorityQueueOptions {
            initial_capacity: 16,
            ..PriorityQueueOptions::default()
        };
        store.priority_queue_with(name, &options).unwrap()
    }

    fn random_write(&self, rng: &mut Rng, step: u64) {
        // Keys with ties and shared 8-byte prefixes, pushes a little more likely than
        // pops, batches and a clear now and then: the heap array grows and shrinks, so
        // kills land in pushes, pops, sifts, resizes and the rebuilds that follow a kill.
        let key = format!("priority-{:02}", rng.below(40));
        let value = vec![step as u8; rng.below(300) as usize];
        match rng.below(20) {
            0..=7 => self.push(key.as_bytes(), &value),
            8 | 9 => self
                .push_many(&[
                    (key.as_bytes(), &value[..]),
                    (b"p", b"x"),
                    (b"priority-", b""),
                ])
                .map(drop),
            10..=15 => self.pop().map(drop),
            16 | 17 => self.pop_many(4).map(drop),
            18 => self.peek().map(drop),
            _ if rng.below(10) == 0 => self.clear().map(drop),
            _ => self.pop().map(drop),
        }
        .unwrap();
    }

    fn oversized_write(&self) -> Result<(), shmkit::PriorityQueueError> {
        // A value past the maximum is refused before anything is allocated or locked.
        self.push(
            b"k",
            huge_zeros(shmkit::collections::priority_queue::MAX_VALUE_LEN + 1),
        )
    }
}

impl Subject for Array {
    const HAS_LOCKS: bool = false;

    fn create_small(store: &Store, name: &str) -> Array {
        store.array(name, "q", &[64]).unwrap()
    }

    fn random_write(&self, rng: &mut Rng, step: u64) {
        // Creation is an array's only multi-step write (allocation, zeroing, publishing in
        // the directory), so one write in 32 creates a sibling array: kills land in it.
        // (Not more: arrays are never removed, and every check visits them all.)
        match rng.below(32) {
            0 => {
                let name = format!("{}-{:x}", self.name(), rng.next());
                let len = 1 + rng.below(300);
                self.store_handle()
                    .array(&name, "T{q:a:d:b:}", &[len])
                    .map(drop)
            }
            1..=16 => self.write(rng.below(64), &step.to_le_bytes()),
            _ => self.atomics::<AtomicI64>().map(|cells| {
                cells[rng.below(64) as usize].fetch_add(1, Ordering::Relaxed);
            }),
        }
        .unwrap();
    }

    fn oversized_write(&self) -> Result<(), shmkit::ArrayError> {
        // Eight elements from index 60 of 64: refused before anything is written.
        self.write_range(60, &[0u8; 64])
    }
}

impl Subject for OrderedMap {
    fn create_small(store: &Store, name: &str) -> OrderedMap {
        store.ordered_map(name).unwrap()
    }

    fn random_write(&self, rng: &mut Rng, step: u64) {
        // Enough keys for a tree of three levels, values of mixed sizes, removes nearly as
        // likely as sets, pops and a clear now and then: kills land in splits, merges,
        // root changes, the finishing of a commit and the settling after a kill.
        let key = format!("key-{:05}", rng.below(3000));
        let value = vec![step as u8; rng.below(200) as usize];
        match rng.below(20) {
            0..=8 => self.set(key.as_bytes(), &value),
            9..=15 => self.delete(key.as_bytes()).map(drop),
            16 => self
                .compare_and_set(key.as_bytes(), None, Some(&value))
                .map(drop),
            17 => self.pop_end(step % 2 == 0).map(drop),
            18 => self
                .incr(b"counter", shmkit::value::arith::Addend::Int(&[1]))
                .map(drop),
            _ if rng.below(100) == 0 => self.clear(),
            _ => self.get(key.as_bytes()).map(drop),
        }
        .unwrap();
    }

    fn oversized_write(&self) -> Result<(), shmkit::OrderedMapError> {
        self.set(
            b"k",
            huge_zeros(shmkit::collections::ordered_map::MAX_VALUE_LEN + 1),
        )
    }
}

/// `len` zero bytes of address space only (a private, unreserved mapping): for arguments
/// too large to allocate, which must be refused by their length alone. Leaked on purpose.
fn huge_zeros(len: u64) -> &'static [u8] {
    // SAFETY: a fresh anonymous private mapping, readable for its whole length (pages are
    // zero-filled on first touch; NORESERVE commits no memory); never unmapped, so the
    // 'static slice stays valid.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            len as usize,
            libc::PROT_READ,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        );
        assert_ne!(p, libc::MAP_FAILED, "mmap of {len} bytes");
        std::slice::from_raw_parts(p as *const u8, len as usize)
    }
}

/// Asserts the whole store is clean and every used block is accounted for.
fn assert_store_clean(store: &Store, context: &str) {
    let report = store.check();
    assert!(report.is_clean(), "{context}: {:#?}", report.findings);
    let leaks = report.leaks.as_ref().expect("leak analysis ran");
    assert!(leaks.complete, "{context}: {leaks:?}");
    assert!(leaks.unreachable.is_empty(), "{context}: {leaks:?}");
}

fn fresh_object_checks_clean<T: Subject>() {
    let t = TestStore::new("conformance-fresh");
    let object = T::create_small(&t, "obj");
    let report: shmkit::collections::object::ObjectReport =
        SharedObject::check(&object, CheckMode::Verify).unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert!(report.repaired.is_empty(), "{report:?}");
    assert_eq!(SharedObject::kind(&object), T::KIND);
    assert_store_clean(&t, "fresh");
    // Every lock of the object is reported, none abandoned.
    let locks = SharedObject::locks(&object);
    assert_eq!(!locks.is_empty(), T::HAS_LOCKS);
    let states = t.lock_states();
    assert_eq!(
        states
            .iter()
            .filter(|l| l.name.starts_with(&format!("{} \"obj\"", T::KIND.name())))
            .count(),
        locks.len()
    );
}

fn churn_leaves_no_leak<T: Subject>() {
    let t = TestStore::new("conformance-churn");
    let object = T::create_small(&t, "obj");
    let mut rng = Rng::new(0x5eed_0001);
    for step in 0..5_000 {
        object.random_write(&mut rng, step);
    }
    assert_store_clean(&t, "after churn");
    // Owned blocks are a proper part of the used ones (the rest: the directory's
    // pages); the leak analysis above found nothing unaccounted.
    let mut owned = 0u64;
    SharedObject::owned_blocks(&object, &mut |_| owned += 1).unwrap();
    let used = t.verify_allocator().unwrap().used_blocks;
    assert!(owned > 0 && owned < used, "owned {owned}, used {used}");
    // A block allocated and never published is found, and only it.
    let stray = t.alloc(100).unwrap();
    let leaks = t.find_unreachable().unwrap();
    assert_eq!(leaks.unreachable, vec![stray]);
    let report = t.check();
    assert!(!report.is_clean());
    assert!(
        report.findings.iter().any(|f| matches!(
            f,
            Finding::UnreachableBlocks {
                blocks: 1,
                status: Unreachable::Leaked,
                ..
            }
        )),
        "{:#?}",
        report.findings
    );
    let repair = t.repair();
    assert!(repair.after.is_clean(), "{repair:?}");
    assert_eq!(t.verify_allocator().unwrap().used_blocks, used);
}

fn repair_after_kills<T: Subject>() {
    const KILLS: u32 = 200;
    let _dog = watchdog(600);
    let t = TestStore::new("conformance-kills");
    let object = T::create_small(&t, "obj");
    let mut rng = Rng::new(0x5eed_0002);
    let mut abandoned_after_kill = 0;
    let mut leaked_after_kill = 0;
    for kill in 0..KILLS {
        let seed = rng.next();
        let started = t.hash_map("conformance-signals").unwrap();
        started.delete(b"started").unwrap();
        let child = fork_child(|| {
            let mut rng = Rng::new(seed | 1);
            let mut step = 0;
            loop {
                object.random_write(&mut rng, step);
                if step == 0 {
                    started.set(b"started", b"1").unwrap();
                }
                step += 1;
            }
        });
        assert!(
            wait_until(Duration::from_secs(60), || started
                .contains_key(b"started")
                .unwrap()),
            "kill {kill}: the writer never started"
        );
        // A random point in the writer's loop: most of it is inside a critical section.
        std::thread::sleep(Duration::from_micros(rng.below(2_000)));
        child.kill_and_wait();
        if t.lock_states().iter().any(|l| l.is_abandoned()) {
            abandoned_after_kill += 1;
        }
        let repair = t.repair();
        assert!(
            repair.after.is_clean(),
            "kill {kill}: {:#?}\n{:#?}",
            repair.not_repaired,
            repair.after.findings
        );
        if repair.repaired.iter().any(|r| r.contains("leaked block")) {
            leaked_after_kill += 1;
        }
        let again = t.repair();
        assert!(
            again.repaired.is_empty() && again.not_repaired.is_empty(),
            "kill {kill}: a second repair changed something: {again:?}"
        );
        assert!(
            !again
                .after
                .findings
                .iter()
                .any(|f| matches!(f, Finding::UnreachableBlocks { .. })),
            "kill {kill}"
        );
    }
    assert!(
        leaked_after_kill > 0 || !T::KILLS_MUST_LEAK,
        "no kill left a leaked block: the sweep was not exercised"
    );
    assert!(
        abandoned_after_kill >= KILLS / 10,
        "only {abandoned_after_kill} of {KILLS} kills landed inside a critical section"
    );
    eprintln!(
        "{KILLS} kills: {abandoned_after_kill} left an abandoned lock, {leaked_after_kill} leaked blocks, {} objects",
        t.objects().unwrap().len()
    );
    assert_store_clean(&t, "after the kills");
}

fn forked_child_sees_the_same_count<T: Subject>() {
    let t = TestStore::new("conformance-fork");
    let object = T::create_small(&t, "obj");
    let mut rng = Rng::new(0x5eed_0003);
    for step in 0..500 {
        object.random_write(&mut rng, step);
    }
    let count = SharedObject::item_count(&object);
    let name = t.name().to_string();
    fork_child(move || {
        let inherited = SharedObject::item_count(&object);
        let reopened = Store::open(&name)
            .ok()
            .and_then(|s| T::open(&s, "obj").ok())
            .and_then(|o| SharedObject::item_count(&o));
        i32::from(!(inherited == count && reopened == count))
    })
    .expect_success();
}

fn bad_input_gets_typed_errors<T: Subject>() {
    let t = TestStore::new("conformance-errors");
    t.object_or_create("raw", ObjectKind::Raw, |s| s.alloc(64))
        .unwrap();
    let wrong: shmkit::Error = T::open(&t, "raw").unwrap_err().into();
    assert_eq!(wrong.kind(), ErrorKind::WrongKind, "{wrong}");
    let wrong: shmkit::Error = T::open_or_create(&t, "raw", &Default::default())
        .unwrap_err()
        .into();
    assert_eq!(wrong.kind(), ErrorKind::WrongKind, "{wrong}");
    let missing: shmkit::Error = T::open(&t, "absent").unwrap_err().into();
    assert_eq!(missing.kind(), ErrorKind::ObjectNotFound, "{missing}");
    let object = T::create_small(&t, "obj");
    let before = t.verify_allocator().unwrap().used_blocks;
    let oversized: shmkit::Error = object.oversized_write().unwrap_err().into();
    assert_eq!(oversized.kind(), ErrorKind::InvalidArgument, "{oversized}");
    assert_eq!(
        t.verify_allocator().unwrap().used_blocks,
        before,
        "a refused write allocated"
    );
    assert_eq!(t.check().count(Severity::Problem), 0);
}

/// Runs the suite for one kind.
macro_rules! conformance {
    ($kind:ty, $module:ident) => {
        mod $module {
            #[test]
            fn fresh_object_checks_clean() {
                super::fresh_object_checks_clean::<$kind>();
            }
            #[test]
            fn churn_leaves_no_leak() {
                super::churn_leaves_no_leak::<$kind>();
            }
            #[test]
            fn repair_after_kills() {
                super::repair_after_kills::<$kind>();
            }
            #[test]
            fn forked_child_sees_the_same_count() {
                super::forked_child_sees_the_same_count::<$kind>();
            }
            #[test]
            fn bad_input_gets_typed_errors() {
                super::bad_input_gets_typed_errors::<$kind>();
            }
        }
    };
}

conformance!(shmkit::HashMap, hash_map);
conformance!(super::FixedMap, fixed_hash_map);
conformance!(shmkit::AtomicVector, atomic_vector);
conformance!(shmkit::Array, array);
conformance!(shmkit::Deque, deque);
conformance!(shmkit::PriorityQueue, priority_queue);
conformance!(shmkit::OrderedMap, ordered_map);
