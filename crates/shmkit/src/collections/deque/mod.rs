//! A double-ended queue of byte items in shared memory: the work queue between processes.
//! Push and pop at both ends, blocking pops (and blocking pushes on a bounded deque) that
//! sleep on a shared futex, batches in one lock hold, and no lost or duplicated item when a
//! process is killed at any instruction.
//!
//! Design (see `layout` for the bytes):
//! - **One ring of bytes.** Items are stored inline, each framed by its length and checksum
//!   before and after, in one circular block that doubles when full and halves (down to its
//!   initial size) when mostly empty. No allocator call per item: a push is one copy in, a
//!   pop one copy out, a batch one lock hold.
//! - **One lock, one commit store.** Every operation takes the deque's robust mutex; a push
//!   writes its entry and then moves `tail` (or `head`) with one store, a pop copies the item
//!   out and then moves `head` (or `tail`). Before that store nothing is changed; after it the
//!   push is in and the pop's caller has the bytes. A resize copies the entries to a new ring
//!   and publishes it with one store. So a holder killed anywhere leaves a whole deque: the
//!   next holder recounts `count`/`bytes` (an O(items) walk that also checks every entry),
//!   and the blocks in flight are leaked to the leak sweep.
//! - **Blocking** is an eventcount per condition (`not_empty`, `not_full`): a waiter sleeps
//!   at most 100 ms at a time on a shared futex and re-checks, so a waker killed before its
//!   wake, or a holder killed with the lock, delays it by at most that long.
//! - **Bounded deques** (`maxlen`) either refuse pushes when full (waiting for room if the
//!   caller allows: [`Overflow::Block`]) or drop the item at the other end
//!   ([`Overflow::Overwrite`], as `collections.deque(maxlen=...)` does).
//!
//! Delivery: an item whose push returned is popped exactly once, unless the popping process
//! is killed between the pop's commit and its return (then the item is gone with it: at
//! most once per killed consumer).
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! use std::time::Duration;
//! let name = format!("doc-deque-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let jobs = store.deque("jobs").unwrap();
//! jobs.push_back(b"first").unwrap();
//! jobs.push_back(b"second").unwrap();
//! jobs.push_front(b"urgent").unwrap();
//! assert_eq!(jobs.len(), 3);
//! assert_eq!(jobs.pop_front().unwrap().as_deref(), Some(&b"urgent"[..]));
//! assert_eq!(jobs.pop_back().unwrap().as_deref(), Some(&b"second"[..]));
//! assert_eq!(jobs.pop_front_many(10).unwrap(), vec![b"first".to_vec()]);
//! // An empty deque: a pop with a timeout waits that long for a push from any process.
//! assert_eq!(jobs.pop_front_timeout(Some(Duration::from_millis(5))).unwrap(), None);
//! Store::remove(&name).unwrap();
//! ```

mod error;
internal! { mod layout; }
mod locked;
mod object;
mod ring;
mod verify;

pub use error::DequeError;
pub use layout::MAX_ITEM_LEN;
pub use verify::{DequeReport, DequeStats};

use self::layout::{
    DEQUE_MAGIC, DEQUE_VERSION, DequeRoot, MAX_RING, MIN_RING, OVERFLOW_BLOCK, OVERFLOW_OVERWRITE,
    RING_HEADER_LEN, ROOT_LEN, START_POS,
};
use self::locked::Locked;
use self::ring::Ring;
use crate::collections::checked_block::CheckedBlock;
use crate::collections::waiting::{Took, Wait};
use crate::raw::Region;
use crate::store::Store;
use crate::store::directory::ObjectKind;
use crate::store::error::AllocError;
use crate::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a push on a full bounded deque does.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Overflow {
    /// Waits for room (as long as the caller allows), then fails with [`DequeError::Full`].
    #[default]
    Block,
    /// Drops the item at the other end to make room (`collections.deque` with `maxlen`).
    Overwrite,
}

/// Options for creating a deque (an existing deque keeps its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DequeOptions {
    /// Most items held at once; `None` for no limit (then pushes never wait).
    pub maxlen: Option<u64>,
    /// What a push on a full deque does (only with `maxlen`).
    pub overflow: Overflow,
    /// Bytes of the first ring (rounded up to a power of two, at least 1 KiB); the ring
    /// grows as needed and never shrinks below it.
    pub initial_bytes: u64,
}

impl Default for DequeOptions {
    fn default() -> DequeOptions {
        DequeOptions {
            maxlen: None,
            overflow: Overflow::Block,
            initial_bytes: 4096,
        }
    }
}

/// An end of the deque.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The front (`popleft`, `appendleft`).
    Front,
    /// The back (`append`, `pop`).
    Back,
}

impl End {
    fn other(self) -> End {
        match self {
            End::Front => End::Back,
            End::Back => End::Front,
        }
    }
}

/// The entries of a batch push, framed before the lock is taken.
struct Framed {
    /// The entries end to end: in push order for the back, reversed for the front (the
    /// last pushed is nearest the new head).
    bytes: Vec<u8>,
    /// Where entry `i` (of item `i`) starts in `bytes`, and where it ends.
    spans: Vec<(usize, usize)>,
    /// Item bytes of items `0..i`, for `i` in `0..=n`.
    item_bytes: Vec<u64>,
    end: End,
}

impl Framed {
    /// `None` if the framed copy cannot be allocated.
    fn new<I: AsRef<[u8]>>(end: End, items: &[I]) -> Option<Framed> {
        let total: usize = items
            .iter()
            .map(|i| layout::entry_len(i.as_ref().len() as u64) as usize)
            .sum();
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(total).ok()?;
        let mut spans = vec![(0, 0); items.len()];
        let order: Box<dyn Iterator<Item = usize>> = match end {
            End::Back => Box::new(0..items.len()),
            End::Front => Box::new((0..items.len()).rev()),
        };
        for i in order {
            let start = bytes.len();
            layout::append_entry(items[i].as_ref(), &mut bytes);
            spans[i] = (start, bytes.len());
        }
        let mut item_bytes = Vec::with_capacity(items.len() + 1);
        item_bytes.push(0);
        for i in items {
            let last = item_bytes.last().copied().unwrap_or(0);
            item_bytes.push(last + i.as_ref().len() as u64);
        }
        Some(Framed {
            bytes,
            spans,
            item_bytes,
            end,
        })
    }

    /// The entries of items `from..to` as one run of bytes, and their items' bytes.
    fn run(&self, from: usize, to: usize) -> (&[u8], u64) {
        let (start, end) = match self.end {
            End::Back => (self.spans[from].0, self.spans[to - 1].1),
            End::Front => (self.spans[to - 1].0, self.spans[from].1),
        };
        (
            &self.bytes[start..end],
            self.item_bytes[to] - self.item_bytes[from],
        )
    }
}

/// What [`Deque::pop_into_bounded`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Popped {
    /// An item was popped into the buffer.
    Item,
    /// The item at that end is longer than allowed (its length); it stays in the deque.
    TooLarge(u64),
    /// No item came (in time).
    Empty,
}

/// A handle to a deque in a store. Cheap to clone; keeps its store attached.
#[derive(Clone)]
pub struct Deque {
    inner: Arc<DequeInner>,
}

impl std::fmt::Debug for Deque {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deque")
            .field("name", &self.inner.name)
            .field("root", &self.inner.root)
            .field("len", &self.len())
            .finish()
    }
}

/// The per-process view of one deque.
pub(crate) struct DequeInner {
    pub(crate) store: Store,
    pub(crate) name: String,
    pub(crate) root: u64,
    /// 0: no limit.
    pub(crate) maxlen: u64,
    pub(crate) overflow: Overflow,
    pub(crate) initial_ring: u64,
    /// The ring last checked against the allocator (its header is re-read on every lock).
    checked_ring: CheckedBlock,
}

impl DequeInner {
    #[inline]
    pub(crate) fn region(&self) -> &Region {
        &self.store.inner.region
    }

    #[inline]
    pub(crate) fn root_ref(&self) -> Result<&DequeRoot, DequeError> {
        Ok(self.region().get(self.root)?)
    }

    /// `result`, unless the store file shrank under this process (see `sys::fault`).
    #[inline]
    pub(crate) fn unfaulted<T>(&self, result: Result<T, DequeError>) -> Result<T, DequeError> {
        match self.region().faulted_at() {
            None => result,
            Some(offset) => Err(DequeError::corrupt(offset, crate::store::SHRUNK)),
        }
    }

    /// Takes the lock (waiting at most `wait`, for maintenance) and validates the ring and
    /// positions; after a dead holder, recounts first. Returns what a recovery did.
    pub(crate) fn lock_within(
        &self,
        wait: Option<Duration>,
    ) -> Result<(Locked<'_>, Vec<String>), DequeError> {
        let root = self.root_ref()?;
        let guard = match wait {
            None => self.store.lock(&root.lock)?,
            Some(wait) => self.store.lock_timeout(&root.lock, wait)?,
        };
        let recovered = guard.recovered();
        let block = root.ring.load(Ordering::Acquire);
        let header_capacity = self
            .region()
            .get::<layout::RingHeader>(block)?
            .capacity
            .load(Ordering::Relaxed);
        let capacity = self
            .checked_ring
            .usable_bytes(&self.store, block, header_capacity)
            .map_err(|e| DequeError::corrupt(block, format!("ring block: {e}")))?;
        let ring = Ring::open(self.region(), block, capacity)?;
        self.checked_ring.remember(block, ring.capacity);
        let head = root.head.load(Ordering::Acquire);
        let tail = root.tail.load(Ordering::Acquire);
        if head % 8 != 0 || tail % 8 != 0 || tail.wrapping_sub(head) > ring.capacity {
            return Err(DequeError::corrupt(
                self.root,
                format!(
                    "positions {head}..{tail} do not fit a ring of {}",
                    ring.capacity
                ),
            ));
        }
        let mut locked = Locked {
            inner: self,
            root,
            guard,
            ring,
            head,
            tail,
            unlinked: Vec::new(),
            writing: None,
            largest_popped: 0,
        };
        let mut repaired = Vec::new();
        if recovered {
            root.recoveries.fetch_add(1, Ordering::Relaxed);
            repaired = locked.recount();
            repaired.insert(0, "recovered the lock of a dead process".to_string());
            locked.guard.mark_consistent();
        }
        Ok((locked, repaired))
    }

    fn lock(&self) -> Result<Locked<'_>, DequeError> {
        Ok(self.lock_within(None)?.0)
    }

    fn full(&self, count: u64) -> bool {
        self.maxlen != 0 && count >= self.maxlen
    }

    /// Pushes `items` at `end` in order, as many per lock hold as fit; waits for room as
    /// `wait` allows. Returns how many were pushed.
    fn push_items<I: AsRef<[u8]>>(
        &self,
        end: End,
        items: &[I],
        wait: Wait,
    ) -> Result<usize, DequeError> {
        for item in items {
            let len = item.as_ref().len() as u64;
            if len > MAX_ITEM_LEN {
                return Err(DequeError::ItemTooLarge {
                    len,
                    max: MAX_ITEM_LEN,
                });
            }
        }
        let root = self.root_ref()?;
        // A batch is framed (checksums included) before the lock, and goes in with one
        // copy per lock hold while no item must be evicted. Only as many items are framed
        // as a bounded deque can ever take in one go (a caller retrying a batch in slices
        // frames the rest again each time), and none if the copy cannot be allocated: the
        // items then go one by one.
        let ahead = match self.maxlen {
            0 => items.len(),
            m => items.len().min(usize::try_from(m).unwrap_or(usize::MAX)),
        };
        let framed = (ahead > 1)
            .then(|| Framed::new(end, &items[..ahead]))
            .flatten();
        let mut done = 0;
        loop {
            let mut locked = self.lock()?;
            let before = done;
            let mut result = Ok(());
            if let Some(framed) = &framed {
                // Framed items not pushed yet, as many as the limit leaves room for.
                let framed_left = ahead.saturating_sub(done);
                let room = if self.maxlen == 0 {
                    framed_left
                } else {
                    (self.maxlen.saturating_sub(locked.count()) as usize).min(framed_left)
                };
                if room > 0 {
                    let (entries, item_bytes) = framed.run(done, done + room);
                    // On failure (no memory for a ring that holds the whole run) the items
                    // go one by one below: as many as fit, and the error says how many.
                    if locked
                        .push_framed(end, entries, room as u64, item_bytes)
                        .is_ok()
                    {
                        done += room;
                    }
                }
            }
            while result.is_ok() && done < items.len() {
                let item = items[done].as_ref();
                if self.full(locked.count()) {
                    if self.overflow == Overflow::Block {
                        break;
                    }
                    // Room first, so a push that cannot get it has evicted nothing.
                    if let Err(e) = locked.reserve(layout::entry_len(item.len() as u64)) {
                        result = Err(e);
                        break;
                    }
                    if let Err(e) = locked.pop(end.other(), None) {
                        result = Err(e);
                        break;
                    }
                    root.evicted.fetch_add(1, Ordering::Relaxed);
                }
                if let Err(e) = locked.push(end, item) {
                    result = Err(e);
                    break;
                }
                done += 1;
            }
            locked.finish();
            if done > before {
                root.not_empty.notify((done - before) as u32);
            }
            if let Err(e) = result {
                return Err(if done > 0 {
                    DequeError::PushedPartly {
                        pushed: done,
                        source: Box::new(e),
                    }
                } else {
                    e
                });
            }
            if done == items.len() {
                return Ok(done);
            }
            let Wait::Until(deadline) = wait else {
                return Ok(done);
            };
            let room = || !self.full(root.count.load(Ordering::SeqCst));
            if !root.not_full.wait_until(room, deadline) {
                return Ok(done);
            }
        }
    }

    /// Pops up to `max` items from `end` into `out`, waiting for the first as `wait`
    /// allows; returns how many.
    fn pop_items(
        &self,
        end: End,
        max: usize,
        out: &mut Vec<Vec<u8>>,
        wait: Wait,
    ) -> Result<usize, DequeError> {
        self.pop_with(max, wait, |locked| {
            let mut item = Vec::new();
            let popped = locked.pop(end, Some(&mut item))?;
            if popped {
                out.push(item);
            }
            Ok(Took::from(popped))
        })
    }

    /// Runs `pop_one` up to `max` times in one lock hold, waiting for items as `wait`
    /// allows (unless `pop_one` said [`Took::Stop`]); returns how many popped.
    fn pop_with(
        &self,
        max: usize,
        wait: Wait,
        mut pop_one: impl FnMut(&mut Locked<'_>) -> Result<Took, DequeError>,
    ) -> Result<usize, DequeError> {
        let root = self.root_ref()?;
        loop {
            let mut locked = self.lock()?;
            let mut popped = 0;
            let mut stop = false;
            let mut result = Ok(());
            while popped < max {
                match pop_one(&mut locked) {
                    Ok(Took::Item) => popped += 1,
                    Ok(Took::Empty) => break,
                    Ok(Took::Stop) => {
                        stop = true;
                        break;
                    }
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            if popped > 0 {
                // Only after the pops' commits: a failed shrink keeps the larger ring.
                let _ = locked.maybe_shrink();
            } else if locked.head == locked.tail && locked.count() != 0 {
                // A damaged count on an empty deque would wake waiters for ever.
                locked.set_counts(0, 0);
            }
            locked.finish();
            if popped > 0 && self.maxlen != 0 {
                root.not_full.notify(popped as u32);
            }
            if popped > 0 || max == 0 || stop {
                // Items already popped are the caller's even if a later one failed: the
                // failure is reported by the next call, which meets it first.
                return Ok(popped);
            }
            result?;
            let Wait::Until(deadline) = wait else {
                return Ok(0);
            };
            let ready = || root.count.load(Ordering::SeqCst) != 0;
            if !root.not_empty.wait_until(ready, deadline)
                || deadline.is_some_and(|d| Instant::now() >= d)
            {
                return Ok(0);
            }
        }
    }

    fn peek(&self, end: End) -> Result<Option<Vec<u8>>, DequeError> {
        let locked = self.lock()?;
        let mut item = Vec::new();
        let found = if locked.head == locked.tail {
            false
        } else {
            let entry = locked.entry(end)?;
            locked.ring.read_item(self.region(), &entry, &mut item)?;
            true
        };
        locked.finish();
        Ok(found.then_some(item))
    }
}

fn create_root(store: &Store, options: &DequeOptions, initial: u64) -> Result<u64, AllocError> {
    let region = &store.inner.region;
    let root = store.alloc(ROOT_LEN)?;
    let ring = match store.alloc(RING_HEADER_LEN + initial) {
        Ok(ring) => ring,
        Err(e) => {
            let _ = store.free(root);
            return Err(e);
        }
    };
    let init = || -> Result<(), crate::raw::OutOfBounds> {
        region.fill_bytes(root, ROOT_LEN, 0)?;
        let header: &layout::RingHeader = region.get(ring)?;
        header.capacity.store(initial, Ordering::Relaxed);
        header.magic.store(layout::RING_MAGIC, Ordering::Relaxed);
        let r: &DequeRoot = region.get(root)?;
        r.version.store(DEQUE_VERSION, Ordering::Relaxed);
        r.overflow.store(
            match options.overflow {
                Overflow::Block => OVERFLOW_BLOCK,
                Overflow::Overwrite => OVERFLOW_OVERWRITE,
            },
            Ordering::Relaxed,
        );
        r.maxlen
            .store(options.maxlen.unwrap_or(0), Ordering::Relaxed);
        r.initial_ring.store(initial, Ordering::Relaxed);
        r.created_unix_ns
            .store(crate::sys::unix_time_ns(), Ordering::Relaxed);
        r.ring.store(ring, Ordering::Relaxed);
        r.head.store(START_POS, Ordering::Relaxed);
        r.tail.store(START_POS, Ordering::Relaxed);
        r.magic.store(DEQUE_MAGIC, Ordering::Release);
        Ok(())
    };
    if let Err(e) = init() {
        let _ = store.free(ring);
        let _ = store.free(root);
        return Err(e.into());
    }
    Ok(root)
}

/// The first ring's size for `initial_bytes`.
fn initial_ring(initial_bytes: u64) -> Result<u64, DequeError> {
    initial_bytes
        .max(MIN_RING)
        .checked_next_power_of_two()
        .filter(|c| *c <= MAX_RING)
        .ok_or_else(|| {
            DequeError::InvalidOptions(format!(
                "initial_bytes {initial_bytes} is larger than the largest ring ({MAX_RING})"
            ))
        })
}

impl Deque {
    pub(super) fn attach(store: &Store, name: &str, root: u64) -> Result<Deque, DequeError> {
        let r: &DequeRoot = store.inner.region.get(root)?;
        if r.magic.load(Ordering::Acquire) != DEQUE_MAGIC {
            return Err(DequeError::corrupt(root, "not a deque root (bad magic)"));
        }
        let version = r.version.load(Ordering::Relaxed);
        if version != DEQUE_VERSION {
            return Err(DequeError::corrupt(
                root,
                format!(
                    "deque layout version {version} (this build reads version {DEQUE_VERSION})"
                ),
            ));
        }
        let overflow = match r.overflow.load(Ordering::Relaxed) {
            OVERFLOW_BLOCK => Overflow::Block,
            OVERFLOW_OVERWRITE => Overflow::Overwrite,
            other => {
                return Err(DequeError::corrupt(
                    root,
                    format!("unknown overflow policy {other}"),
                ));
            }
        };
        let initial = r.initial_ring.load(Ordering::Relaxed);
        if !initial.is_power_of_two() || !(MIN_RING..=MAX_RING).contains(&initial) {
            return Err(DequeError::corrupt(
                root,
                format!("initial ring of {initial} bytes"),
            ));
        }
        Ok(Deque {
            inner: Arc::new(DequeInner {
                store: store.clone(),
                name: name.to_string(),
                root,
                maxlen: r.maxlen.load(Ordering::Relaxed),
                overflow,
                initial_ring: initial,
                checked_ring: CheckedBlock::default(),
            }),
        })
    }

    pub(super) fn open_or_create_deque(
        store: &Store,
        name: &str,
        options: &DequeOptions,
    ) -> Result<Deque, DequeError> {
        if options.maxlen == Some(0) {
            return Err(DequeError::InvalidOptions(
                "maxlen must be at least 1 (or none)".into(),
            ));
        }
        let initial = initial_ring(options.initial_bytes)?;
        let root = store.object_or_create(name, ObjectKind::Deque, |s| {
            create_root(s, options, initial)
        })?;
        Deque::attach(store, name, root)
    }

    /// The deque's name in its store's directory.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The store the deque lives in.
    pub fn store_handle(&self) -> &Store {
        &self.inner.store
    }

    /// Offset of the deque's root block.
    pub fn root_offset(&self) -> u64 {
        self.inner.root
    }

    /// Most items held at once, if bounded.
    pub fn maxlen(&self) -> Option<u64> {
        (self.inner.maxlen != 0).then_some(self.inner.maxlen)
    }

    /// What a push on a full deque does.
    pub fn overflow(&self) -> Overflow {
        self.inner.overflow
    }

    /// Items in the deque (a snapshot: other processes may push and pop meanwhile).
    pub fn len(&self) -> u64 {
        self.inner
            .root_ref()
            .map_or(0, |r| r.count.load(Ordering::SeqCst))
    }

    /// True if the deque holds no items (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total bytes of the items (a snapshot).
    pub fn total_bytes(&self) -> u64 {
        self.inner
            .root_ref()
            .map_or(0, |r| r.bytes.load(Ordering::Relaxed))
    }

    fn push_one(&self, end: End, item: &[u8], wait: Wait) -> Result<(), DequeError> {
        let inner = &self.inner;
        match inner.unfaulted(inner.push_items(end, &[item], wait))? {
            1 => Ok(()),
            _ => Err(DequeError::Full {
                maxlen: inner.maxlen,
            }),
        }
    }

    /// Appends `item` at the back. On a full deque: [`DequeError::Full`] (or, created with
    /// [`Overflow::Overwrite`], drops the front item).
    pub fn push_back(&self, item: &[u8]) -> Result<(), DequeError> {
        self.push_one(End::Back, item, Wait::No)
    }

    /// Prepends `item` at the front. On a full deque: [`DequeError::Full`] (or, created with
    /// [`Overflow::Overwrite`], drops the back item).
    pub fn push_front(&self, item: &[u8]) -> Result<(), DequeError> {
        self.push_one(End::Front, item, Wait::No)
    }

    /// [`Deque::push_back`], waiting up to `timeout` (`None`: for ever) for room on a full
    /// deque.
    pub fn push_back_timeout(
        &self,
        item: &[u8],
        timeout: Option<Duration>,
    ) -> Result<(), DequeError> {
        self.push_one(End::Back, item, Wait::from_timeout(timeout))
    }

    /// [`Deque::push_front`], waiting up to `timeout` (`None`: for ever) for room.
    pub fn push_front_timeout(
        &self,
        item: &[u8],
        timeout: Option<Duration>,
    ) -> Result<(), DequeError> {
        self.push_one(End::Front, item, Wait::from_timeout(timeout))
    }

    /// Appends `items` at the back in order, as many per lock hold as fit, waiting up to
    /// `timeout` for room (`Some(Duration::ZERO)`: not at all; `None`: for ever). Returns
    /// how many were pushed: fewer than all only on a full deque at the deadline.
    pub fn push_back_many<I: AsRef<[u8]>>(
        &self,
        items: &[I],
        timeout: Option<Duration>,
    ) -> Result<usize, DequeError> {
        let inner = &self.inner;
        inner.unfaulted(inner.push_items(End::Back, items, Wait::from_timeout(timeout)))
    }

    /// Prepends `items` one after the other (so the last ends up in front), as
    /// [`Deque::push_back_many`] appends them.
    pub fn push_front_many<I: AsRef<[u8]>>(
        &self,
        items: &[I],
        timeout: Option<Duration>,
    ) -> Result<usize, DequeError> {
        let inner = &self.inner;
        inner.unfaulted(inner.push_items(End::Front, items, Wait::from_timeout(timeout)))
    }

    fn pop_one(&self, end: End, wait: Wait) -> Result<Option<Vec<u8>>, DequeError> {
        let mut out = Vec::with_capacity(1);
        let inner = &self.inner;
        inner.unfaulted(inner.pop_items(end, 1, &mut out, wait))?;
        Ok(out.pop())
    }

    /// Removes and returns the front item; `None` if the deque is empty.
    pub fn pop_front(&self) -> Result<Option<Vec<u8>>, DequeError> {
        self.pop_one(End::Front, Wait::No)
    }

    /// Removes and returns the back item; `None` if the deque is empty.
    pub fn pop_back(&self) -> Result<Option<Vec<u8>>, DequeError> {
        self.pop_one(End::Back, Wait::No)
    }

    /// [`Deque::pop_front`], waiting up to `timeout` (`None`: for ever) for an item;
    /// `None` only when the time ran out.
    pub fn pop_front_timeout(
        &self,
        timeout: Option<Duration>,
    ) -> Result<Option<Vec<u8>>, DequeError> {
        self.pop_one(End::Front, Wait::from_timeout(timeout))
    }

    /// [`Deque::pop_back`], waiting up to `timeout` (`None`: for ever) for an item.
    pub fn pop_back_timeout(
        &self,
        timeout: Option<Duration>,
    ) -> Result<Option<Vec<u8>>, DequeError> {
        self.pop_one(End::Back, Wait::from_timeout(timeout))
    }

    /// Pops the item at `end` into `out` (its previous contents replaced; no allocation once
    /// `out` is large enough), waiting up to `timeout` (`Some(Duration::ZERO)`: not at all,
    /// `None`: for ever). False when no item came.
    pub fn pop_into(
        &self,
        end: End,
        out: &mut Vec<u8>,
        timeout: Option<Duration>,
    ) -> Result<bool, DequeError> {
        let inner = &self.inner;
        let n = inner.unfaulted(inner.pop_with(1, Wait::from_timeout(timeout), |locked| {
            locked.pop(end, Some(&mut *out)).map(Took::from)
        }))?;
        Ok(n == 1)
    }

    /// [`Deque::pop_into`] for callers with a fixed buffer: an item longer than `max_len`
    /// stays in the deque and its length is reported ([`Popped::TooLarge`]).
    pub fn pop_into_bounded(
        &self,
        end: End,
        out: &mut Vec<u8>,
        max_len: u64,
        timeout: Option<Duration>,
    ) -> Result<Popped, DequeError> {
        let inner = &self.inner;
        let mut too_large = None;
        let n = inner.unfaulted(inner.pop_with(1, Wait::from_timeout(timeout), |locked| {
            if locked.head == locked.tail {
                return Ok(Took::Empty);
            }
            let len = locked.entry(end)?.len;
            if len > max_len {
                too_large = Some(len);
                return Ok(Took::Stop);
            }
            locked.pop(end, Some(&mut *out)).map(Took::from)
        }))?;
        Ok(match (n, too_large) {
            (1, _) => Popped::Item,
            (_, Some(len)) => Popped::TooLarge(len),
            _ => Popped::Empty,
        })
    }

    /// Removes and returns up to `max` items from the front, in order, in one lock hold
    /// (empty if the deque is).
    pub fn pop_front_many(&self, max: usize) -> Result<Vec<Vec<u8>>, DequeError> {
        self.pop_many(End::Front, max, Some(Duration::ZERO))
    }

    /// Removes and returns up to `max` items from `end` (nearest first), waiting up to
    /// `timeout` for the first (`Some(Duration::ZERO)`: not at all; `None`: for ever).
    pub fn pop_many(
        &self,
        end: End,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<Vec<u8>>, DequeError> {
        let mut out = Vec::with_capacity(max.min(1024));
        let inner = &self.inner;
        inner.unfaulted(inner.pop_items(end, max, &mut out, Wait::from_timeout(timeout)))?;
        Ok(out)
    }

    /// [`Deque::pop_many`] into one buffer: up to `max` items from `end` are appended to
    /// `data`, one after the other, and each one's length to `lens` (no allocation per item;
    /// none at all once the buffers are large enough). Returns how many were popped.
    pub fn pop_many_into(
        &self,
        end: End,
        max: usize,
        timeout: Option<Duration>,
        data: &mut Vec<u8>,
        lens: &mut Vec<usize>,
    ) -> Result<usize, DequeError> {
        let inner = &self.inner;
        inner.unfaulted(inner.pop_with(max, Wait::from_timeout(timeout), |locked| {
            let before = data.len();
            let popped = locked.pop_append(end, data)?;
            if popped {
                lens.push(data.len() - before);
            }
            Ok(Took::from(popped))
        }))
    }

    /// A copy of the front item, if any.
    pub fn peek_front(&self) -> Result<Option<Vec<u8>>, DequeError> {
        self.inner.unfaulted(self.inner.peek(End::Front))
    }

    /// A copy of the back item, if any.
    pub fn peek_back(&self) -> Result<Option<Vec<u8>>, DequeError> {
        self.inner.unfaulted(self.inner.peek(End::Back))
    }

    /// Removes every item (one commit store); returns how many there were.
    pub fn clear(&self) -> Result<u64, DequeError> {
        let inner = &self.inner;
        let mut locked = inner.lock()?;
        let result = locked.clear();
        locked.finish();
        if result.is_ok() && inner.maxlen != 0 {
            inner.root_ref()?.not_full.notify_all();
        }
        inner.unfaulted(result)
    }

    /// Every item, front to back: one copy of the deque's entries taken under the lock (a
    /// consistent snapshot), split into items after it is released.
    pub fn items(&self) -> Result<Vec<Vec<u8>>, DequeError> {
        let inner = &self.inner;
        let locked = inner.lock()?;
        let copied = locked.copy_entries();
        locked.finish();
        inner.unfaulted(copied.and_then(|bytes| locked::parse_entries(&bytes)))
    }

    /// Counts and sizes.
    pub fn stats(&self) -> Result<DequeStats, DequeError> {
        self.inner.unfaulted(self.inner.stats())
    }

    /// Consistency check: every entry's framing and checksum, the counts (takes the lock,
    /// recovering it from a dead holder).
    pub fn verify(&self) -> Result<DequeReport, DequeError> {
        self.inner.unfaulted(self.inner.check(false))
    }

    /// [`Deque::verify`], and repairs what can be repaired (counts; a damaged entry and
    /// everything behind it are cut off).
    pub fn repair(&self) -> Result<DequeReport, DequeError> {
        self.inner.unfaulted(self.inner.check(true))
    }
}

impl Store {
    /// Opens the deque `name`, creating it (unbounded) if missing.
    pub fn deque(&self, name: &str) -> Result<Deque, DequeError> {
        self.open_or_create_object(name, &DequeOptions::default())
    }

    /// Opens the deque `name`, creating it with `options` if missing (an existing deque
    /// keeps its own limit and policy).
    pub fn deque_with(&self, name: &str, options: &DequeOptions) -> Result<Deque, DequeError> {
        self.open_or_create_object(name, options)
    }

    /// Opens an existing deque only.
    pub fn open_deque(&self, name: &str) -> Result<Deque, DequeError> {
        self.open_object(name)
    }
}
