//! A growable vector of atomic `i64` in shared memory: counters, flags and bit sets that
//! many processes update at memory speed.
//!
//! Design (see `layout` for the bytes):
//! - **Every element operation is one atomic instruction** (load, store, swap,
//!   compare-exchange, fetch-add/sub/and/or/xor) on the element in place, sequentially
//!   consistent. No lock is taken, so there is nothing to repair after a process dies
//!   mid-operation: the operation happened or it did not.
//! - **Growth without moving.** Elements live in segments of `base·2^i` elements (segment 0
//!   holds the creation length rounded up to a power of two, at least 8). [`AtomicVector::expand`]
//!   adds segments under a robust lock: allocate, zero, publish the segment's offset with one
//!   release store, then publish the new length with one release store. An element's address
//!   never changes, so other processes keep reading and writing while the vector grows; new
//!   elements read 0.
//! - **Bits.** The vector is also a bit array of `64 × len` bits: bit `i` is bit `i % 64` of
//!   element `i / 64`; `set_bit`/`clear_bit`/`flip_bit` return the bit's previous value (a
//!   test-and-set), and bits of one word set concurrently by different processes are never
//!   lost (each is one `fetch_or`/`fetch_and`/`fetch_xor`).
//! - **Waiting.** [`AtomicVector::wait`] sleeps until an element differs from a value, on a
//!   shared futex on the element's low 32 bits. Every write operation wakes the element's
//!   sleepers when the vector's waiter count is nonzero (one extra load otherwise), and
//!   [`AtomicVector::notify`] wakes them explicitly. Sleeps are bounded to 100 ms and the
//!   waiter re-reads the full 64-bit value after each, so a change only in the high 32 bits
//!   (which the futex cannot see) delays a waiter by at most 100 ms and never strands it.
//!
//! Crash safety of `expand`: a process killed before a segment's offset is published leaves
//! an allocated, unreachable block (the leak sweep of [`crate::Store::repair`] frees it); one
//! killed after leaves a published, zeroed segment that the next `expand` uses; one killed
//! before raising `len` leaves the old length. Every state is a usable vector, and no element
//! update is ever undone (elements are never copied).
//!
//! Opening an existing vector with a length: the length is a minimum. A shorter vector is
//! expanded to it; a longer one is left as it is.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! use std::time::Duration;
//! let name = format!("doc-atomic-vector-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let v = store.atomic_vector("counters", 4).unwrap();
//! assert_eq!(v.fetch_add(0, 5).unwrap(), 0);
//! assert_eq!(v.load(0).unwrap(), 5);
//! assert_eq!(v.compare_exchange(0, 5, 7).unwrap(), Ok(5));
//! assert_eq!(v.compare_exchange(0, 5, 9).unwrap(), Err(7));
//! assert!(!v.set_bit(65).unwrap()); // bit 1 of element 1
//! assert_eq!(v.load(1).unwrap(), 2);
//! v.expand(1000).unwrap();
//! assert_eq!((v.len(), v.load(999).unwrap()), (1000, 0));
//! assert!(v.load(1000).is_err());
//! // A wait on a value the element does not hold returns at once.
//! assert!(v.wait(0, 1, Some(Duration::from_secs(10))).unwrap().changed());
//! Store::remove(&name).unwrap();
//! ```

mod error;
internal! { mod layout; }
mod object;
mod verify;

pub use error::VectorError;
pub use layout::MAX_LEN;
pub use verify::{VectorReport, VectorStats};

use self::layout::{
    ELEMENT_BYTES, MIN_BASE_SHIFT, ROOT_LEN, VEC_MAGIC, VEC_VERSION, VecRoot, base_shift_for,
    capacity, locate, segment_block_len, segment_data,
};
use crate::raw::Region;
use crate::store::Store;
use crate::store::directory::ObjectKind;
use crate::store::error::AllocError;
use crate::sync::MutexGuard;
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Longest single futex sleep of [`AtomicVector::wait`] before it re-reads the element.
const WAIT_SLICE: Duration = Duration::from_millis(100);

/// Options for creating an atomic vector.
#[derive(Clone, Debug, Default)]
pub struct AtomicVectorOptions {
    /// Elements (all 0). Opening an existing vector expands it to at least this length.
    pub len: u64,
}

/// How [`AtomicVector::wait`] returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The element did not hold the expected value when the wait began (no sleep); its value.
    NotEqual(i64),
    /// The wait slept and the element changed; its new value.
    Changed(i64),
    /// The element still held the expected value when the timeout passed.
    TimedOut,
}

impl WaitOutcome {
    /// True unless the wait timed out.
    pub fn changed(&self) -> bool {
        !matches!(self, WaitOutcome::TimedOut)
    }
}

/// A handle to an atomic vector in a store. Cheap to clone; keeps its store attached.
#[derive(Clone)]
pub struct AtomicVector {
    inner: Arc<VecInner>,
}

impl std::fmt::Debug for AtomicVector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtomicVector")
            .field("name", &self.inner.name)
            .field("root", &self.inner.root)
            .field("len", &self.len())
            .finish()
    }
}

/// The per-process view of one vector.
pub(crate) struct VecInner {
    pub(crate) store: Store,
    pub(crate) name: String,
    pub(crate) root: u64,
    pub(crate) base_shift: u32,
}

impl VecInner {
    #[inline]
    pub(crate) fn region(&self) -> &Region {
        &self.store.inner.region
    }

    #[inline]
    pub(crate) fn root_ref(&self) -> Result<&VecRoot, VectorError> {
        Ok(self.region().get(self.root)?)
    }

    /// `result`, unless the store file shrank under this process (see `sys::fault`).
    #[inline]
    pub(crate) fn unfaulted<T>(&self, result: Result<T, VectorError>) -> Result<T, VectorError> {
        match self.region().faulted_at() {
            None => result,
            Some(offset) => Err(VectorError::corrupt(offset, crate::store::SHRUNK)),
        }
    }

    /// Offset of element `index`, which must be below the current length.
    #[inline]
    fn element_offset(&self, index: u64) -> Result<u64, VectorError> {
        let root = self.root_ref()?;
        // Acquire: pairs with `expand`'s release store of `len`, so the segments it covers
        // (published before it) are seen below.
        let len = root.len.load(Ordering::Acquire);
        if index >= len {
            return Err(VectorError::IndexOutOfRange { index, len });
        }
        self.offset_below_len(root, index)
    }

    #[inline]
    fn offset_below_len(&self, root: &VecRoot, index: u64) -> Result<u64, VectorError> {
        if index >= MAX_LEN {
            // Only a damaged `len` lets an index this large through.
            return Err(VectorError::corrupt(
                self.root,
                format!("element {index} is below the length, which is past the maximum"),
            ));
        }
        let (segment, pos) = locate(self.base_shift, index);
        let block = root
            .segments
            .get(segment)
            .map_or(0, |s| s.load(Ordering::Acquire));
        if block == 0 {
            return Err(VectorError::corrupt(
                self.root,
                format!("element {index} is below the length but segment {segment} is missing"),
            ));
        }
        segment_data(block)
            .and_then(|data| data.checked_add(pos * ELEMENT_BYTES))
            .ok_or_else(|| {
                VectorError::corrupt(
                    self.root,
                    format!("segment {segment} offset {block} is out of range"),
                )
            })
    }

    #[inline]
    fn element(&self, index: u64) -> Result<&AtomicU64, VectorError> {
        let offset = self.element_offset(index)?;
        Ok(self.region().get(offset)?)
    }

    /// Wakes the sleepers of the element at `offset` if anyone waits on the vector.
    #[inline]
    fn wake_if_waiting(&self, offset: u64) {
        // SeqCst, as the write before it and the waiter's increment and re-read: either this
        // load sees the waiter, or the waiter's re-read sees the write.
        let waiting = self
            .root_ref()
            .map(|r| r.waiters.load(Ordering::SeqCst) != 0)
            .unwrap_or(false);
        if waiting {
            self.wake(offset);
        }
    }

    #[cold]
    #[inline(never)]
    fn wake(&self, offset: u64) {
        if let Ok(word) = self.region().get::<AtomicU32>(offset) {
            crate::sync::futex::wake_all(word);
        }
    }

    /// One read-modify-write on element `index`; returns what `op` returns.
    #[inline]
    fn rmw<R>(&self, index: u64, op: impl FnOnce(&AtomicU64) -> R) -> Result<R, VectorError> {
        let offset = self.element_offset(index)?;
        let element: &AtomicU64 = self.region().get(offset)?;
        let r = op(element);
        self.wake_if_waiting(offset);
        self.unfaulted(Ok(r))
    }

    /// The bit operation `op(word, mask)` on bit `bit`; returns the bit's previous value.
    #[inline]
    fn bit_rmw(
        &self,
        bit: u64,
        op: impl FnOnce(&AtomicU64, u64) -> u64,
    ) -> Result<bool, VectorError> {
        let mask = 1u64 << (bit % 64);
        let old = self
            .rmw(bit / 64, |e| op(e, mask))
            .map_err(|e| self.bit_error(e, bit))?;
        Ok(old & mask != 0)
    }

    fn bit_error(&self, e: VectorError, bit: u64) -> VectorError {
        match e {
            VectorError::IndexOutOfRange { len, .. } => VectorError::BitOutOfRange {
                bit,
                bits: len.saturating_mul(64),
            },
            e => e,
        }
    }

    /// The expand lock, taken with `wait` (or until its holder dies); after a dead holder
    /// there is nothing to repair (see the module docs), so the lock is marked consistent.
    pub(crate) fn lock_expand(
        &self,
        wait: Option<Duration>,
    ) -> Result<(MutexGuard<'_>, bool), VectorError> {
        let root = self.root_ref()?;
        let mut guard = match wait {
            None => self.store.lock(&root.expand_lock)?,
            Some(wait) => self.store.lock_timeout(&root.expand_lock, wait)?,
        };
        let recovered = guard.recovered();
        if recovered {
            guard.mark_consistent();
        }
        Ok((guard, recovered))
    }

    fn expand(&self, new_len: u64) -> Result<(), VectorError> {
        if new_len > MAX_LEN {
            return Err(VectorError::TooLong {
                len: new_len,
                max: MAX_LEN,
            });
        }
        let root = self.root_ref()?;
        if new_len <= root.len.load(Ordering::Acquire) {
            return Ok(());
        }
        // Segments are unreachable from allocation until published: hold back this
        // process's leak sweep meanwhile.
        let _writing = self.store.inner.enter_write();
        let (_guard, _) = self.lock_expand(None)?;
        let len = root.len.load(Ordering::Acquire);
        if new_len <= len {
            return Ok(());
        }
        let (last, _) = locate(self.base_shift, new_len - 1);
        for (segment, entry) in root.segments.iter().enumerate().take(last + 1) {
            if entry.load(Ordering::Acquire) != 0 {
                continue;
            }
            // `segment <= last < max_segments`: neither overflows.
            let (Some(bytes), Some(data_bytes)) = (
                segment_block_len(self.base_shift, segment),
                layout::segment_len(self.base_shift, segment).checked_mul(ELEMENT_BYTES),
            ) else {
                return Err(VectorError::corrupt(self.root, "segment size overflows"));
            };
            let block = self.store.alloc(bytes)?;
            let Some(data) = segment_data(block) else {
                let _ = self.store.free(block);
                return Err(VectorError::corrupt(block, "segment offset out of range"));
            };
            if let Err(e) = self.region().fill_bytes(data, data_bytes, 0) {
                let _ = self.store.free(block);
                return Err(e.into());
            }
            // Release: the zeroes are visible to whoever sees the offset.
            entry.store(block, Ordering::Release);
        }
        root.len.store(new_len, Ordering::Release);
        root.expands.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

fn create_root(store: &Store, base_shift: u32) -> Result<u64, AllocError> {
    let root = store.alloc(ROOT_LEN)?;
    let region = &store.inner.region;
    region.fill_bytes(root, ROOT_LEN, 0)?;
    let r: &VecRoot = region.get(root)?;
    r.version.store(VEC_VERSION, Ordering::Relaxed);
    r.base_shift.store(base_shift, Ordering::Relaxed);
    r.created_unix_ns
        .store(crate::sys::unix_time_ns(), Ordering::Relaxed);
    r.magic.store(VEC_MAGIC, Ordering::Release);
    Ok(root)
}

impl AtomicVector {
    pub(super) fn attach(
        store: &Store,
        name: &str,
        root: u64,
    ) -> Result<AtomicVector, VectorError> {
        let r: &VecRoot = store.inner.region.get(root)?;
        if r.magic.load(Ordering::Acquire) != VEC_MAGIC {
            return Err(VectorError::corrupt(
                root,
                "not an atomic vector root (bad magic)",
            ));
        }
        let version = r.version.load(Ordering::Relaxed);
        if version != VEC_VERSION {
            return Err(VectorError::corrupt(
                root,
                format!(
                    "atomic vector layout version {version} (this build reads version {VEC_VERSION})"
                ),
            ));
        }
        let base_shift = r.base_shift.load(Ordering::Relaxed);
        if !(MIN_BASE_SHIFT..=MAX_LEN.trailing_zeros()).contains(&base_shift) {
            return Err(VectorError::corrupt(
                root,
                format!("atomic vector with segment 0 of 2^{base_shift} elements"),
            ));
        }
        Ok(AtomicVector {
            inner: Arc::new(VecInner {
                store: store.clone(),
                name: name.to_string(),
                root,
                base_shift,
            }),
        })
    }

    pub(super) fn open_or_create_vector(
        store: &Store,
        name: &str,
        options: &AtomicVectorOptions,
    ) -> Result<AtomicVector, VectorError> {
        if options.len > MAX_LEN {
            return Err(VectorError::TooLong {
                len: options.len,
                max: MAX_LEN,
            });
        }
        let base_shift = base_shift_for(options.len);
        let root = store.object_or_create(name, ObjectKind::AtomicVector, |s| {
            create_root(s, base_shift)
        })?;
        let v = AtomicVector::attach(store, name, root)?;
        v.expand(options.len)?;
        Ok(v)
    }

    /// The vector's name in its store's directory.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The store the vector lives in (`store` is the element operation).
    pub fn store_handle(&self) -> &Store {
        &self.inner.store
    }

    /// Offset of the vector's root block in the store.
    pub fn root_offset(&self) -> u64 {
        self.inner.root
    }

    /// Number of elements (only grows).
    pub fn len(&self) -> u64 {
        self.inner
            .root_ref()
            .map_or(0, |r| r.len.load(Ordering::Acquire))
    }

    /// True if the vector has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Elements the published segments hold (`len` can grow to it without allocating).
    pub fn capacity(&self) -> u64 {
        capacity(self.inner.base_shift, self.inner.published().unwrap_or(0))
    }

    /// Grows the vector to `new_len` elements (nothing if it is that long already); the new
    /// elements read 0. Other processes may use the vector meanwhile: no element moves.
    /// [`VectorError::TooLong`] past [`MAX_LEN`]; an allocation failure leaves the vector as
    /// it was (or longer by the segments published before the failure, still of the old
    /// length).
    pub fn expand(&self, new_len: u64) -> Result<(), VectorError> {
        self.inner.unfaulted(self.inner.expand(new_len))
    }

    /// The value of element `index`.
    #[inline]
    pub fn load(&self, index: u64) -> Result<i64, VectorError> {
        let e = self.inner.element(index)?;
        let v = e.load(Ordering::SeqCst) as i64;
        self.inner.unfaulted(Ok(v))
    }

    /// Element `index` itself, as a `std` atomic, for hot loops: once resolved, a load or an
    /// update through it costs what one on a process-local atomic does (no length check or
    /// segment lookup per call). The reference stays valid while this handle lives (an
    /// element never moves, and the vector never shrinks). Unlike the vector's own
    /// operations, writes through it do not wake [`AtomicVector::wait`]ers (call
    /// [`AtomicVector::notify`]), and if another process truncates the store file the
    /// element reads 0 and writes to it are lost (the store's SIGBUS guard maps a zero page
    /// there) where the checked operations return an error.
    ///
    /// ```
    /// # use shmkit::{Store, StoreOptions};
    /// # use std::sync::atomic::Ordering;
    /// # let name = format!("doc-element-ref-{}", std::process::id());
    /// # let store = Store::create(&name, &StoreOptions::default()).unwrap();
    /// let v = store.atomic_vector("hits", 4).unwrap();
    /// let hits = v.element_ref(2).unwrap();
    /// for _ in 0..1000 {
    ///     hits.fetch_add(1, Ordering::Relaxed);
    /// }
    /// assert_eq!(v.load(2).unwrap(), 1000);
    /// # Store::remove(&name).unwrap();
    /// ```
    pub fn element_ref(&self, index: u64) -> Result<&std::sync::atomic::AtomicI64, VectorError> {
        let offset = self.inner.element_offset(index)?;
        let element = self.inner.region().get(offset)?;
        self.inner.unfaulted(Ok(element))
    }

    /// Copies elements `start..end` (each one atomic load; not one snapshot).
    pub fn load_range(&self, start: u64, end: u64) -> Result<Vec<i64>, VectorError> {
        let len = self.len();
        if end > len || start > end {
            return Err(VectorError::IndexOutOfRange {
                index: end.max(start),
                len,
            });
        }
        let capacity = self.capacity();
        if len > capacity {
            return Err(VectorError::corrupt(
                self.inner.root,
                format!("length {len} is more than the segments hold ({capacity})"),
            ));
        }
        let root = self.inner.root_ref()?;
        // Reserve a bounded amount up front; a long range grows as it is read.
        let mut out = Vec::with_capacity((end - start).min(1 << 16) as usize);
        for index in start..end {
            let offset = self.inner.offset_below_len(root, index)?;
            let e: &AtomicU64 = self.inner.region().get(offset)?;
            out.push(e.load(Ordering::SeqCst) as i64);
        }
        self.inner.unfaulted(Ok(out))
    }

    /// Stores `value` in element `index`.
    #[inline]
    pub fn store(&self, index: u64, value: i64) -> Result<(), VectorError> {
        self.inner
            .rmw(index, |e| e.store(value as u64, Ordering::SeqCst))
    }

    /// Stores `value`; returns the previous value.
    #[inline]
    pub fn swap(&self, index: u64, value: i64) -> Result<i64, VectorError> {
        self.inner
            .rmw(index, |e| e.swap(value as u64, Ordering::SeqCst) as i64)
    }

    /// Stores `new` if the element holds `current`: `Ok(current)` if it did, `Err(found)`
    /// with the value found if not (the outer `Result` is the operation's error).
    #[inline]
    pub fn compare_exchange(
        &self,
        index: u64,
        current: i64,
        new: i64,
    ) -> Result<Result<i64, i64>, VectorError> {
        self.inner.rmw(index, |e| {
            e.compare_exchange(
                current as u64,
                new as u64,
                Ordering::SeqCst,
                Ordering::SeqCst,
            )
            .map(|v| v as i64)
            .map_err(|v| v as i64)
        })
    }

    /// Adds `delta` (wrapping); returns the previous value.
    #[inline]
    pub fn fetch_add(&self, index: u64, delta: i64) -> Result<i64, VectorError> {
        self.inner.rmw(index, |e| {
            e.fetch_add(delta as u64, Ordering::SeqCst) as i64
        })
    }

    /// Subtracts `delta` (wrapping); returns the previous value.
    #[inline]
    pub fn fetch_sub(&self, index: u64, delta: i64) -> Result<i64, VectorError> {
        self.inner.rmw(index, |e| {
            e.fetch_sub(delta as u64, Ordering::SeqCst) as i64
        })
    }

    /// Bitwise and; returns the previous value.
    #[inline]
    pub fn fetch_and(&self, index: u64, bits: i64) -> Result<i64, VectorError> {
        self.inner
            .rmw(index, |e| e.fetch_and(bits as u64, Ordering::SeqCst) as i64)
    }

    /// Bitwise or; returns the previous value.
    #[inline]
    pub fn fetch_or(&self, index: u64, bits: i64) -> Result<i64, VectorError> {
        self.inner
            .rmw(index, |e| e.fetch_or(bits as u64, Ordering::SeqCst) as i64)
    }

    /// Bitwise exclusive or; returns the previous value.
    #[inline]
    pub fn fetch_xor(&self, index: u64, bits: i64) -> Result<i64, VectorError> {
        self.inner
            .rmw(index, |e| e.fetch_xor(bits as u64, Ordering::SeqCst) as i64)
    }

    /// Bits in the vector (`64 × len`).
    pub fn bit_len(&self) -> u64 {
        self.len().saturating_mul(64)
    }

    /// Bit `bit` (bit `bit % 64` of element `bit / 64`).
    pub fn get_bit(&self, bit: u64) -> Result<bool, VectorError> {
        let word = self
            .load(bit / 64)
            .map_err(|e| self.inner.bit_error(e, bit))?;
        Ok(word as u64 & (1 << (bit % 64)) != 0)
    }

    /// Sets bit `bit`; returns its previous value (a test-and-set).
    pub fn set_bit(&self, bit: u64) -> Result<bool, VectorError> {
        self.inner
            .bit_rmw(bit, |e, mask| e.fetch_or(mask, Ordering::SeqCst))
    }

    /// Clears bit `bit`; returns its previous value.
    pub fn clear_bit(&self, bit: u64) -> Result<bool, VectorError> {
        self.inner
            .bit_rmw(bit, |e, mask| e.fetch_and(!mask, Ordering::SeqCst))
    }

    /// Flips bit `bit`; returns its previous value.
    pub fn flip_bit(&self, bit: u64) -> Result<bool, VectorError> {
        self.inner
            .bit_rmw(bit, |e, mask| e.fetch_xor(mask, Ordering::SeqCst))
    }

    /// Sets bit `bit` to `value`; returns its previous value.
    pub fn store_bit(&self, bit: u64, value: bool) -> Result<bool, VectorError> {
        if value {
            self.set_bit(bit)
        } else {
            self.clear_bit(bit)
        }
    }

    /// Sleeps until element `index` holds something other than `expected`, at most `timeout`
    /// (`None`: no limit). Woken by any write to the element from any process, or by
    /// [`AtomicVector::notify`]; re-reads the whole value at least every 100 ms.
    pub fn wait(
        &self,
        index: u64,
        expected: i64,
        timeout: Option<Duration>,
    ) -> Result<WaitOutcome, VectorError> {
        let inner = &self.inner;
        let offset = inner.element_offset(index)?;
        let element: &AtomicU64 = inner.region().get(offset)?;
        // The futex word is the element's low 32 bits, which sit at the element's offset only
        // on a little-endian machine (lib.rs refuses to build for big-endian targets). It is
        // only handed to the kernel, never read as a 32-bit atomic by this code.
        let word: &AtomicU32 = inner.region().get(offset)?;
        let value = element.load(Ordering::SeqCst) as i64;
        if value != expected {
            return inner.unfaulted(Ok(WaitOutcome::NotEqual(value)));
        }
        let root = inner.root_ref()?;
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        root.waiters.fetch_add(1, Ordering::SeqCst);
        struct Registered<'a>(&'a AtomicU64);
        impl Drop for Registered<'_> {
            fn drop(&mut self) {
                // Saturating: a damaged count must not wrap to "always waiting".
                let _ = self
                    .0
                    .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1));
            }
        }
        let _registered = Registered(&root.waiters);
        loop {
            let value = element.load(Ordering::SeqCst) as i64;
            if value != expected {
                return inner.unfaulted(Ok(WaitOutcome::Changed(value)));
            }
            let slice = match deadline {
                None => WAIT_SLICE,
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return inner.unfaulted(Ok(WaitOutcome::TimedOut));
                    }
                    (deadline - now).min(WAIT_SLICE)
                }
            };
            crate::sync::futex::wait(word, expected as u64 as u32, slice);
        }
    }

    /// Wakes every process sleeping in [`AtomicVector::wait`] on element `index` (they
    /// re-read it and sleep again if it still holds their expected value).
    pub fn notify(&self, index: u64) -> Result<(), VectorError> {
        let offset = self.inner.element_offset(index)?;
        self.inner.wake(offset);
        Ok(())
    }

    /// Counts and sizes.
    pub fn stats(&self) -> Result<VectorStats, VectorError> {
        self.inner.unfaulted(self.inner.stats())
    }

    /// Consistency check (takes the expand lock, recovering it from a dead holder).
    pub fn verify(&self) -> Result<VectorReport, VectorError> {
        self.inner.unfaulted(self.inner.verify(false))
    }

    /// [`AtomicVector::verify`], and repairs what can be repaired.
    pub fn repair(&self) -> Result<VectorReport, VectorError> {
        self.inner.unfaulted(self.inner.verify(true))
    }
}

impl Store {
    /// Opens the atomic vector `name`, creating it with `len` elements (all 0) if missing;
    /// an existing vector shorter than `len` is expanded to `len`.
    pub fn atomic_vector(&self, name: &str, len: u64) -> Result<AtomicVector, VectorError> {
        self.open_or_create_object(name, &AtomicVectorOptions { len })
    }

    /// Opens an existing atomic vector only.
    pub fn open_atomic_vector(&self, name: &str) -> Result<AtomicVector, VectorError> {
        self.open_object(name)
    }
}
