//! Array across real processes (fork): racing creators get one array and leak nothing,
//! atomic updates through `atomics` are exact, typed records written by one process are read
//! by another; bad input and damaged headers give typed errors, never a crash; the format
//! parser never panics.

mod common;

use common::{TestStore, fork_child, wait_until, watchdog};
use proptest::prelude::*;
use shmkit::collections::array::dtype::ElementType;
use shmkit::{Array, ArrayError, Element, ErrorKind};
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
struct Tick {
    price: f64,
    qty: i32,
    side: u8,
    _pad: [u8; 3],
}

impl Element for Tick {
    const FORMAT: &'static str = "T{d:price:i:qty:B:side:3x}";
}

/// Forks `n` children that start together (on a flag in a control array) and run
/// `work(p)`; each must exit with 0.
fn run_in_processes(t: &TestStore, n: u64, work: impl Fn(u64) -> i32) {
    let go = t.typed_array::<i64>("go", &[1]).unwrap();
    go.set(0, 0).unwrap();
    let children: Vec<_> = (0..n)
        .map(|p| {
            let go = go.clone();
            let work = &work;
            fork_child(move || {
                while go.get(0).unwrap() == 0 {
                    std::hint::spin_loop();
                }
                work(p)
            })
        })
        .collect();
    go.set(0, 1).unwrap();
    for c in children {
        c.expect_success();
    }
}

#[test]
fn racing_creators_get_one_array_and_leak_nothing() {
    let _dog = watchdog(300);
    for round in 0..20 {
        let t = TestStore::new("array-race");
        let name = t.name().to_string();
        let before = t.verify_allocator().unwrap().used_blocks;
        run_in_processes(&t, 4, |p| {
            let store = shmkit::Store::open(&name).unwrap();
            let a = store.typed_array::<i64>("a", &[4, 1000]).unwrap();
            a.set(p * 1000 + 999, p as i64 + 1).unwrap();
            0
        });
        let a = t.typed_array::<i64>("a", &[4, 1000]).unwrap();
        for p in 0..4 {
            assert_eq!(
                a.get(p * 1000 + 999).unwrap(),
                p as i64 + 1,
                "round {round}"
            );
        }
        // One array: its root and its element block, and no loser's block left behind.
        let report = t.check();
        assert!(report.is_clean(), "round {round}: {:#?}", report.findings);
        let leaks = report.leaks.expect("leak analysis ran");
        assert!(leaks.complete && leaks.unreachable.is_empty(), "{leaks:?}");
        assert_eq!(t.objects().unwrap().len(), 2); // "go" and "a"
        assert!(t.verify_allocator().unwrap().used_blocks >= before + 4);
    }
}

#[test]
fn four_processes_add_through_atomics_exactly() {
    let _dog = watchdog(300);
    const PER: i64 = 250_000;
    let t = TestStore::new("array-atomics");
    let a = t.array("counts", "q", &[8]).unwrap();
    run_in_processes(&t, 4, |p| {
        let cells = a.atomics::<AtomicI64>().unwrap();
        for _ in 0..PER {
            cells[0].fetch_add(1, Ordering::Relaxed);
            cells[1 + p as usize].fetch_add(2, Ordering::Relaxed);
        }
        0
    });
    let v = a.typed::<i64>().unwrap().to_vec().unwrap();
    assert_eq!(v, [4 * PER, 2 * PER, 2 * PER, 2 * PER, 2 * PER, 0, 0, 0]);
    // Only integers of the atomic's size may be viewed as atomics.
    assert!(a.atomics::<std::sync::atomic::AtomicI32>().is_err());
    let f = t.array("f", "d", &[8]).unwrap();
    assert!(f.atomics::<AtomicI64>().is_err());
}

#[test]
fn records_written_by_one_process_are_read_by_another() {
    let _dog = watchdog(120);
    let t = TestStore::new("array-records");
    let ticks = t.typed_array::<Tick>("ticks", &[1000]).unwrap();
    assert_eq!(ticks.array().itemsize(), 16);
    let name = t.name().to_string();
    fork_child(move || {
        let store = shmkit::Store::open(&name).unwrap();
        let ticks = store.open_array("ticks").unwrap().typed::<Tick>().unwrap();
        let batch: Vec<Tick> = (0..1000)
            .map(|i| Tick {
                price: 100.0 + i as f64 / 4.0,
                qty: -i,
                side: (i % 2) as u8,
                _pad: [0; 3],
            })
            .collect();
        ticks.write_from(0, &batch).unwrap();
        0
    })
    .expect_success();
    let all = ticks.to_vec().unwrap();
    for (i, tick) in all.iter().enumerate() {
        assert_eq!(tick.price, 100.0 + i as f64 / 4.0);
        assert_eq!((tick.qty, tick.side), (-(i as i32), (i % 2) as u8));
    }
    // The same bytes through the untyped API, and a range read.
    let mut two = [0u8; 32];
    assert_eq!(ticks.array().read_range(998, &mut two).unwrap(), 2);
    assert_eq!(&two[..8], &(100.0 + 998.0 / 4.0f64).to_le_bytes());
}

#[test]
fn mismatches_and_bad_input_are_typed_errors_and_create_nothing() {
    let t = TestStore::new("array-errors");
    let a = t.array("a", "<i8", &[3, 4]).unwrap();
    let kind = |e: ArrayError| shmkit::Error::from(e).kind();
    assert_eq!(
        kind(t.array("a", "d", &[3, 4]).unwrap_err()),
        ErrorKind::WrongType
    );
    assert!(matches!(
        t.array("a", "q", &[4, 3]),
        Err(ArrayError::ShapeMismatch { .. })
    ));
    // Other spellings of the same element type are the same type.
    for same in ["q", "=q", "l", "i8", "<q"] {
        assert!(t.array("a", same, &[3, 4]).is_ok(), "{same}");
    }
    assert!(matches!(t.open_array("b"), Err(ArrayError::Directory(_))));
    assert!(matches!(
        t.open_or_create_object::<Array>("b", &Default::default()),
        Err(ArrayError::NeedsType(_))
    ));
    for (format, shape) in [
        ("O", vec![1]),
        ("", vec![1]),
        ("T{}", vec![1]),
        ("0d", vec![1]),
        ("d", vec![1; 33]),
        ("d", vec![1 << 40, 1 << 40]),
        ("d", vec![1 << 38]), // 2 TiB: past the maximum
    ] {
        let e = t.array("b", format, &shape).unwrap_err();
        assert_eq!(kind(e), ErrorKind::InvalidArgument, "{format:?} {shape:?}");
    }
    // Larger than the store may grow to (64 GiB by default).
    let e = t.array("b", "B", &[100 << 30]).unwrap_err();
    assert_eq!(kind(e), ErrorKind::StoreFull);
    t.hash_map("m").unwrap();
    assert_eq!(
        kind(t.array("m", "d", &[1]).unwrap_err()),
        ErrorKind::WrongKind
    );
    // Indices and buffers.
    assert!(matches!(
        a.read(12, &mut [0; 8]),
        Err(ArrayError::IndexOutOfRange { index: 12, len: 12 })
    ));
    assert!(matches!(
        a.read(0, &mut [0; 7]),
        Err(ArrayError::BufferLength { .. })
    ));
    assert!(matches!(
        a.write(0, &[0; 16]),
        Err(ArrayError::BufferLength { .. })
    ));
    assert!(matches!(
        a.write_range(11, &[0; 16]),
        Err(ArrayError::IndexOutOfRange { .. })
    ));
    assert!(matches!(
        a.read_range(u64::MAX, &mut [0; 8]),
        Err(ArrayError::IndexOutOfRange { .. })
    ));
    assert_eq!(a.flat_index(&[2, 3]).unwrap(), 11);
    assert!(a.flat_index(&[3, 0]).is_err());
    assert!(a.flat_index(&[1]).is_err());
    assert!(a.typed::<f64>().is_err());
    assert!(a.typed::<i32>().is_err());
    assert_eq!(t.objects().unwrap().len(), 2); // "a" and "m": nothing else was created
    assert!(t.check().is_clean());
    // The limits themselves are allowed: 32 dimensions, and opened again as stored.
    let deep = t.array("deep", "d", &[1; 32]).unwrap();
    assert_eq!(t.open_array("deep").unwrap().shape(), deep.shape());
    assert_eq!(a.verify().unwrap().item_count, Some(12));
}

/// Offsets inside the root block (see `layout::ArrayRoot`).
const MAGIC_AT: u64 = 0;
const NDIM_AT: u64 = 12;
const ITEMSIZE_AT: u64 = 16;
const LEN_AT: u64 = 24;
const DATA_AT: u64 = 32;
const FORMAT_LEN_AT: u64 = 48;
const SHAPE_AT: u64 = 64;

#[test]
fn a_damaged_header_is_an_error_never_a_crash() {
    let t = TestStore::new("array-damaged");
    let a = t.array("a", "d", &[10, 10]).unwrap();
    let root = a.root_offset();
    let original = {
        let mut b = vec![0; 400];
        t.read_bytes(root, &mut b).unwrap();
        b
    };
    let damage: &[(u64, &[u8])] = &[
        (MAGIC_AT, &[0]),
        (NDIM_AT, &1000u32.to_le_bytes()),
        (NDIM_AT, &1u32.to_le_bytes()),
        (ITEMSIZE_AT, &4u64.to_le_bytes()),
        (LEN_AT, &u64::MAX.to_le_bytes()),
        (DATA_AT, &(u64::MAX - 63).to_le_bytes()),
        (DATA_AT, &(1u64 << 50).to_le_bytes()),
        (FORMAT_LEN_AT, &u32::MAX.to_le_bytes()),
        (FORMAT_LEN_AT, &0u32.to_le_bytes()),
        (SHAPE_AT, &u64::MAX.to_le_bytes()),
        (SHAPE_AT, &(1u64 << 40).to_le_bytes()),
        (320, b"O"),
    ];
    for (at, bytes) in damage {
        t.write_bytes(root + at, bytes).unwrap();
        let e = t.open_array("a").unwrap_err();
        assert_eq!(shmkit::Error::from(e).kind(), ErrorKind::Corrupt, "at {at}");
        // The handle opened before keeps its own checked copy; its check sees the damage.
        assert!(!a.verify().unwrap().is_clean(), "at {at}");
        assert!(!t.check().is_clean(), "at {at}");
        t.write_bytes(root, &original).unwrap();
        assert!(t.open_array("a").is_ok());
        assert!(a.verify().unwrap().is_clean());
    }
}

#[test]
fn the_element_block_must_be_allocated_and_large_enough() {
    let t = TestStore::new("array-block");
    // Ten elements (80 bytes) against a block of one (its capacity below 80, above 18): a
    // size check that added or divided instead of multiplying would let it through.
    let a = t.array("a", "d", &[10]).unwrap();
    let small = t.array("small", "d", &[1]).unwrap();
    let root = a.root_offset();
    let mut block = [0; 8];
    t.read_bytes(small.root_offset() + 40, &mut block).unwrap();
    // Point "a" at the one-element block of "small".
    let mut original = [0; 16];
    t.read_bytes(root + DATA_AT, &mut original).unwrap();
    let small_block = u64::from_le_bytes(block);
    let capacity = t.block_capacity(small_block).unwrap();
    let need = small_block.next_multiple_of(64) - small_block + 80;
    assert!(capacity < need && capacity >= need - 80 + 18, "{capacity}");
    t.write_bytes(
        root + DATA_AT,
        &small_block.next_multiple_of(64).to_le_bytes(),
    )
    .unwrap();
    t.write_bytes(root + DATA_AT + 8, &block).unwrap();
    // In bounds of the store, but not a block large enough: refused at open, so writes
    // through this array cannot land on "small" or beyond it.
    let e = t.open_array("a").unwrap_err();
    assert!(e.to_string().contains("needs"), "{e}");
    let report = a.verify().unwrap(); // the handle opened before sees the damage
    assert!(!report.problems.is_empty(), "{report:?}");
    // Pointing at the store's header (not a block) is refused too.
    t.write_bytes(root + DATA_AT, &0u64.to_le_bytes()).unwrap();
    t.write_bytes(root + DATA_AT + 8, &0u64.to_le_bytes())
        .unwrap();
    let e = t.open_array("a").unwrap_err();
    assert!(e.to_string().contains("not in an allocated block"), "{e}");
    t.write_bytes(root + DATA_AT, &original).unwrap();
    assert!(t.open_array("a").unwrap().verify().unwrap().is_clean());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn the_format_parser_never_panics(s in "[@=<>!^xTZ{}():,0-9a-zA-Z?]{0,40}") {
        if let Ok(t) = ElementType::parse(&s) {
            prop_assert!(t.itemsize() > 0);
            for f in t.fields() {
                prop_assert!(f.offset + f.len() <= t.itemsize(), "{s:?}: {f:?}");
            }
        }
    }

    #[test]
    fn plain_structures_place_fields_like_c(codes in proptest::collection::vec(0usize..6, 1..12)) {
        // '@' mode: each field at its natural alignment, the whole padded to the largest.
        let table = [("b", 1u64), ("h", 2), ("i", 4), ("q", 8), ("f", 4), ("d", 8)];
        let mut format = String::from("T{");
        let mut offset = 0u64;
        let mut align = 1u64;
        let mut expected = Vec::new();
        for (i, c) in codes.iter().enumerate() {
            let (code, size) = table[*c];
            offset = offset.next_multiple_of(size);
            align = align.max(size);
            expected.push(offset);
            offset += size;
            format.push_str(&format!("{code}:f{i}:"));
        }
        format.push('}');
        let t = ElementType::parse(&format).unwrap();
        let got: Vec<u64> = t.fields().iter().map(|f| f.offset).collect();
        prop_assert_eq!(got, expected);
        prop_assert_eq!(t.itemsize(), offset.next_multiple_of(align));
    }
}

#[test]
fn a_view_of_the_memory_sees_other_processes_writes() {
    let _dog = watchdog(120);
    let t = TestStore::new("array-ptr");
    let a = t.array("a", "q", &[16]).unwrap();
    let ptr = a.data_ptr();
    assert_eq!(ptr.as_ptr() as usize % 64, 0);
    let name = t.name().to_string();
    let child = fork_child(move || {
        let store = shmkit::Store::open(&name).unwrap();
        let a = store.typed_array::<i64>("a", &[16]).unwrap();
        a.set(15, 77).unwrap();
        0
    });
    child.expect_success();
    let cells = a.atomics::<AtomicI64>().unwrap();
    assert!(wait_until(Duration::from_secs(10), || cells[15]
        .load(Ordering::Acquire)
        == 77));
}

#[test]
fn a_new_array_reads_zero_even_in_reused_dirty_blocks() {
    let t = TestStore::new("array-dirty");
    let m = t.hash_map("m").unwrap();
    // Large values take blocks of their own; removing them leaves dirty free blocks.
    for i in 0..64u32 {
        m.set(&i.to_le_bytes(), &[0xAB; 4000]).unwrap();
    }
    for i in 0..64u32 {
        m.remove(&i.to_le_bytes()).unwrap();
    }
    let used_before = t.verify_allocator().unwrap().used_blocks;
    for n in 0..16 {
        let a = t.array(&format!("a{n}"), "B", &[3900 + n]).unwrap();
        let mut all = vec![0xFF; a.nbytes() as usize];
        a.read_range(0, &mut all).unwrap();
        assert!(all.iter().all(|b| *b == 0), "array {n} is not zeroed");
    }
    // The arrays reused freed blocks (the store did not just grow).
    assert!(t.verify_allocator().unwrap().used_blocks < used_before + 2 * 16 + 64);
}
