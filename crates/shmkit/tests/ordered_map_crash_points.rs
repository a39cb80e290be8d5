//! OrderedMap writers stopped at every instruction: a traced child runs one operation (a
//! split up to a new root, a replacement of a subtree's first key, merges with root
//! collapses, a redistribution, a pop, a clear, a repair that rebuilds the tree, and the
//! recovery of an earlier crash from states of each) one instruction at a time under
//! ptrace; every distinct state of the store it passes through while it holds the map's
//! lock (and every 25th outside) is copied to a store of its own, as a SIGKILL at that
//! instruction would leave it, and checked there: lock-free reads see the map before or
//! after the operation (never anything else), the next lock holder settles it to that same
//! map with a clean check and leaks at most the two blocks a kill may leak, and (every
//! fourth state) later writes that reuse the free list keep a model, and a store repair
//! (the leak sweep) frees nothing the map uses. `SHMKIT_CRASH_POINTS_FULL=1` checks every
//! state in depth and traces the recovery from every fourth state with an intent (tens of
//! minutes instead of about one).

mod common;

use common::crash_points::{Copy, Probes, full, ptrace_works, read_file, restore, trace};
use common::{TestStore, watchdog};
use shmkit::collections::ordered_map::layout::OmRoot;
use shmkit::{OrderedMap, Store};
use std::collections::BTreeMap;
use std::path::Path;

type Model = BTreeMap<Vec<u8>, Vec<u8>>;

fn contents(map: &OrderedMap) -> Model {
    map.iter().map(Result::unwrap).collect()
}

fn key(i: u32) -> Vec<u8> {
    format!("key-{i:05}").into_bytes()
}

fn val(i: u32, round: u32) -> Vec<u8> {
    format!("v{i}-{round}").into_bytes()
}

/// Writes that reuse the free list and split and merge leaves, applied to both.
fn churn(map: &OrderedMap, model: &mut Model, salt: u32) {
    for j in 0..60u32 {
        let i = (j * 37 + salt * 11) % 900;
        let k = key(i);
        if j % 3 == 2 {
            assert_eq!(map.remove(&k).unwrap(), model.remove(&k));
        } else {
            let v = val(i, 1000 + salt);
            map.set(&k, &v).unwrap();
            model.insert(k, v);
        }
    }
}

fn assert_clean(map: &OrderedMap, what: &str) {
    let report = map.verify().unwrap();
    assert!(
        report.problems.is_empty() && report.busy.is_empty(),
        "{what}: {report:?}"
    );
}

/// Checks one state a kill could leave: the lock-free view is one of `allowed`; the next
/// lock holder keeps exactly that view and leaves a clean map; writes after it keep the
/// model; a store repair frees nothing the map uses.
fn check_state(original: &Path, bytes: &[u8], allowed: &dyn Fn(&Model) -> bool, deep: bool) {
    let copy = Copy::new(original, bytes);
    let map = copy.store().open_ordered_map("m").unwrap();
    let seen = contents(&map);
    assert!(allowed(&seen), "lock-free readers see a map that never was");
    assert_eq!(map.len(), seen.len() as u64);
    // Another process allocates before the next lock holder comes: it may get the blocks
    // the dead writer freed, which the recovery must not free again.
    let probes = Probes::new(copy.store());
    assert_clean(&map, "after the next lock holder");
    probes.check_and_free(copy.store());
    let mut model = seen;
    assert!(
        contents(&map) == model,
        "the next lock holder changed the map"
    );
    // What a kill may leak: the record built before the lock and not yet in an intent, and
    // a node allocated for the free list and not yet pushed on it.
    let leaks = copy.store().find_unreachable().unwrap();
    assert!(
        leaks.complete && leaks.unreachable.len() <= 2,
        "the next lock holder left {leaks:?}"
    );
    if !deep {
        return;
    }
    churn(&map, &mut model, 1);
    assert!(contents(&map) == model, "writes after the recovery");
    assert_clean(&map, "after writes");
    let repair = copy.store().repair();
    assert!(repair.after.is_clean(), "{repair:?}");
    assert!(contents(&map) == model, "the leak sweep changed the map");
    churn(&map, &mut model, 2);
    assert!(contents(&map) == model, "writes after the leak sweep");
    assert_clean(&map, "after the leak sweep and writes");
    let leaks = copy.store().find_unreachable().unwrap();
    assert!(leaks.complete && leaks.unreachable.is_empty(), "{leaks:?}");
}

fn lock_word(bytes: &[u8], map: &OrderedMap) -> u32 {
    let at = map.root_offset() as usize + std::mem::offset_of!(OmRoot, lock);
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// [`trace`] with [`check_state`] and the views `allowed`.
fn every_instruction(
    t: &TestStore,
    map: &OrderedMap,
    op: impl FnOnce() -> i32,
    allowed: &dyn Fn(&Model) -> bool,
    keep: &mut dyn FnMut(&[u8]),
) -> (u64, u64) {
    trace(
        t,
        op,
        &|bytes| lock_word(bytes, map) != 0,
        &|path, bytes, deep| check_state(path, bytes, allowed, deep),
        25,
        keep,
    )
}

/// The level of the published root node (0: a leaf; `None`: the map is empty).
fn root_level(store: &Store, map: &OrderedMap) -> Option<u32> {
    use shmkit::collections::ordered_map::layout::NodeHeader;
    use std::sync::atomic::Ordering;
    let r: &OmRoot = store.get(map.root_offset()).unwrap();
    let v = r.root_version.load(Ordering::SeqCst);
    let node = r.roots[(v & 1) as usize].node.load(Ordering::SeqCst);
    (node != 0).then(|| {
        let h: &NodeHeader = store.get(node).unwrap();
        h.level.load(Ordering::SeqCst)
    })
}

/// Applies `ops` in order until one would change the root's level; returns that one
/// (not applied) with the model before it.
fn until_root_level_changes(
    t: &TestStore,
    map: &OrderedMap,
    model: &mut Model,
    ops: impl Iterator<Item = (Vec<u8>, Option<Vec<u8>>)>,
) -> (Vec<u8>, Option<Vec<u8>>) {
    let path = t.path().to_path_buf();
    for (k, v) in ops {
        let level = root_level(t, map);
        let saved = read_file(&path);
        match &v {
            Some(v) => map.set(&k, v).unwrap(),
            None => drop(map.delete(&k).unwrap()),
        }
        if root_level(t, map) != level {
            restore(&path, &saved);
            assert_eq!(root_level(t, map), level);
            return (k, v);
        }
        match v {
            Some(v) => model.insert(k, v),
            None => model.remove(&k),
        };
    }
    panic!("the root level never changed");
}

/// The model after one write.
fn with(model: &Model, (k, v): &(Vec<u8>, Option<Vec<u8>>)) -> Model {
    let mut m = model.clone();
    match v {
        Some(v) => m.insert(k.clone(), v.clone()),
        None => m.remove(k),
    };
    m
}

/// How many states with an intent in progress each test traces the recovery from.
fn recoveries() -> usize {
    if full() { usize::MAX } else { 3 }
}

fn intent_op(bytes: &[u8], map: &OrderedMap) -> u32 {
    let at = map.root_offset() as usize + std::mem::offset_of!(OmRoot, intent_op);
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

/// Keeps every `every`-th state with an intent in progress (and the last one).
struct IntentStates<'m> {
    map: &'m OrderedMap,
    every: usize,
    seen: usize,
    kept: Vec<Vec<u8>>,
    last: Option<Vec<u8>>,
}

impl IntentStates<'_> {
    fn new(map: &OrderedMap, every: usize) -> IntentStates<'_> {
        IntentStates {
            map,
            every,
            seen: 0,
            kept: Vec::new(),
            last: None,
        }
    }

    fn keep(&mut self, bytes: &[u8]) {
        if intent_op(bytes, self.map) == 0 {
            return;
        }
        self.seen += 1;
        if self.seen % self.every == 0 {
            self.kept.push(bytes.to_vec());
            self.last = None;
        } else {
            self.last = Some(bytes.to_vec());
        }
    }

    /// The kept states: [`recoveries`] of them, evenly spread, the last one included.
    fn states(mut self) -> Vec<Vec<u8>> {
        self.kept.extend(self.last.take());
        let want = recoveries();
        if self.kept.len() <= want {
            return self.kept;
        }
        let n = self.kept.len();
        (0..want)
            .map(|i| std::mem::take(&mut self.kept[(i + 1) * n / want - 1]))
            .collect()
    }
}

/// For each state (one a killed writer left), traces the next lock holder (a delete of an
/// absent key: the recovery and a descent) at every instruction: a holder killed during a recovery leaves a state from which the next
/// one still settles the map the same way.
fn trace_recoveries(t: &TestStore, map: &OrderedMap, states: Vec<Vec<u8>>) {
    let path = t.path().to_path_buf();
    for (n, state) in states.iter().enumerate() {
        let settled = {
            let copy = Copy::new(&path, state);
            let m = copy.store().open_ordered_map("m").unwrap();
            assert_clean(&m, "the recovery");
            contents(&m)
        };
        restore(&path, state);
        eprintln!("recovery {n} of {}", states.len());
        every_instruction(
            t,
            map,
            || i32::from(map.delete(b"absent").unwrap()),
            &|m| *m == settled,
            &mut |_| {},
        );
    }
}

/// Traces the write `w` and checks that every state shows the map before or after it; then
/// traces the recovery from some of the states with an intent in progress.
fn trace_write(t: &TestStore, map: &OrderedMap, before: &Model, w: (Vec<u8>, Option<Vec<u8>>)) {
    let after = with(before, &w);
    let (b, a) = (before.clone(), after);
    let mut kept = IntentStates::new(map, 4);
    every_instruction(
        t,
        map,
        || {
            match &w.1 {
                Some(v) => map.set(&w.0, v).unwrap(),
                None => assert!(map.delete(&w.0).unwrap()),
            }
            0
        },
        &move |m| *m == b || *m == a,
        &mut |bytes| kept.keep(bytes),
    );
    trace_recoveries(t, map, kept.states());
}

/// The published root node's offset.
fn root_node(store: &Store, map: &OrderedMap) -> u64 {
    use std::sync::atomic::Ordering;
    let r: &OmRoot = store.get(map.root_offset()).unwrap();
    let v = r.root_version.load(Ordering::SeqCst);
    r.roots[(v & 1) as usize].node.load(Ordering::SeqCst)
}

/// The smallest key of child `i` of the (inner) root.
fn first_key_of_child(store: &Store, map: &OrderedMap, i: usize) -> Vec<u8> {
    use shmkit::collections::ordered_map::layout::{InnerNode, RECORD_HEADER_LEN};
    use std::sync::atomic::Ordering;
    let root: &InnerNode = store.get(root_node(store, map)).unwrap();
    let s = &root.slots[i];
    let mut k = vec![0u8; s.key_len.load(Ordering::SeqCst) as usize];
    store
        .read_bytes(s.key_rec.load(Ordering::SeqCst) + RECORD_HEADER_LEN, &mut k)
        .unwrap();
    k
}

/// Ascending keys from 0 until the root is an inner node of `level`; returns the model.
fn ascending_to_level(t: &TestStore, map: &OrderedMap, level: u32) -> Model {
    let mut model = Model::new();
    let mut i = 0;
    while root_level(t, map) != Some(level) {
        map.set(&key(i), &val(i, 0)).unwrap();
        model.insert(key(i), val(i, 0));
        i += 1;
    }
    model
}

fn set(map: &OrderedMap, model: &mut Model, k: &[u8], v: &[u8]) {
    map.set(k, v).unwrap();
    model.insert(k.to_vec(), v.to_vec());
}

fn del(map: &OrderedMap, model: &mut Model, k: &[u8]) {
    assert!(map.delete(k).unwrap());
    model.remove(k);
}

#[test]
fn a_split_up_to_a_new_root_killed_at_every_instruction() {
    if !ptrace_works() {
        return;
    }
    let _dog = watchdog(if full() { 36_000 } else { 900 });
    let t = TestStore::new("omcp-split");
    let map = t.ordered_map("m").unwrap();
    let mut model = Model::new();
    // Ascending keys: the last leaf splits, then its parent, until the root splits.
    map.set(&key(0), &val(0, 0)).unwrap();
    model.insert(key(0), val(0, 0));
    let w = until_root_level_changes(
        &t,
        &map,
        &mut model,
        (1..).map(|i| (key(i), Some(val(i, 0)))),
    );
    assert_eq!(root_level(&t, &map), Some(0));
    let w = {
        // Past the first split: up to the split of a root of level 1.
        map.set(&w.0, w.1.as_ref().unwrap()).unwrap();
        model.insert(w.0.clone(), w.1.clone().unwrap());
        let next = model.len() as u32;
        until_root_level_changes(
            &t,
            &map,
            &mut model,
            (next..).map(|i| (key(i), Some(val(i, 0)))),
        )
    };
    assert_eq!(root_level(&t, &map), Some(1));
    trace_write(&t, &map, &model, w);
}

#[test]
fn a_merge_that_collapses_the_root_killed_at_every_instruction() {
    if !ptrace_works() {
        return;
    }
    let _dog = watchdog(if full() { 36_000 } else { 900 });
    let t = TestStore::new("omcp-collapse");
    let map = t.ordered_map("m").unwrap();
    let mut model = ascending_to_level(&t, &map, 1); // two leaves of 21
    let last = model.len() as u32;
    let w = until_root_level_changes(
        &t,
        &map,
        &mut model,
        (0..last).rev().map(|i| (key(i), None)),
    );
    trace_write(&t, &map, &model, w);
}

#[test]
fn an_inner_merge_that_collapses_a_root_of_level_two_killed_at_every_instruction() {
    if !ptrace_works() {
        return;
    }
    let _dog = watchdog(if full() { 36_000 } else { 900 });
    let t = TestStore::new("omcp-collapse2");
    let map = t.ordered_map("m").unwrap();
    let mut model = ascending_to_level(&t, &map, 2);
    let keys: Vec<Vec<u8>> = model.keys().rev().cloned().collect();
    let w = until_root_level_changes(&t, &map, &mut model, keys.into_iter().map(|k| (k, None)));
    trace_write(&t, &map, &model, w);
}

#[test]
fn a_redistribution_between_leaves_killed_at_every_instruction() {
    // Leaf 0 full (41), leaf 1 down to its minimum (10): one more delete from leaf 1 merges
    // the two into 50 entries, written as two leaves of 25.
    if !ptrace_works() {
        return;
    }
    let _dog = watchdog(if full() { 36_000 } else { 900 });
    let t = TestStore::new("omcp-redistribute");
    let map = t.ordered_map("m").unwrap();
    let mut model = ascending_to_level(&t, &map, 1);
    assert_eq!(model.len(), 42);
    for i in 0..20 {
        set(&map, &mut model, format!("key-{i:05}a").as_bytes(), b"x");
    }
    for i in (31..42).rev() {
        del(&map, &mut model, &key(i));
    }
    let merges = map.stats().unwrap().merges;
    trace_write(&t, &map, &model, (key(30), None));
    assert_eq!(map.stats().unwrap().merges, merges + 1);
    assert_eq!(root_level(&t, &map), Some(1));
}

#[test]
fn a_new_value_for_the_first_key_of_a_leaf_killed_at_every_instruction() {
    // The old record is the key of the leaf's slot in its parent and of the parent's in the
    // root: every node naming it is replaced before it is freed.
    if !ptrace_works() {
        return;
    }
    let _dog = watchdog(if full() { 36_000 } else { 900 });
    let t = TestStore::new("omcp-first");
    let map = t.ordered_map("m").unwrap();
    let mut model = ascending_to_level(&t, &map, 2);
    for _ in 0..200 {
        let i = model.len() as u32;
        set(&map, &mut model, &key(i), &val(i, 0));
    }
    let k = first_key_of_child(&t, &map, 1);
    trace_write(&t, &map, &model, (k, Some(b"replaced".to_vec())));
}

#[test]
fn a_pop_killed_at_every_instruction() {
    if !ptrace_works() {
        return;
    }
    let _dog = watchdog(if full() { 36_000 } else { 900 });
    let t = TestStore::new("omcp-pop");
    let map = t.ordered_map("m").unwrap();
    let before = ascending_to_level(&t, &map, 1);
    let mut after = before.clone();
    after.pop_first();
    let mut kept = IntentStates::new(&map, 4);
    every_instruction(
        &t,
        &map,
        || i32::from(map.pop_end(false).unwrap().is_none()),
        &|m| *m == before || *m == after,
        &mut |bytes| kept.keep(bytes),
    );
    trace_recoveries(&t, &map, kept.states());
}

#[test]
fn a_clear_killed_at_every_instruction() {
    // A clear commits one leaf at a time: a reader sees the map without some first leaves.
    if !ptrace_works() {
        return;
    }
    let _dog = watchdog(if full() { 36_000 } else { 900 });
    let t = TestStore::new("omcp-clear");
    let map = t.ordered_map("m").unwrap();
    let mut before = ascending_to_level(&t, &map, 1);
    for i in 42..100u32 {
        set(&map, &mut before, &key(i), &val(i, 0));
    }
    let suffix = |m: &Model| match m.keys().next() {
        None => true,
        Some(first) => {
            *m == before
                .range(first.clone()..)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect::<Model>()
        }
    };
    let mut kept = IntentStates::new(&map, 4);
    every_instruction(
        &t,
        &map,
        || {
            map.clear().unwrap();
            0
        },
        &suffix,
        &mut |bytes| kept.keep(bytes),
    );
    assert!(map.is_empty());
    trace_recoveries(&t, &map, kept.states());
}

#[test]
fn a_repair_that_rebuilds_the_tree_killed_at_every_instruction() {
    // The rebuild publishes a new tree with one commit (no intent): killed before it, the
    // old tree stays for the next repair; after it, the old tree's nodes it had not yet
    // returned to the free list are leaks for the sweep.
    if !ptrace_works() {
        return;
    }
    let _dog = watchdog(if full() { 36_000 } else { 900 });
    let t = TestStore::new("omcp-rebuild");
    let map = t.ordered_map("m").unwrap();
    let mut good = ascending_to_level(&t, &map, 1);
    for i in 42..130u32 {
        set(&map, &mut good, &key(i), &val(i, 0));
    }
    // Damage the value of key 33 (its record's last byte).
    let (k, v) = (key(33), val(33, 0));
    let rec = {
        use shmkit::collections::ordered_map::layout::{InnerNode, LeafNode};
        use std::sync::atomic::Ordering;
        let root: &InnerNode = t.get(root_node(&t, &map)).unwrap();
        let len = root.header.len.load(Ordering::SeqCst) as usize;
        (0..len)
            .flat_map(|i| {
                let leaf: &LeafNode = t.get(root.slots[i].child.load(Ordering::SeqCst)).unwrap();
                let n = leaf.header.len.load(Ordering::SeqCst) as usize;
                (0..n)
                    .map(|j| leaf.entries[j].rec.load(Ordering::SeqCst))
                    .collect::<Vec<_>>()
            })
            .find(|&rec| {
                let mut got = vec![0u8; k.len()];
                t.read_bytes(rec + 16, &mut got).unwrap();
                got == k
            })
            .unwrap()
    };
    t.write_bytes(rec + 16 + (k.len() + v.len() - 1) as u64, b"#")
        .unwrap();
    good.remove(&k);
    let check = |path: &Path, bytes: &[u8], deep: bool| {
        let copy = Copy::new(path, bytes);
        let m = copy.store().open_ordered_map("m").unwrap();
        for (k, v) in &good {
            assert_eq!(m.get(k).unwrap().as_ref(), Some(v), "a lock-free read");
        }
        let report = m.repair().unwrap();
        assert!(report.problems.is_empty(), "{report:?}");
        assert!(contents(&m) == good, "the repair kept the wrong entries");
        assert_clean(&m, "after the repair");
        if deep {
            let repair = copy.store().repair();
            assert!(repair.after.is_clean(), "{repair:?}");
            let mut model = good.clone();
            churn(&m, &mut model, 3);
            assert!(contents(&m) == model, "writes after the repair");
            assert_clean(&m, "after the repair and writes");
        }
    };
    trace(
        &t,
        || i32::from(!map.repair().unwrap().problems.is_empty()),
        &|bytes| lock_word(bytes, &map) != 0,
        &check,
        25,
        &mut |_| {},
    );
    assert!(contents(&map) == good);
}
