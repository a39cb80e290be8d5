//! Damage to the store layer's own structures, at library level: the allocator's free lists,
//! the size-class table and directory entries are overwritten the way a stray write or a
//! broken process would leave them (layouts in docs/FORMAT.md). For each: operations return
//! errors (never fault, never hang: every test has a watchdog), `verify` reports the damage,
//! `repair` (where it handles that damage) leaves a clean store, and nothing live is lost —
//! a hash map and raw blocks written before the damage read back exactly, and blocks handed
//! out afterwards never overlap them (each is scribbled over before the live data is checked).

mod common;

use common::{TestStore, watchdog};
use shmkit::store::alloc::{BlockHeader, SizeClass, TAG_FREE, TAG_USED};
use shmkit::store::alloc_classes::{BLOCK_HEADER_LEN, CLASS_COUNT, capacity_of, class_for};
use shmkit::store::directory::{DirectoryEntry, DirectoryPage, ENTRIES_PER_PAGE};
use shmkit::store::header::StoreHeader;
use shmkit::store::registry::owner_id;
use shmkit::{AllocError, DirectoryError, FreeError, ObjectKind, VerifyReport};
use std::collections::HashSet;
use std::sync::atomic::Ordering;

const ENTRIES: u64 = 300;
/// Payload sizes of the raw blocks (four classes, two of them carved many at a time).
const SIZES: [u64; 4] = [24, 100, 1000, 20_000];
/// The class whose free list most tests damage.
const SIZE: u64 = 100;

fn key(i: u64) -> Vec<u8> {
    format!("key-{i}").into_bytes()
}

fn value(i: u64) -> Vec<u8> {
    let mut v = i.to_le_bytes().to_vec();
    v.resize(8 + (i % 40) as usize, (i % 251) as u8);
    v
}

fn pattern(seed: u64, len: u64) -> Vec<u8> {
    (0..len)
        .map(|j| (seed.wrapping_mul(31) ^ j.wrapping_mul(7)) as u8)
        .collect()
}

/// A store with live data (a hash map and raw blocks of several classes, one of them
/// published as an object) and non-empty free lists in the raw blocks' classes.
struct Fixture {
    t: TestStore,
    /// Live raw blocks (payload offsets) and their contents.
    blocks: Vec<(u64, Vec<u8>)>,
}

impl Fixture {
    fn new(test: &str) -> Fixture {
        let t = TestStore::new(test);
        let map = t.map(4);
        for i in 0..ENTRIES {
            map.set(&key(i), &value(i)).unwrap();
        }
        let (mut blocks, mut freed) = (Vec::new(), Vec::new());
        for i in 0..64u64 {
            let size = SIZES[(i % 4) as usize];
            let off = t.alloc(size).unwrap();
            let data = pattern(i, size);
            t.write_bytes(off, &data).unwrap();
            if i % 8 < 4 {
                blocks.push((off, data));
            } else {
                freed.push(off);
            }
        }
        for off in freed {
            t.free(off).unwrap();
        }
        // One raw block is also a published object.
        let raw = blocks[0].0;
        assert_eq!(
            t.object_or_create("raw", ObjectKind::Raw, |_| Ok(raw))
                .unwrap(),
            raw
        );
        let f = Fixture { t, blocks };
        let report = f.t.verify_allocator().unwrap();
        assert!(
            report.is_clean() && report.leaked_free_blocks == 0,
            "{report:?}"
        );
        f
    }

    fn class(&self, class: u32) -> &SizeClass {
        let table = self.t.header().class_table_offset;
        self.t
            .get::<SizeClass>(table + u64::from(class) * 64)
            .unwrap()
    }

    fn block(&self, block: u64) -> &BlockHeader {
        self.t.get::<BlockHeader>(block).unwrap()
    }

    /// The free list of `class`, block offsets from the head (it must be sound).
    fn free_list(&self, class: u32) -> Vec<u64> {
        let mut out = Vec::new();
        let mut node = self.class(class).free_head.load(Ordering::Acquire);
        while node != 0 {
            assert!(out.len() < 1_000_000, "free list of class {class} loops");
            out.push(node);
            node = self.block(node).link.load(Ordering::Acquire);
        }
        out
    }

    /// A live raw block of `size` bytes (payload offset).
    fn live_block(&self, size: u64) -> u64 {
        self.blocks
            .iter()
            .find(|(_, d)| d.len() as u64 == size)
            .unwrap()
            .0
    }

    /// Every live thing reads back as written.
    fn check_live(&self, when: &str) {
        for (off, data) in &self.blocks {
            let mut buf = vec![0u8; data.len()];
            self.t.read_bytes(*off, &mut buf).unwrap();
            assert!(buf == *data, "{when}: raw block {off} changed");
            assert_eq!(
                self.block(off - BLOCK_HEADER_LEN)
                    .tag
                    .load(Ordering::Relaxed),
                TAG_USED,
                "{when}: raw block {off} is no longer allocated"
            );
        }
        let map = self.t.open_hash_map("m").unwrap();
        assert_eq!(map.len(), ENTRIES, "{when}");
        for i in 0..ENTRIES {
            assert_eq!(
                map.get(&key(i)).unwrap(),
                Some(value(i)),
                "{when}: map key {i}"
            );
        }
        assert!(map.verify().unwrap().is_clean(), "{when}: map damaged");
        assert_eq!(
            self.t.object("raw", ObjectKind::Raw).unwrap(),
            self.blocks[0].0,
            "{when}: object lost"
        );
    }

    /// Allocates `n` blocks of each raw size, scribbles over them, checks nothing live
    /// changed, frees them, and checks the store is clean.
    fn churn(&self, n: usize, when: &str) {
        let live: HashSet<u64> = self.blocks.iter().map(|b| b.0).collect();
        let mut got = Vec::new();
        for size in SIZES {
            for _ in 0..n {
                let off = self
                    .t
                    .alloc(size)
                    .unwrap_or_else(|e| panic!("{when}: alloc({size}): {e}"));
                assert!(!live.contains(&off), "{when}: live block {off} handed out");
                self.t.write_bytes(off, &vec![0xEE; size as usize]).unwrap();
                got.push(off);
            }
        }
        let distinct: HashSet<u64> = got.iter().copied().collect();
        assert_eq!(
            distinct.len(),
            got.len(),
            "{when}: a block handed out twice"
        );
        self.check_live(when);
        for off in got {
            self.t.free(off).unwrap();
        }
        let report = self.t.verify_allocator().unwrap();
        assert!(report.is_clean(), "{when}: {report:?}");
    }

    /// `repair` fixes what `verify` reports: its report lists the damage it found and what
    /// it did; afterwards the store is clean, nothing is leaked, nothing live is lost, and
    /// the allocator works normally again.
    fn repair_and_check(&self, when: &str) -> VerifyReport {
        let found = self.t.verify_allocator().unwrap();
        let repaired = self.t.repair_allocator().unwrap();
        assert_eq!(
            repaired.problems, found.problems,
            "{when}: repair: {repaired:?}"
        );
        assert!(
            !repaired.repaired.is_empty(),
            "{when}: repair says what it did"
        );
        let after = self.t.verify_allocator().unwrap();
        assert!(after.is_clean(), "{when}: after repair: {after:?}");
        assert_eq!(after.leaked_free_blocks, 0, "{when}: {after:?}");
        assert_eq!(after.locks_needing_repair, 0, "{when}: {after:?}");
        self.check_live(when);
        self.churn(300, when);
        repaired
    }
}

/// The problems `report` lists at `offset`.
fn problems_at(report: &VerifyReport, offset: u64) -> Vec<&str> {
    report
        .problems
        .iter()
        .filter(|p| p.offset == offset)
        .map(|p| p.what.as_str())
        .collect()
}

fn is_corrupt<T>(r: &Result<T, AllocError>) -> bool {
    matches!(r, Err(AllocError::Corrupt { .. }))
}

#[test]
fn a_free_list_head_pointing_at_a_live_block() {
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-head-live");
    let class = class_for(SIZE).unwrap();
    let live = f.live_block(SIZE) - BLOCK_HEADER_LEN;
    f.class(class).free_head.store(live, Ordering::Release);

    // The allocator refuses to hand the live block out, every time; other classes work.
    for _ in 0..3 {
        let r = f.t.alloc(SIZE);
        assert!(is_corrupt(&r), "alloc from a damaged list: {r:?}");
    }
    let other = f.t.alloc(SIZES[0]).unwrap();
    f.t.free(other).unwrap();
    f.check_live("damaged");

    let report = f.t.verify_allocator().unwrap();
    assert!(!report.is_clean());
    assert_eq!(
        problems_at(&report, live),
        ["free list entry is not a free-tagged block"],
        "{report:?}"
    );
    let repaired = f.repair_and_check("repaired");
    // The blocks that were on the list before the damage are back on it.
    assert!(repaired.leaked_free_blocks > 0, "{repaired:?}");
}

#[test]
fn a_free_list_link_pointing_at_a_live_block() {
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-link-live");
    let class = class_for(SIZE).unwrap();
    let list = f.free_list(class);
    assert!(list.len() > 3);
    let live = f.live_block(SIZE) - BLOCK_HEADER_LEN;
    f.block(list[2]).link.store(live, Ordering::Release);

    // The three sound entries are handed out, then the allocator stops.
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(f.t.alloc(SIZE).unwrap());
    }
    assert_eq!(
        got,
        list[..3]
            .iter()
            .map(|b| b + BLOCK_HEADER_LEN)
            .collect::<Vec<_>>()
    );
    let r = f.t.alloc(SIZE);
    assert!(is_corrupt(&r), "alloc past the damaged link: {r:?}");
    for off in &got {
        f.t.write_bytes(*off, &[0xEE; SIZE as usize]).unwrap();
    }
    f.check_live("damaged");
    for off in got {
        f.t.free(off).unwrap();
    }

    let report = f.t.verify_allocator().unwrap();
    assert_eq!(
        problems_at(&report, live),
        ["free list entry is not a free-tagged block"],
        "{report:?}"
    );
    f.repair_and_check("repaired");
}

#[test]
fn a_free_list_cycle() {
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-cycle");
    let class = class_for(SIZE).unwrap();
    let list = f.free_list(class);
    let (first, last) = (list[0], *list.last().unwrap());
    f.block(last).link.store(first, Ordering::Release);

    let report = f.t.verify_allocator().unwrap();
    assert_eq!(
        problems_at(&report, first),
        ["free list entry seen twice (cycle or shared tail)"],
        "{report:?}"
    );
    // Every block on the list is handed out once; then the allocator meets the first one
    // again, now in use, and stops instead of handing it out a second time.
    let mut got = Vec::new();
    for _ in 0..list.len() {
        got.push(f.t.alloc(SIZE).unwrap());
    }
    let distinct: HashSet<u64> = got.iter().copied().collect();
    assert_eq!(distinct.len(), list.len());
    let r = f.t.alloc(SIZE);
    assert!(is_corrupt(&r), "alloc around the cycle: {r:?}");
    for off in &got {
        f.t.write_bytes(*off, &[0xEE; SIZE as usize]).unwrap();
    }
    f.check_live("damaged");
    for off in got {
        f.t.free(off).unwrap();
    }
    // Freed again, the blocks were pushed in front of the dangling head: repair cuts there.
    assert!(!f.t.verify_allocator().unwrap().is_clean());
    f.repair_and_check("repaired");
}

#[test]
fn free_list_entries_outside_the_heap() {
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-outside");
    let class = class_for(SIZE).unwrap();
    let reserved = f.t.reserved_len();
    // Misaligned inside the header page; past the committed length; past the reservation.
    for bad in [
        8,
        f.t.committed_len() + 4096,
        reserved + 4096,
        u64::MAX - 15,
    ] {
        let head = f.class(class).free_head.load(Ordering::Acquire);
        f.class(class).free_head.store(bad, Ordering::Release);
        let r = f.t.alloc(SIZE);
        assert!(is_corrupt(&r), "head {bad}: {r:?}");
        let report = f.t.verify_allocator().unwrap();
        assert_eq!(
            problems_at(&report, bad),
            ["free list entry is not a free-tagged block"],
            "head {bad}: {report:?}"
        );
        f.check_live("damaged");
        f.class(class).free_head.store(head, Ordering::Release);
    }
    // The same damage behind the head, then repaired.
    let list = f.free_list(class);
    f.block(list[0])
        .link
        .store(u64::MAX - 15, Ordering::Release);
    assert_eq!(f.t.alloc(SIZE).unwrap(), list[0] + BLOCK_HEADER_LEN);
    assert!(is_corrupt(&f.t.alloc(SIZE)));
    f.t.free(list[0] + BLOCK_HEADER_LEN).unwrap();
    assert!(!f.t.verify_allocator().unwrap().is_clean());
    f.repair_and_check("repaired");
}

#[test]
fn a_free_list_holding_a_block_of_another_class() {
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-other-class");
    let small = class_for(SIZES[0]).unwrap();
    let class = class_for(SIZE).unwrap();
    let big = class_for(SIZES[2]).unwrap();
    // A free block of a bigger class put at the head of this class's list; the list of a
    // smaller class made to share a tail with it.
    let stranger = f.free_list(big)[0];
    f.class(class).free_head.store(stranger, Ordering::Release);
    let small_list = f.free_list(small);
    f.block(small_list[0])
        .link
        .store(stranger, Ordering::Release);

    assert!(is_corrupt(&f.t.alloc(SIZE)));
    assert_eq!(
        f.t.alloc(SIZES[0]).unwrap(),
        small_list[0] + BLOCK_HEADER_LEN
    );
    assert!(is_corrupt(&f.t.alloc(SIZES[0])));
    f.t.free(small_list[0] + BLOCK_HEADER_LEN).unwrap();
    // The bigger class's own list is sound and still hands out its blocks.
    let own = f.t.alloc(SIZES[2]).unwrap();
    assert_eq!(own, stranger + BLOCK_HEADER_LEN);
    f.t.free(own).unwrap();
    f.check_live("damaged");

    let report = f.t.verify_allocator().unwrap();
    assert_eq!(
        problems_at(&report, stranger),
        [
            "free list entry of another class",
            "free list entry of another class"
        ],
        "{report:?}"
    );
    f.repair_and_check("repaired");
    // The stranger is still its own class's, once.
    assert_eq!(
        f.free_list(big).iter().filter(|&&b| b == stranger).count(),
        1
    );
}

#[test]
fn a_size_class_lock_held_by_an_owner_that_never_existed() {
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-class-lock");
    let class = class_for(SIZE).unwrap();
    let entry_offset = f.t.header().class_table_offset + u64::from(class) * 64;
    let slots = f.t.header().registry_slots;
    // Lock word: an owner in a registry slot nobody ever claimed, waiters bit set; state:
    // "a previous owner died". (Bytes 0..4 and 4..8 of the entry, docs/FORMAT.md.)
    let ghost = owner_id(slots - 1, 12345) | 1 << 31;
    f.t.write_bytes(entry_offset, &ghost.to_le_bytes()).unwrap();
    f.t.write_bytes(entry_offset + 4, &1u32.to_le_bytes())
        .unwrap();
    assert!(f.class(class).lock.owner().is_some());
    assert!(f.class(class).lock.needs_repair());

    // verify takes the lock over (no hang) and reports it.
    let report = f.t.verify_allocator().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.locks_needing_repair, 1, "{report:?}");
    assert_eq!(f.class(class).lock.owner(), None);
    // The next alloc of the class repairs it; nothing live was touched.
    let off = f.t.alloc(SIZE).unwrap();
    assert!(!f.class(class).lock.needs_repair());
    f.t.free(off).unwrap();
    assert_eq!(f.t.verify_allocator().unwrap().locks_needing_repair, 0);
    f.check_live("recovered");

    // Again, this time cleared by repair.
    f.t.write_bytes(entry_offset, &ghost.to_le_bytes()).unwrap();
    f.t.write_bytes(entry_offset + 4, &1u32.to_le_bytes())
        .unwrap();
    let repaired = f.repair_and_check("repaired");
    assert!(
        repaired
            .repaired
            .iter()
            .any(|r| r == "cleared a dead owner's allocator lock"),
        "{repaired:?}"
    );
}

/// Leaves `class`'s lock as a process that died holding it would: owned by an id nobody
/// holds (a registry slot never claimed), state "a previous owner died".
fn kill_class_lock_holder(f: &Fixture, class: u32) {
    let entry_offset = f.t.header().class_table_offset + u64::from(class) * 64;
    let ghost = owner_id(f.t.header().registry_slots - 1, 777);
    f.t.write_bytes(entry_offset, &ghost.to_le_bytes()).unwrap();
    f.t.write_bytes(entry_offset + 4, &1u32.to_le_bytes())
        .unwrap();
    assert!(f.class(class).lock.needs_repair());
}

#[test]
fn a_dead_holders_sound_free_list_is_kept_whole_by_the_recovering_alloc() {
    // The recovering alloc walks the list and recounts it (`repair_class`); a sound list must
    // come through whole: no block cut off (leaked) and the count exact.
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-recover-sound");
    let class = class_for(SIZE).unwrap();
    let list = f.free_list(class);
    assert!(list.len() >= 2, "the fixture frees blocks of this class");
    kill_class_lock_holder(&f, class);
    let off = f.t.alloc(SIZE).unwrap();
    assert_eq!(off, list[0] + BLOCK_HEADER_LEN, "the head is handed out");
    assert!(!f.class(class).lock.needs_repair());
    assert_eq!(f.free_list(class), list[1..]);
    assert_eq!(
        f.class(class).free_count.load(Ordering::Relaxed),
        list.len() as u64 - 1
    );
    let report = f.t.verify_allocator().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.leaked_free_blocks, 0, "{report:?}");
    f.check_live("recovered");
}

#[test]
fn a_dead_holders_looping_free_list_is_cut_by_the_recovering_alloc() {
    // The walk is bounded by the number of blocks the heap can hold, so a cycle ends it; the
    // list is cut there and every block is handed out at most once.
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-recover-cycle");
    let class = class_for(SIZE).unwrap();
    let list = f.free_list(class);
    f.block(*list.last().unwrap())
        .link
        .store(list[0], Ordering::Release);
    kill_class_lock_holder(&f, class);
    let first = f.t.alloc(SIZE).unwrap();
    assert!(!f.class(class).lock.needs_repair());
    let rest = f.free_list(class); // panics if it still loops
    assert!(rest.len() < list.len(), "cut: {rest:?}");
    assert_eq!(
        f.class(class).free_count.load(Ordering::Relaxed),
        rest.len() as u64,
        "the count is of the list as cut"
    );
    let mut got = vec![first];
    for _ in 0..rest.len() {
        got.push(f.t.alloc(SIZE).unwrap());
    }
    let distinct: HashSet<u64> = got.iter().copied().collect();
    assert_eq!(distinct.len(), got.len(), "a block was handed out twice");
    for off in &got {
        f.t.write_bytes(*off, &[0xEE; SIZE as usize]).unwrap();
    }
    f.check_live("recovered");
    for off in got {
        f.t.free(off).unwrap();
    }
    f.repair_and_check("repaired");
}

#[test]
fn a_dead_holders_free_list_reaching_a_block_of_another_class_is_cut_there() {
    // The recovering walk accepts only blocks tagged free AND of this class.
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-recover-other-class");
    let class = class_for(SIZE).unwrap();
    let big = class_for(SIZES[2]).unwrap();
    let list = f.free_list(class);
    let stranger = f.free_list(big)[0];
    f.block(list[0]).link.store(stranger, Ordering::Release);
    kill_class_lock_holder(&f, class);
    assert_eq!(f.t.alloc(SIZE).unwrap(), list[0] + BLOCK_HEADER_LEN);
    assert!(f.free_list(class).is_empty(), "cut after the head");
    assert_eq!(f.class(class).free_count.load(Ordering::Relaxed), 0);
    // The stranger stays its own class's, and is handed out there only.
    let next = f.t.alloc(SIZE).unwrap();
    assert_ne!(next, stranger + BLOCK_HEADER_LEN);
    assert_eq!(f.free_list(big)[0], stranger);
    f.t.free(next).unwrap();
    f.check_live("recovered");
    f.repair_and_check("repaired");
}

#[test]
fn size_class_counters_overwritten() {
    // The counters feed statistics only: allocation does not trust them, verify does not
    // count them as damage, and repair recounts them from the heap and the lists.
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-class-counts");
    let before = f.t.alloc_stats().unwrap();
    for size in SIZES {
        let e = f.class(class_for(size).unwrap());
        e.free_count.store(u64::MAX, Ordering::Relaxed);
        e.carved_count.store(1, Ordering::Relaxed);
    }
    assert_ne!(f.t.alloc_stats().unwrap(), before);
    for size in SIZES {
        let off = f.t.alloc(size).unwrap();
        f.t.write_bytes(off, &vec![0xEE; size as usize]).unwrap();
        f.t.free(off).unwrap();
    }
    f.check_live("damaged counters");
    assert!(f.t.verify_allocator().unwrap().is_clean());
    assert!(f.t.repair_allocator().unwrap().is_clean());
    assert_eq!(f.t.alloc_stats().unwrap(), before, "recounted");
    for size in SIZES {
        let class = class_for(size).unwrap();
        assert_eq!(
            f.class(class).free_count.load(Ordering::Relaxed),
            f.free_list(class).len() as u64
        );
    }
    f.churn(300, "recounted");
}

#[test]
fn a_size_class_entry_of_garbage() {
    // The whole 64-byte entry overwritten: lock word (an owner id of nobody), state, list
    // head, counters. verify takes the lock over and reports the list; the next alloc of
    // the class, recovering the lock, cuts the list and carves fresh blocks.
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-class-entry");
    let class = class_for(SIZE).unwrap();
    let entry_offset = f.t.header().class_table_offset + u64::from(class) * 64;
    let mut garbage = [0u8; 64];
    for (i, b) in garbage.iter_mut().enumerate() {
        *b = (i as u8).wrapping_mul(37) ^ 0x5A;
    }
    f.t.write_bytes(entry_offset, &garbage).unwrap();
    let head = f.class(class).free_head.load(Ordering::Relaxed);

    let report = f.t.verify_allocator().unwrap();
    assert_eq!(report.locks_needing_repair, 1, "{report:?}");
    assert_eq!(
        problems_at(&report, head),
        ["free list entry is not a free-tagged block"],
        "{report:?}"
    );
    f.check_live("damaged");
    f.churn(300, "recovered by alloc");
    let report = f.t.verify_allocator().unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.locks_needing_repair, 0, "{report:?}");
    assert!(
        report.leaked_free_blocks > 0,
        "the cut-off list: {report:?}"
    );
    f.repair_and_check("repaired");
}

#[test]
fn a_block_header_of_garbage_in_the_heap() {
    // A live block's header overwritten: the heap walk cannot go past it. Repair cannot
    // rebuild it; everything else stays usable and nothing live is lost.
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-block-header");
    let (victim, _) = f.blocks.last().cloned().unwrap();
    let header = f.block(victim - BLOCK_HEADER_LEN);
    header.class.store(CLASS_COUNT + 7, Ordering::Relaxed);
    assert!(matches!(f.t.free(victim), Err(FreeError::NotABlock(_))));
    assert!(f.t.block_capacity(victim).is_err());
    let report = f.t.verify_allocator().unwrap();
    assert_eq!(
        problems_at(&report, victim - BLOCK_HEADER_LEN),
        [format!("block class {}", CLASS_COUNT + 7)],
        "{report:?}"
    );
    let repaired = f.t.repair_allocator().unwrap();
    assert!(!repaired.is_clean(), "repair cannot rebuild a block header");
    // Everything but the victim is intact and the allocator still works.
    let f = Fixture {
        blocks: f.blocks[..f.blocks.len() - 1].to_vec(),
        ..f
    };
    f.check_live("after repair");
    for size in SIZES {
        let off = f.t.alloc(size).unwrap();
        f.t.write_bytes(off, &vec![0xEE; size as usize]).unwrap();
    }
    f.check_live("after allocations");

    let header = f.block(victim - BLOCK_HEADER_LEN);
    header
        .class
        .store(class_for(SIZES[3]).unwrap(), Ordering::Relaxed);
    header.tag.store(0xBAD, Ordering::Relaxed);
    assert!(matches!(f.t.free(victim), Err(FreeError::NotABlock(_))));
    let report = f.t.verify_allocator().unwrap();
    assert_eq!(
        problems_at(&report, victim - BLOCK_HEADER_LEN),
        ["block tag 0xbad"],
        "{report:?}"
    );
}

/// The directory entry of object `name` (on the first directory page).
fn directory_entry<'a>(t: &'a TestStore, name: &str) -> &'a DirectoryEntry {
    let header = t.get::<StoreHeader>(0).unwrap();
    let page = header.directory.0.first_page.load(Ordering::Acquire);
    for i in 0..ENTRIES_PER_PAGE {
        let at = page + 16 + i * 128;
        let e = t.get::<DirectoryEntry>(at).unwrap();
        let len = e.name_len.load(Ordering::Relaxed) as usize;
        let stored: Vec<u8> = e
            .name
            .iter()
            .flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes())
            .collect();
        if e.state.load(Ordering::Acquire) == 1 && &stored[..len] == name.as_bytes() {
            return e;
        }
    }
    panic!("no entry {name}");
}

#[test]
fn a_directory_entry_pointing_at_no_allocated_block() {
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-dir-root");
    let entry = directory_entry(&f.t, "m");
    let root = entry.root.load(Ordering::Relaxed);
    let freed = f.t.alloc(4096).unwrap();
    f.t.write_bytes(freed, &[0xEE; 4096]).unwrap();
    f.t.free(freed).unwrap();
    let heap_top =
        f.t.get::<StoreHeader>(0)
            .unwrap()
            .heap
            .0
            .heap_top
            .load(Ordering::Acquire);
    // A freed block; past the heap top; past the committed length; inside the header; 0.
    for bad in [freed, heap_top + 4096, f.t.committed_len() + 64, 512, 0] {
        entry.root.store(bad, Ordering::Release);
        let r = f.t.open_hash_map("m");
        assert!(
            r.is_err(),
            "root {bad}: opened {:?}",
            r.map(|m| m.root_offset())
        );
        let report = f.t.verify_allocator().unwrap();
        assert_eq!(report.problems.len(), 1, "root {bad}: {report:?}");
        assert!(
            report.problems[0].offset == bad
                && report.problems[0]
                    .what
                    .starts_with("object \"m\" points outside"),
            "root {bad}: {report:?}"
        );
        // The other object is unaffected.
        assert_eq!(f.t.object("raw", ObjectKind::Raw).unwrap(), f.blocks[0].0);
    }
    // Put back, everything is as before (the directory has no repair of its own).
    entry.root.store(root, Ordering::Release);
    assert!(f.t.verify_allocator().unwrap().is_clean());
    f.check_live("restored");
    f.churn(50, "restored");
}

#[test]
fn a_directory_entry_of_the_wrong_kind_or_name() {
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-dir-kind");
    let entry = directory_entry(&f.t, "m");
    entry.kind.store(77, Ordering::Release);
    assert!(matches!(
        f.t.object("m", ObjectKind::HashMap),
        Err(DirectoryError::WrongKind { .. })
    ));
    assert!(f.t.open_hash_map("m").is_err());
    assert!(f.t.hash_map("m").is_err(), "no second map under the name");
    entry
        .kind
        .store(ObjectKind::HashMap.code(), Ordering::Release);
    // A name length past the name field is cut to the field.
    entry.name_len.store(u32::MAX, Ordering::Release);
    let objects = f.t.objects().unwrap();
    assert!(objects.iter().all(|o| o.name.len() <= 96), "{objects:?}");
    assert!(f.t.verify_allocator().unwrap().is_clean());
    entry.name_len.store(1, Ordering::Release);
    f.check_live("restored");
}

#[test]
fn a_directory_chain_leading_outside_the_store() {
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-dir-chain");
    let header = f.t.get::<StoreHeader>(0).unwrap();
    let first = header.directory.0.first_page.load(Ordering::Acquire);
    let page = f.t.get::<DirectoryPage>(first).unwrap();
    for bad in [f.t.committed_len() + 4096, u64::MAX - 7, 12] {
        for damaged_first in [true, false] {
            if damaged_first {
                header.directory.0.first_page.store(bad, Ordering::Release);
            } else {
                page.next.store(bad, Ordering::Release);
            }
            assert!(f.t.objects().is_err(), "{bad}");
            assert!(f.t.object("m", ObjectKind::HashMap).is_err(), "{bad}");
            assert!(f.t.hash_map("new").is_err(), "{bad}");
            assert!(f.t.open_hash_map("m").is_err(), "{bad}");
            assert!(
                f.t.verify_allocator()
                    .is_err_and(|e| e.to_string().contains("outside")),
                "{bad}: verify reports the damage"
            );
            header
                .directory
                .0
                .first_page
                .store(first, Ordering::Release);
            page.next.store(0, Ordering::Release);
        }
    }
    assert!(f.t.verify_allocator().unwrap().is_clean());
    f.check_live("restored");
}

#[test]
fn a_directory_page_chain_that_loops() {
    // A page whose `next` points back at itself: lookups end (no hang) and still find
    // every object, and a new object can still be created. (verify does not look for
    // loops in the page chain.)
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-dir-loop");
    let header = f.t.get::<StoreHeader>(0).unwrap();
    let first = header.directory.0.first_page.load(Ordering::Acquire);
    f.t.get::<DirectoryPage>(first)
        .unwrap()
        .next
        .store(first, Ordering::Release);
    assert_eq!(f.t.object("raw", ObjectKind::Raw).unwrap(), f.blocks[0].0);
    f.check_live("looping directory");
    let other = f.t.hash_map("other").unwrap();
    other.set(b"k", b"v").unwrap();
    assert_eq!(
        f.t.open_hash_map("other")
            .unwrap()
            .get(b"k")
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
    assert!(f.t.objects().is_ok());
}

#[test]
fn fixture_sanity() {
    // The free lists the tests damage exist and are sound, and repair of a clean store
    // changes nothing.
    let _dog = watchdog(120);
    let f = Fixture::new("corrupt-sanity");
    for size in SIZES {
        let class = class_for(size).unwrap();
        assert!(!f.free_list(class).is_empty(), "class {class}");
        assert!(
            f.free_list(class)
                .iter()
                .all(|&b| f.block(b).tag.load(Ordering::Relaxed) == TAG_FREE)
        );
        assert!(capacity_of(class) >= size);
    }
    let repaired = f.t.repair_allocator().unwrap();
    assert!(
        repaired.is_clean() && repaired.repaired.is_empty(),
        "{repaired:?}"
    );
    f.check_live("clean");
}
