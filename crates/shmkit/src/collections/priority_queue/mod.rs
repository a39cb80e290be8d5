//! A priority queue of (key, value) byte items in shared memory: items pop in ascending
//! bytewise order of key, and items with equal keys in the order they were pushed. Blocking
//! pops (and blocking pushes on a bounded queue) sleep on a shared futex, batches take one
//! lock hold, and no item is lost or duplicated when a process is killed at any instruction.
//!
//! Design (see `layout` for the bytes and `locked` for the order of the stores):
//! - **Records outside, a heap of small entries inside the lock.** Each item is one
//!   allocator block (key, value, sequence number, checksum), allocated, written and hashed
//!   before the lock is taken. The lock protects a [`layout::ARITY`]-ary min-heap of 24-byte
//!   entries `(key prefix, seq, record)` in one array block: comparisons use the first 8 key
//!   bytes and read full keys from records only when those tie. The array doubles when
//!   full and halves when less than an eighth is used (never below its initial size).
//! - **Stable order.** Each push takes a 64-bit sequence number from the root under the
//!   lock; the heap orders by `(key, seq)`.
//! - **Commit points.** A push commits with the store of `len + 1`, after its record is
//!   sealed and its entry written at index `len`; a pop commits with the store of `len - 1`,
//!   after it copied and checked the top record. Before its commit an operation has changed
//!   nothing the items depend on; after it, the push is in and the pop's caller has the
//!   bytes. A clear commits with `len = 0`.
//! - **Repair after a crash.** Before each change the holder writes an intent in the root
//!   (push/pop/clear, the record moving in or out, the old length). The next holder after a
//!   dead one (or after a change that failed half way) rebuilds: it takes the records named
//!   by the entries in `[0, len)`, adds the pushed record if that push committed, takes the
//!   entries up to the old length minus the popped record if that pop committed (none if a
//!   clear did), dedupes, checks every record (an allocated block, its checksum), heapifies
//!   in O(n) and publishes a fresh array with one store. So a holder killed at any
//!   instruction never loses an item whose push returned, never returns an item twice, and
//!   never wedges the queue; records in flight (built and not pushed, popped and not freed)
//!   are leaked to the leak sweep (`Store::repair`), never freed twice.
//! - **Blocking** is an eventcount per condition (`not_empty`, `not_full`), as the deque's:
//!   a waiter sleeps at most 100 ms at a time and re-checks.
//! - **Bounded queues** (`maxlen`) refuse pushes when full ([`PriorityQueueError::Full`],
//!   kind `Full`), after waiting for room as long as the caller allows.
//! - **Damage is refused, not followed.** A record is one of this queue's only if it is an
//!   allocated block large enough for its lengths whose checksum, made with this queue's
//!   root offset, matches; a pop also wants the sequence number its entry gives. So a
//!   damaged length never hands out a freed record or another queue's, and no buffer is
//!   sized from a header that does not fit its block. The heap array's capacity is checked
//!   against its block whenever the block or the capacity changes (per handle).
//!
//! Delivery: an item whose push returned is popped exactly once, unless the popping process
//! is killed between the pop's commit and its return (then the item is gone with it).
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! use std::time::Duration;
//! let name = format!("doc-pq-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let jobs = store.priority_queue("jobs").unwrap();
//! jobs.push(b"2-normal", b"write report").unwrap();
//! jobs.push(b"1-urgent", b"fix outage").unwrap();
//! jobs.push(b"2-normal", b"answer mail").unwrap(); // same key: after the first
//! assert_eq!(jobs.len(), 3);
//! assert_eq!(jobs.peek().unwrap().unwrap().1, b"fix outage");
//! let (key, value) = jobs.pop().unwrap().unwrap();
//! assert_eq!((&key[..], &value[..]), (&b"1-urgent"[..], &b"fix outage"[..]));
//! let rest: Vec<_> = jobs.pop_many(10).unwrap().into_iter().map(|(_, v)| v).collect();
//! assert_eq!(rest, vec![b"write report".to_vec(), b"answer mail".to_vec()]);
//! // An empty queue: a pop with a timeout waits that long for a push from any process.
//! assert_eq!(jobs.pop_timeout(Some(Duration::from_millis(5))).unwrap(), None);
//! Store::remove(&name).unwrap();
//! ```

mod error;
internal! { mod layout; }
mod locked;
mod object;
mod record;
mod verify;

pub use error::PriorityQueueError;
pub use layout::{MAX_KEY_LEN, MAX_VALUE_LEN};
pub use verify::{PriorityQueueReport, PriorityQueueStats};

use self::layout::{
    INTENT_NONE, MAX_CAPACITY, MIN_CAPACITY, PQ_MAGIC, PQ_VERSION, PqRoot, ROOT_LEN,
};
use self::locked::{HeapArray, Locked};
use crate::collections::checked_block::CheckedBlock;
use crate::collections::waiting::{Took, Wait};
use crate::raw::Region;
use crate::store::Store;
use crate::store::directory::ObjectKind;
use crate::store::error::AllocError;
use crate::store::sweep_gate::WriteGuard;
use crate::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// An item: its key and its value.
pub type Item = (Vec<u8>, Vec<u8>);

/// What [`PriorityQueue::pop_into_bounded`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PqPopped {
    /// The smallest item was popped into the buffers.
    Item,
    /// The smallest item's key or value is longer than allowed (their lengths); it stays.
    TooLarge {
        /// Its key's length.
        key_len: u64,
        /// Its value's length.
        value_len: u64,
    },
    /// No item came (in time).
    Empty,
}

/// Options for creating a priority queue (an existing queue keeps its own).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PriorityQueueOptions {
    /// Most items held at once; `None` for no limit (then pushes never wait).
    pub maxlen: Option<u64>,
    /// Entries of the first heap array (rounded up to a power of two, at least 16); the
    /// array grows as needed and never shrinks below it.
    pub initial_capacity: u64,
}

impl Default for PriorityQueueOptions {
    fn default() -> PriorityQueueOptions {
        PriorityQueueOptions {
            maxlen: None,
            initial_capacity: 64,
        }
    }
}

/// A handle to a priority queue in a store. Cheap to clone; keeps its store attached.
#[derive(Clone)]
pub struct PriorityQueue {
    inner: Arc<PqInner>,
}

impl std::fmt::Debug for PriorityQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PriorityQueue")
            .field("name", &self.inner.name)
            .field("root", &self.inner.root)
            .field("len", &self.len())
            .finish()
    }
}

/// The per-process view of one priority queue.
pub(crate) struct PqInner {
    pub(crate) store: Store,
    pub(crate) name: String,
    pub(crate) root: u64,
    /// 0: no limit.
    pub(crate) maxlen: u64,
    pub(crate) initial_capacity: u64,
    /// The array last checked against the allocator (its header is re-read on every lock).
    checked_array: CheckedBlock,
}

impl PqInner {
    #[inline]
    pub(crate) fn region(&self) -> &Region {
        &self.store.inner.region
    }

    #[inline]
    pub(crate) fn root_ref(&self) -> Result<&PqRoot, PriorityQueueError> {
        Ok(self.region().get(self.root)?)
    }

    /// Remembers the array at `block` of `capacity` entries as checked against the
    /// allocator.
    pub(crate) fn checked(&self, block: u64, capacity: u64) {
        self.checked_array.remember(block, capacity);
    }

    /// `result`, unless the store file shrank under this process (see `sys::fault`).
    #[inline]
    pub(crate) fn unfaulted<T>(
        &self,
        result: Result<T, PriorityQueueError>,
    ) -> Result<T, PriorityQueueError> {
        match self.region().faulted_at() {
            None => result,
            Some(offset) => Err(PriorityQueueError::corrupt(offset, crate::store::SHRUNK)),
        }
    }

    /// Takes the lock (waiting at most `wait`, for maintenance) and validates the array and
    /// length; after a dead holder, or with an interrupted change's intent still set,
    /// rebuilds the heap first. Returns what a rebuild did.
    ///
    /// `writing` is the sweep-gate guard of an operation that allocates or frees, held from
    /// before its first allocation: on success it moves into the [`Locked`] (which drops it
    /// in [`Locked::finish`], after the blocks unlinked under the lock are freed), so the
    /// resizes and the rebuild under the lock never enter the gate again; on an error it
    /// stays with the caller, who still has unpublished blocks to free under it.
    pub(crate) fn lock_within<'a>(
        &'a self,
        wait: Option<Duration>,
        writing: &mut Option<WriteGuard<'a>>,
    ) -> Result<(Locked<'a>, Vec<String>), PriorityQueueError> {
        let root = self.root_ref()?;
        let guard = match wait {
            None => self.store.lock(&root.lock)?,
            Some(wait) => self.store.lock_timeout(&root.lock, wait)?,
        };
        let recovered = guard.recovered();
        let block = root.array.load(Ordering::Acquire);
        let header_capacity = self
            .region()
            .get::<layout::ArrayHeader>(block)?
            .capacity
            .load(Ordering::Relaxed);
        let capacity = self
            .checked_array
            .usable_bytes(&self.store, block, header_capacity)
            .map_err(|e| PriorityQueueError::corrupt(block, format!("array block: {e}")))?;
        let array = HeapArray::open(self.region(), block, capacity)?;
        self.checked(array.block, array.capacity);
        let len = root.len.load(Ordering::Acquire);
        let mut locked = Locked::new(self, root, guard, array, len, writing.take());
        let interrupted = root.intent_op.load(Ordering::Acquire) != INTENT_NONE;
        if recovered || interrupted {
            let mut repaired = match locked.rebuild() {
                Ok(repaired) => repaired,
                Err(e) => {
                    // The caller's guard goes back to it; the lock is released.
                    *writing = locked.writing.take();
                    return Err(e);
                }
            };
            repaired.insert(
                0,
                if recovered {
                    "recovered the lock of a dead process"
                } else {
                    "finished a change that had failed half way"
                }
                .to_string(),
            );
            if recovered {
                locked.guard.mark_consistent();
            }
            return Ok((locked, repaired));
        }
        if len > array.capacity {
            *writing = locked.writing.take();
            return Err(PriorityQueueError::corrupt(
                self.root,
                format!("length {len} past the array's {} entries", array.capacity),
            ));
        }
        Ok((locked, Vec::new()))
    }

    /// Takes the lock, for an operation that neither allocates nor frees blocks of its own
    /// (a rebuild or resize under the lock enters the sweep gate itself; see
    /// [`PqInner::lock_writing`] for those that do).
    fn lock(&self) -> Result<Locked<'_>, PriorityQueueError> {
        Ok(self.lock_within(None, &mut None)?.0)
    }

    /// Takes the lock for an operation that allocates or frees, holding the sweep-gate guard
    /// `writing` (entered before its first allocation): see [`PqInner::lock_within`].
    fn lock_writing<'a>(
        &'a self,
        writing: &mut Option<WriteGuard<'a>>,
    ) -> Result<Locked<'a>, PriorityQueueError> {
        Ok(self.lock_within(None, writing)?.0)
    }

    fn full(&self, len: u64) -> bool {
        self.maxlen != 0 && len >= self.maxlen
    }

    /// Pushes `items`, as many per lock hold as fit, waiting for room as `wait` allows.
    /// Returns how many were pushed; an error after some went in (in this or an earlier
    /// round) is [`PriorityQueueError::PushedPartly`] with their count.
    fn push_items<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: &[(K, V)],
        wait: Wait,
    ) -> Result<usize, PriorityQueueError> {
        for (k, v) in items {
            check_item(k.as_ref(), v.as_ref())?;
        }
        let root = self.root_ref()?;
        let mut done = 0;
        while done < items.len() {
            // On a bounded queue, build only as many records as could fit now.
            let mut want = items.len() - done;
            if self.maxlen != 0 {
                let room = self.maxlen.saturating_sub(root.len.load(Ordering::Relaxed));
                want = want.min(room.max(1) as usize);
            }
            let mut writing = Some(self.store.inner.enter_write());
            let mut built = Vec::with_capacity(want);
            let mut result = Ok(());
            for (k, v) in &items[done..done + want] {
                match record::build(&self.store, self.root, k.as_ref(), v.as_ref()) {
                    Ok(b) => built.push(b),
                    Err(e) => {
                        result = Err(e);
                        break;
                    }
                }
            }
            let mut pushed = 0;
            match self.lock_writing(&mut writing) {
                Ok(mut locked) => {
                    for (b, (k, _)) in built.iter().zip(&items[done..]) {
                        if self.full(locked.len) {
                            break;
                        }
                        if let Err(e) = locked.push(b, k.as_ref()) {
                            result = Err(e);
                            break;
                        }
                        pushed += 1;
                    }
                    // Records not pushed were never published: freed after the unlock.
                    locked
                        .unlinked
                        .extend(built[pushed..].iter().map(|b| b.rec));
                    locked.finish();
                }
                Err(e) => {
                    for b in &built {
                        let _ = self.store.free(b.rec);
                    }
                    drop(writing);
                    return Err(pushed_partly(done, e));
                }
            }
            if pushed > 0 {
                root.not_empty.notify(pushed as u32);
            }
            done += pushed;
            result.map_err(|e| pushed_partly(done, e))?;
            if pushed == built.len() {
                // All built records went in (on a bounded queue, perhaps fewer than the
                // items left): build the next ones.
                continue;
            }
            // The queue is full.
            let Wait::Until(deadline) = wait else {
                break;
            };
            let room = || !self.full(root.len.load(Ordering::SeqCst));
            if !root.not_full.wait_until(room, deadline) {
                break;
            }
        }
        Ok(done)
    }

    /// Pops up to `max` items into `out`, waiting for the first as `wait` allows; returns
    /// how many.
    fn pop_items(
        &self,
        max: usize,
        out: &mut Vec<Item>,
        wait: Wait,
    ) -> Result<usize, PriorityQueueError> {
        self.pop_with(max, wait, |locked| {
            let (mut key, mut value) = (Vec::new(), Vec::new());
            let popped = locked.pop(&mut key, &mut value)?;
            if popped {
                out.push((key, value));
            }
            Ok(if popped { Took::Item } else { Took::Empty })
        })
    }

    /// Runs `pop_one` up to `max` times in one lock hold, waiting for items as `wait`
    /// allows (unless `pop_one` said [`Took::Stop`]); returns how many popped.
    fn pop_with(
        &self,
        max: usize,
        wait: Wait,
        mut pop_one: impl FnMut(&mut locked::Locked<'_>) -> Result<Took, PriorityQueueError>,
    ) -> Result<usize, PriorityQueueError> {
        let root = self.root_ref()?;
        loop {
            let mut writing = Some(self.store.inner.enter_write());
            let mut locked = self.lock_writing(&mut writing)?;
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
                // Only after the pops' commits: a failed shrink keeps the larger array.
                let _ = locked.maybe_shrink();
            }
            locked.finish();
            if popped > 0 && self.maxlen != 0 {
                root.not_full.notify(popped as u32);
            }
            if popped > 0 || max == 0 || stop {
                // Committed pops are handed out; an error after them comes back next time.
                return Ok(popped);
            }
            result?;
            let Wait::Until(deadline) = wait else {
                return Ok(0);
            };
            let ready = || root.len.load(Ordering::SeqCst) != 0;
            if !root.not_empty.wait_until(ready, deadline) {
                return Ok(0);
            }
        }
    }
}

/// `error`, as [`PriorityQueueError::PushedPartly`] if `pushed` items of the batch went in
/// before it.
fn pushed_partly(pushed: usize, error: PriorityQueueError) -> PriorityQueueError {
    if pushed == 0 {
        return error;
    }
    PriorityQueueError::PushedPartly {
        pushed,
        source: Box::new(error),
    }
}

/// Refuses a key or value past the limits (before anything is allocated or locked).
fn check_item(key: &[u8], value: &[u8]) -> Result<(), PriorityQueueError> {
    let (k, v) = (key.len() as u64, value.len() as u64);
    if k > MAX_KEY_LEN {
        return Err(PriorityQueueError::KeyTooLarge {
            len: k,
            max: MAX_KEY_LEN,
        });
    }
    if v > MAX_VALUE_LEN {
        return Err(PriorityQueueError::ValueTooLarge {
            len: v,
            max: MAX_VALUE_LEN,
        });
    }
    Ok(())
}

fn create_root(store: &Store, maxlen: u64, initial: u64) -> Result<u64, AllocError> {
    let region = &store.inner.region;
    let root = store.alloc(ROOT_LEN)?;
    let array = match store.alloc(HeapArray::block_len(initial)) {
        Ok(array) => array,
        Err(e) => {
            let _ = store.free(root);
            return Err(e);
        }
    };
    let init = || -> Result<(), crate::raw::OutOfBounds> {
        region.fill_bytes(root, ROOT_LEN, 0)?;
        let header: &layout::ArrayHeader = region.get(array)?;
        header.capacity.store(initial, Ordering::Relaxed);
        header.magic.store(layout::ARRAY_MAGIC, Ordering::Relaxed);
        let r: &PqRoot = region.get(root)?;
        r.version.store(PQ_VERSION, Ordering::Relaxed);
        r.maxlen.store(maxlen, Ordering::Relaxed);
        r.initial_capacity.store(initial, Ordering::Relaxed);
        r.created_unix_ns
            .store(crate::sys::unix_time_ns(), Ordering::Relaxed);
        r.array.store(array, Ordering::Relaxed);
        r.magic.store(PQ_MAGIC, Ordering::Release);
        Ok(())
    };
    if let Err(e) = init() {
        let _ = store.free(array);
        let _ = store.free(root);
        return Err(e.into());
    }
    Ok(root)
}

/// The first array's capacity for `initial_capacity`.
fn initial_capacity(initial_capacity: u64) -> Result<u64, PriorityQueueError> {
    initial_capacity
        .max(MIN_CAPACITY)
        .checked_next_power_of_two()
        .filter(|c| *c <= MAX_CAPACITY)
        .ok_or_else(|| {
            PriorityQueueError::InvalidOptions(format!(
                "initial_capacity {initial_capacity} is larger than the largest array \
                 ({MAX_CAPACITY} entries)"
            ))
        })
}

impl PriorityQueue {
    pub(super) fn attach(
        store: &Store,
        name: &str,
        root: u64,
    ) -> Result<PriorityQueue, PriorityQueueError> {
        let r: &PqRoot = store.inner.region.get(root)?;
        if r.magic.load(Ordering::Acquire) != PQ_MAGIC {
            return Err(PriorityQueueError::corrupt(
                root,
                "not a priority queue root (bad magic)",
            ));
        }
        let version = r.version.load(Ordering::Relaxed);
        if version != PQ_VERSION {
            return Err(PriorityQueueError::corrupt(
                root,
                format!(
                    "priority queue layout version {version} (this build reads version \
                     {PQ_VERSION})"
                ),
            ));
        }
        let initial = r.initial_capacity.load(Ordering::Relaxed);
        if !initial.is_power_of_two() || !(MIN_CAPACITY..=MAX_CAPACITY).contains(&initial) {
            return Err(PriorityQueueError::corrupt(
                root,
                format!("initial capacity of {initial} entries"),
            ));
        }
        Ok(PriorityQueue {
            inner: Arc::new(PqInner {
                store: store.clone(),
                name: name.to_string(),
                root,
                maxlen: r.maxlen.load(Ordering::Relaxed),
                initial_capacity: initial,
                checked_array: CheckedBlock::default(),
            }),
        })
    }

    pub(super) fn open_or_create_queue(
        store: &Store,
        name: &str,
        options: &PriorityQueueOptions,
    ) -> Result<PriorityQueue, PriorityQueueError> {
        if options.maxlen == Some(0) {
            return Err(PriorityQueueError::InvalidOptions(
                "maxlen must be at least 1 (or none)".into(),
            ));
        }
        let initial = initial_capacity(options.initial_capacity)?;
        let maxlen = options.maxlen.unwrap_or(0);
        let root = store.object_or_create(name, ObjectKind::PriorityQueue, |s| {
            create_root(s, maxlen, initial)
        })?;
        PriorityQueue::attach(store, name, root)
    }

    /// The queue's name in its store's directory.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The store the queue lives in.
    pub fn store_handle(&self) -> &Store {
        &self.inner.store
    }

    /// Offset of the queue's root block.
    pub fn root_offset(&self) -> u64 {
        self.inner.root
    }

    /// Most items held at once, if bounded.
    pub fn maxlen(&self) -> Option<u64> {
        (self.inner.maxlen != 0).then_some(self.inner.maxlen)
    }

    /// Items in the queue (a snapshot: other processes may push and pop meanwhile).
    pub fn len(&self) -> u64 {
        self.inner
            .root_ref()
            .map_or(0, |r| r.len.load(Ordering::SeqCst))
    }

    /// True if the queue holds no items (a snapshot).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Total bytes of the items' keys and values (a snapshot).
    pub fn total_bytes(&self) -> u64 {
        self.inner
            .root_ref()
            .map_or(0, |r| r.bytes.load(Ordering::Relaxed))
    }

    fn push_one(&self, key: &[u8], value: &[u8], wait: Wait) -> Result<(), PriorityQueueError> {
        let inner = &self.inner;
        match inner.unfaulted(inner.push_items(&[(key, value)], wait))? {
            1 => Ok(()),
            _ => Err(PriorityQueueError::Full {
                maxlen: inner.maxlen,
            }),
        }
    }

    /// Adds an item. On a full bounded queue: [`PriorityQueueError::Full`].
    pub fn push(&self, key: &[u8], value: &[u8]) -> Result<(), PriorityQueueError> {
        self.push_one(key, value, Wait::No)
    }

    /// [`PriorityQueue::push`], waiting up to `timeout` (`Some(Duration::ZERO)`: not at
    /// all; `None`: for ever) for room on a full queue.
    pub fn push_timeout(
        &self,
        key: &[u8],
        value: &[u8],
        timeout: Option<Duration>,
    ) -> Result<(), PriorityQueueError> {
        self.push_one(key, value, Wait::from_timeout(timeout))
    }

    /// Adds `items` in order, all in one lock hold (on a bounded queue, as many as fit).
    /// Returns how many were pushed: fewer than all only on a full queue. An error after
    /// some items went in is [`PriorityQueueError::PushedPartly`], which says how many (the
    /// first ones; they stay).
    pub fn push_many<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: &[(K, V)],
    ) -> Result<usize, PriorityQueueError> {
        self.push_many_timeout(items, Some(Duration::ZERO))
    }

    /// [`PriorityQueue::push_many`], waiting up to `timeout` (`None`: for ever) for room
    /// whenever the queue is full. Returns how many were pushed: fewer than all only on a
    /// full queue at the deadline. An error after some items went in (in any round of the
    /// wait) is [`PriorityQueueError::PushedPartly`] with the count.
    pub fn push_many_timeout<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        items: &[(K, V)],
        timeout: Option<Duration>,
    ) -> Result<usize, PriorityQueueError> {
        let inner = &self.inner;
        inner.unfaulted(inner.push_items(items, Wait::from_timeout(timeout)))
    }

    /// Removes and returns the item with the smallest key (of equal keys, the one pushed
    /// first); `None` if the queue is empty.
    pub fn pop(&self) -> Result<Option<Item>, PriorityQueueError> {
        self.pop_timeout(Some(Duration::ZERO))
    }

    /// [`PriorityQueue::pop`], waiting up to `timeout` (`Some(Duration::ZERO)`: not at
    /// all; `None`: for ever) for an item; `None` only when the time ran out.
    pub fn pop_timeout(
        &self,
        timeout: Option<Duration>,
    ) -> Result<Option<Item>, PriorityQueueError> {
        let mut out = Vec::with_capacity(1);
        let inner = &self.inner;
        inner.unfaulted(inner.pop_items(1, &mut out, Wait::from_timeout(timeout)))?;
        Ok(out.pop())
    }

    /// Removes and returns up to `max` items in pop order, in one lock hold (empty if the
    /// queue is).
    pub fn pop_many(&self, max: usize) -> Result<Vec<Item>, PriorityQueueError> {
        self.pop_many_timeout(max, Some(Duration::ZERO))
    }

    /// [`PriorityQueue::pop_many`], waiting up to `timeout` (`Some(Duration::ZERO)`: not
    /// at all; `None`: for ever) for the first item.
    pub fn pop_many_timeout(
        &self,
        max: usize,
        timeout: Option<Duration>,
    ) -> Result<Vec<Item>, PriorityQueueError> {
        let mut out = Vec::with_capacity(max.min(1024));
        let inner = &self.inner;
        inner.unfaulted(inner.pop_items(max, &mut out, Wait::from_timeout(timeout)))?;
        Ok(out)
    }

    /// Pops the smallest item into `key` and `value` (their contents replaced) only if its key
    /// is at most `max_key` and its value at most `max_value` bytes; a larger one stays in the
    /// queue and its lengths are reported. Waits up to `timeout` for an item.
    pub fn pop_into_bounded(
        &self,
        key: &mut Vec<u8>,
        value: &mut Vec<u8>,
        max_key: u64,
        max_value: u64,
        timeout: Option<Duration>,
    ) -> Result<PqPopped, PriorityQueueError> {
        let inner = &self.inner;
        let mut too_large = None;
        let n = inner.unfaulted(inner.pop_with(1, Wait::from_timeout(timeout), |locked| {
            let Some((key_len, value_len)) = locked.top_lengths()? else {
                return Ok(Took::Empty);
            };
            if key_len > max_key || value_len > max_value {
                too_large = Some(PqPopped::TooLarge { key_len, value_len });
                return Ok(Took::Stop);
            }
            Ok(if locked.pop(key, value)? {
                Took::Item
            } else {
                Took::Empty
            })
        }))?;
        Ok(match (n, too_large) {
            (1, _) => PqPopped::Item,
            (_, Some(t)) => t,
            _ => PqPopped::Empty,
        })
    }

    /// A copy of the item the next pop would return, if any.
    pub fn peek(&self) -> Result<Option<Item>, PriorityQueueError> {
        let inner = &self.inner;
        let locked = inner.lock()?;
        let (mut key, mut value) = (Vec::new(), Vec::new());
        let found = locked.peek(&mut key, &mut value);
        locked.finish();
        inner.unfaulted(found.map(|f| f.then_some((key, value))))
    }

    /// Removes every item (one commit store); returns how many there were.
    pub fn clear(&self) -> Result<u64, PriorityQueueError> {
        let inner = &self.inner;
        let mut writing = Some(inner.store.inner.enter_write());
        let mut locked = inner.lock_writing(&mut writing)?;
        let result = locked.clear();
        locked.finish();
        if result.is_ok() && inner.maxlen != 0 {
            inner.root_ref()?.not_full.notify_all();
        }
        inner.unfaulted(result)
    }

    /// Every item in pop order: the records are copied under the lock (a consistent
    /// snapshot) and sorted after it is released.
    pub fn items(&self) -> Result<Vec<Item>, PriorityQueueError> {
        let inner = &self.inner;
        let locked = inner.lock()?;
        let copied = locked.copy_items();
        locked.finish();
        let mut items = inner.unfaulted(copied)?;
        items.sort_unstable_by(|a, b| (&a.1, a.0).cmp(&(&b.1, b.0)));
        Ok(items.into_iter().map(|(_, k, v)| (k, v)).collect())
    }

    /// Counts and sizes.
    pub fn stats(&self) -> Result<PriorityQueueStats, PriorityQueueError> {
        self.inner.unfaulted(self.inner.stats())
    }

    /// Consistency check: heap order, every record (an allocated block matching its
    /// checksum), the counts (takes the lock, rebuilding after a dead holder).
    pub fn verify(&self) -> Result<PriorityQueueReport, PriorityQueueError> {
        self.inner.unfaulted(self.inner.check(false))
    }

    /// [`PriorityQueue::verify`], and rebuilds the heap if it found problems (damaged
    /// records are dropped and reported).
    pub fn repair(&self) -> Result<PriorityQueueReport, PriorityQueueError> {
        self.inner.unfaulted(self.inner.check(true))
    }
}

impl Store {
    /// Opens the priority queue `name`, creating it (unbounded) if missing.
    pub fn priority_queue(&self, name: &str) -> Result<PriorityQueue, PriorityQueueError> {
        self.open_or_create_object(name, &PriorityQueueOptions::default())
    }

    /// Opens the priority queue `name`, creating it with `options` if missing (an existing
    /// queue keeps its own limit).
    pub fn priority_queue_with(
        &self,
        name: &str,
        options: &PriorityQueueOptions,
    ) -> Result<PriorityQueue, PriorityQueueError> {
        self.open_or_create_object(name, options)
    }

    /// Opens an existing priority queue only.
    pub fn open_priority_queue(&self, name: &str) -> Result<PriorityQueue, PriorityQueueError> {
        self.open_object(name)
    }
}
