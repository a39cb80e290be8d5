//! One process's attachment to a store: the mapping, the file descriptor, the registry slot,
//! and the process-wide table that makes opening the same store twice share one attachment.
//!
//! Invariants:
//! - at most one [`Attachment`] per (device, inode) per process; `Store` handles share it;
//! - the mapping is made once and never moved, so every reference into it stays valid for
//!   the attachment's life, whatever the store's growth;
//! - after `fork`, the child notices (a counter bumped by a `pthread_atfork` handler) before
//!   its next lock operation, opens the file again (a new open file description, so the
//!   parent's liveness locks are not shared) and claims its own slot. The inherited mapping is
//!   kept, so addresses stay the same in the child;
//! - the same `pthread_atfork` handler already gives every child a fresh open file description
//!   for each attachment's descriptor ([`sys::renew_after_fork`]), so a child that never uses
//!   the store (a worker pool, say) does not hold its parent's liveness lock: the parent's
//!   death is seen at once, not when the last such child exits.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-attach-{}", std::process::id()); // unique to this process
//! let a = Store::create(&name, &StoreOptions::default()).unwrap();
//! let b = Store::open(&name).unwrap();
//! assert!(a.same_attachment(&b));
//! Store::remove(&name).unwrap();
//! ```

use super::alloc_classes::CLASS_COUNT;
use super::error::{AllocError, OpenError};
use super::header::{
    CHECKSUMMED_LEN, COMMITTED_LEN_OFFSET, DirectoryState, FLAG_REMOVE_WHEN_UNUSED, FORMAT_VERSION,
    HASH_XXH3_64, HEADER_LEN, HeapState, ImmutableHeader, KNOWN_FLAGS, MAGIC, RegistryState,
    StoreHeader,
};
use super::registry::{
    ATTACH_LOCK_BYTE, MAX_SLOTS, ProcessInfo, RegistrySlot, SLOT_ACTIVE, SLOT_FREE, liveness_byte,
    next_generation, owner_id, process_start_time, split_owner_id,
};
use super::reopen::lock_descriptor;
use super::sweep_gate::{SweepGate, SweepRefused};
use crate::raw::Region;
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use crate::sync::{LockError, MutexGuard, OwnerId, OwnerRegistry, RobustMutex};
use crate::sys::{self, ByteLock, SharedMapping};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard as StdGuard, Weak};
use std::time::Duration;

/// Per-process state that changes after `fork`.
#[derive(Debug)]
struct ProcessSide {
    fd: OwnedFd,
    slot: u32,
    /// False in a forked child that could not claim a slot of its own (it then runs under
    /// its parent's identity and must not free the parent's slot).
    owns_slot: bool,
    /// True when `fd`'s open file description is this process's own (opened by it), false
    /// in a forked child until it has opened one: the inherited description may still be
    /// shared with the parent, so locks must not be released through it.
    owns_fd: bool,
    fork_generation: u64,
}

/// A process's attachment to one store.
#[derive(Debug)]
pub struct Attachment {
    pub(crate) path: PathBuf,
    pub(crate) dev_ino: (u64, u64),
    pub(crate) region: Region,
    pub(crate) fixed: ImmutableHeader,
    owner: AtomicU32,
    fork_generation: AtomicU64,
    side: Mutex<ProcessSide>,
    /// This process's writers and its leak sweep (see `sweep_gate`).
    pub(crate) gate: SweepGate,
}

/// What [`Attachment::begin_exclusive_use`] found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ExclusiveUse {
    /// Granted: no other process is attached, none can attach, no writer of this process
    /// runs, until [`Attachment::end_exclusive_use`].
    Granted,
    /// Other processes are attached (or this process has no description of its own).
    OthersAttached,
    /// Refused inside this process: another sweep, or writers that kept running.
    Refused(SweepRefused),
}

static TABLE: Mutex<Vec<Weak<Attachment>>> = Mutex::new(Vec::new());

/// A process-local mutex guard taken inside a [`sys::fork_gate`] section, so the process
/// never forks while the mutex is held (a child would inherit it locked for ever). Fields
/// drop in order: the mutex is released before the gate.
struct LocalGuard<'a, T> {
    guard: StdGuard<'a, T>,
    _gate: sys::ForkGate,
}

impl<T> std::ops::Deref for LocalGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.guard
    }
}

impl<T> std::ops::DerefMut for LocalGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.guard
    }
}

fn lock_std<T>(m: &Mutex<T>) -> LocalGuard<'_, T> {
    let gate = sys::fork_gate();
    LocalGuard {
        guard: m.lock().unwrap_or_else(|p| p.into_inner()),
        _gate: gate,
    }
}

/// Finds this process's live attachment to the file behind `fd`, if any.
pub(crate) fn find_attached(dev_ino: (u64, u64)) -> Option<Arc<Attachment>> {
    let mut table = lock_std(&TABLE);
    table.retain(|w| w.strong_count() > 0);
    table
        .iter()
        .filter_map(Weak::upgrade)
        .find(|a| a.dev_ino == dev_ino)
}

/// Maps an error from opening or reading a store file to an [`OpenError`]. A symlink
/// (`ELOOP` under `O_NOFOLLOW`), a directory (`EISDIR`) and a socket or device without a
/// driver (`ENXIO`) are not stores.
pub(crate) fn io_err(path: &Path, source: std::io::Error) -> OpenError {
    match source.kind() {
        std::io::ErrorKind::NotFound => OpenError::NotFound {
            path: path.to_path_buf(),
        },
        std::io::ErrorKind::PermissionDenied => OpenError::PermissionDenied {
            path: path.to_path_buf(),
        },
        _ if matches!(
            source.raw_os_error(),
            Some(libc::ELOOP | libc::EISDIR | libc::ENXIO)
        ) =>
        {
            OpenError::NotAStore {
                path: path.to_path_buf(),
            }
        }
        _ => OpenError::Io {
            path: path.to_path_buf(),
            source,
        },
    }
}

/// Reads and validates the immutable header of an open file.
/// True if the file behind `fd` (of length `len`) starts with the store magic.
pub(crate) fn starts_with_magic(fd: &OwnedFd, len: u64) -> bool {
    let mut prefix = [0u8; 8];
    len >= 8 && sys::pread_exact(fd, 0, &mut prefix).is_ok() && prefix == MAGIC
}

pub(crate) fn read_header(path: &Path, fd: &OwnedFd) -> Result<(ImmutableHeader, u64), OpenError> {
    let st = sys::fstat(fd).map_err(|e| io_err(path, e))?;
    let p = || path.to_path_buf();
    if !st.is_file {
        return Err(OpenError::NotAStore { path: p() });
    }
    if st.len == 0 {
        return Err(OpenError::Empty { path: p() });
    }
    let mut bytes = [0u8; CHECKSUMMED_LEN];
    let mut prefix = [0u8; 8];
    if st.len < 8 {
        return Err(OpenError::NotAStore { path: p() });
    }
    sys::pread_exact(fd, 0, &mut prefix).map_err(|e| io_err(path, e))?;
    if prefix != MAGIC {
        return Err(OpenError::NotAStore { path: p() });
    }
    if st.len < HEADER_LEN {
        return Err(OpenError::Truncated {
            path: p(),
            len: st.len,
            expected: HEADER_LEN,
        });
    }
    sys::pread_exact(fd, 0, &mut bytes).map_err(|e| io_err(path, e))?;
    let fixed = ImmutableHeader::from_bytes(&bytes);
    if fixed.format_version != FORMAT_VERSION {
        return Err(OpenError::UnsupportedVersion {
            path: p(),
            found: fixed.format_version,
            supported: FORMAT_VERSION,
        });
    }
    let mut stored = [0u8; 8];
    sys::pread_exact(fd, CHECKSUMMED_LEN as u64, &mut stored).map_err(|e| io_err(path, e))?;
    let stored = u64::from_le_bytes(stored);
    let computed = fixed.checksum();
    if stored != computed {
        return Err(OpenError::HeaderChecksum {
            path: p(),
            stored,
            computed,
        });
    }
    let corrupt = |reason: String| OpenError::CorruptHeader { path: p(), reason };
    let layout = Layout::new(fixed.registry_slots);
    if fixed.hash_algorithm != HASH_XXH3_64 {
        return Err(corrupt(format!(
            "unknown hash algorithm {}",
            fixed.hash_algorithm
        )));
    }
    if fixed.registry_slots == 0 || fixed.registry_slots > MAX_SLOTS {
        return Err(corrupt(format!(
            "registry slot count {}",
            fixed.registry_slots
        )));
    }
    if fixed.class_count != CLASS_COUNT
        || fixed.registry_offset != layout.registry_offset
        || fixed.class_table_offset != layout.class_table_offset
        || fixed.heap_offset != layout.heap_offset
    {
        return Err(corrupt("layout offsets do not match the format".into()));
    }
    if fixed.page_size != 4096 {
        return Err(corrupt(format!("page size {}", fixed.page_size)));
    }
    if fixed.flags & !KNOWN_FLAGS != 0 {
        return Err(corrupt(format!("unknown header flags {:#x}", fixed.flags)));
    }
    if fixed.reserved_len < fixed.heap_offset || fixed.reserved_len % 4096 != 0 {
        return Err(corrupt(format!("reserved length {}", fixed.reserved_len)));
    }
    let mut committed = [0u8; 8];
    sys::pread_exact(fd, COMMITTED_LEN_OFFSET, &mut committed).map_err(|e| io_err(path, e))?;
    let committed = u64::from_le_bytes(committed);
    if committed < fixed.heap_offset || committed > fixed.reserved_len {
        return Err(corrupt(format!("committed length {committed}")));
    }
    if st.len < committed {
        return Err(OpenError::Truncated {
            path: p(),
            len: st.len,
            expected: committed,
        });
    }
    Ok((fixed, committed))
}

/// Fixed layout of the regions after the header, derived from the slot count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub registry_offset: u64,
    pub class_table_offset: u64,
    pub heap_offset: u64,
}

impl Layout {
    pub(crate) fn new(slots: u32) -> Layout {
        let page = 4096u64;
        let registry_offset = HEADER_LEN;
        let class_table_offset = (registry_offset
            + slots as u64 * size_of::<RegistrySlot>() as u64)
            .next_multiple_of(page);
        let heap_offset = (class_table_offset + CLASS_COUNT as u64 * 64).next_multiple_of(page);
        Layout {
            registry_offset,
            class_table_offset,
            heap_offset,
        }
    }
}

impl Attachment {
    /// Maps a validated store file and registers this process in it.
    pub(crate) fn attach(
        path: PathBuf,
        fd: OwnedFd,
        fixed: ImmutableHeader,
        committed: u64,
    ) -> Result<Arc<Attachment>, OpenError> {
        let st = sys::fstat(&fd).map_err(|e| io_err(&path, e))?;
        let mapping =
            SharedMapping::new(&fd, fixed.reserved_len, true).map_err(|source| OpenError::Map {
                path: path.clone(),
                len: fixed.reserved_len,
                source,
            })?;
        // No fork from here until the lock descriptor is registered for renewal: a child
        // forked in between would share the description our liveness locks are taken on.
        let gate = sys::fork_gate();
        // Locks live on a description that is never mapped (see sys::reopen): the mapping
        // keeps `fd`'s description alive in forked children; the lock one is replaced there.
        let fd = lock_descriptor(&fd, &path, (st.dev, st.ino)).map_err(|e| io_err(&path, e))?;
        let region = Region::new(mapping, COMMITTED_LEN_OFFSET, committed);
        let fork_generation = sys::fork_generation();
        let slot = claim_slot(&path, &fd, &region, &fixed)?;
        let generation = registry_slot(&region, &fixed, slot)
            .map(|s| s.generation.load(Ordering::Relaxed))
            .unwrap_or(1);
        let att = Arc::new(Attachment {
            path,
            dev_ino: (st.dev, st.ino),
            region,
            fixed,
            owner: AtomicU32::new(owner_id(slot, generation)),
            fork_generation: AtomicU64::new(fork_generation),
            side: Mutex::new(ProcessSide {
                fd,
                slot,
                owns_slot: true,
                owns_fd: true,
                fork_generation,
            }),
            gate: SweepGate::default(),
        });
        // A child forked from now on gets its own open file description at once, so one
        // that never uses the store does not keep our liveness lock alive after we die.
        sys::renew_after_fork(&lock_std(&att.side).fd);
        drop(gate);
        let mut table = lock_std(&TABLE);
        table.retain(|w| w.strong_count() > 0);
        // Another thread may have attached the same file since our caller looked: keep one
        // attachment per file (ours is dropped, which frees its slot and descriptor).
        let existing = table
            .iter()
            .filter_map(Weak::upgrade)
            .find(|a| a.dev_ino == att.dev_ino);
        if let Some(existing) = existing {
            drop(table);
            return Ok(existing);
        }
        table.push(Arc::downgrade(&att));
        drop(table);
        att.sweep_dead();
        Ok(att)
    }

    pub(crate) fn header(&self) -> &StoreHeader {
        // The header page is always committed; its fields past the immutable part are atomics.
        self.region
            .get::<StoreHeader>(0)
            .expect("header page is always mapped")
    }

    pub(crate) fn heap(&self) -> &HeapState {
        &self.header().heap.0
    }

    pub(crate) fn directory_state(&self) -> &DirectoryState {
        &self.header().directory.0
    }

    pub(crate) fn registry_state(&self) -> &RegistryState {
        &self.header().registry.0
    }

    /// Takes a store mutex on behalf of this process. Waits while its owner lives; fails
    /// only with [`LockError::NotAttached`] (a forked child without a registry slot).
    pub(crate) fn lock<'a>(&self, mutex: &'a RobustMutex) -> Result<MutexGuard<'a>, LockError> {
        mutex.lock(self)
    }

    /// This process's owner id, re-attaching first if the process was forked.
    #[inline]
    pub(crate) fn owner_id(&self) -> OwnerId {
        // Acquire pairs with the release store at the end of `reattach_after_fork`, so a
        // thread that sees the new generation also sees the new owner id.
        if sys::fork_generation() != self.fork_generation.load(Ordering::Acquire) {
            self.reattach_after_fork();
        }
        self.owner.load(Ordering::Relaxed)
    }

    #[cold]
    fn reattach_after_fork(&self) {
        let mut side = lock_std(&self.side);
        let now = sys::fork_generation();
        if side.fork_generation == now {
            return;
        }
        // Until this child claims a slot of its own it has no identity: it must never lock
        // under its parent's id (the lock would be stolen when the parent dies, and never
        // recovered when the child dies while the parent lives).
        self.owner.store(0, Ordering::Relaxed);
        side.owns_slot = false;
        side.owns_fd = false;
        // The parent's sweep and writers do not exist in this process.
        self.gate.reset();
        self.try_claim(&mut side, 3);
        side.fork_generation = now;
        self.fork_generation.store(now, Ordering::Release);
    }

    /// Gives this process a fresh open file description and a registry slot of its own,
    /// trying `attempts` times. On failure the owner id stays 0 (locks then fail with
    /// [`LockError::NotAttached`] until a later call succeeds).
    fn try_claim(&self, side: &mut ProcessSide, attempts: u32) -> bool {
        for attempt in 0..attempts {
            if attempt > 0 {
                std::thread::sleep(std::time::Duration::from_millis(1 << attempt.min(6)));
            }
            // A new open file description of the same inode (the path may be unlinked).
            let Ok(fd) = lock_descriptor(&side.fd, &self.path, self.dev_ino) else {
                continue;
            };
            // Forget the inherited number before it is closed, then track the new one: even
            // without a slot, the child must not keep a description its parent locks through.
            sys::forget_after_fork(&side.fd);
            sys::renew_after_fork(&fd);
            side.fd = fd;
            side.owns_fd = true;
            if let Ok(slot) = claim_slot(&self.path, &side.fd, &self.region, &self.fixed) {
                let generation = registry_slot(&self.region, &self.fixed, slot)
                    .map(|s| s.generation.load(Ordering::Relaxed))
                    .unwrap_or(1);
                side.slot = slot;
                side.owns_slot = true;
                self.owner
                    .store(owner_id(slot, generation), Ordering::Relaxed);
                return true;
            }
        }
        false
    }

    pub(crate) fn with_fd<T>(&self, f: impl FnOnce(&OwnedFd) -> T) -> T {
        let _ = self.owner_id();
        let side = lock_std(&self.side);
        f(&side.fd)
    }

    /// Like [`Attachment::with_fd`], but only when the descriptor's open file description
    /// is this process's own (not one a forked child still shares with its parent).
    pub(crate) fn with_own_fd<T>(&self, f: impl FnOnce(&OwnedFd) -> T) -> Option<T> {
        let _ = self.owner_id();
        let side = lock_std(&self.side);
        side.owns_fd.then(|| f(&side.fd))
    }

    /// Enters a write operation of a collection (see `sweep_gate`): hold the guard from
    /// before the first allocation until every allocated block is published or freed.
    #[inline]
    pub(crate) fn enter_write(&self) -> super::sweep_gate::WriteGuard<'_> {
        let _ = self.owner_id(); // a forked child resets its gate first
        self.gate.enter_write()
    }

    /// True while a leak sweep of this process runs (writers would wait for it).
    #[inline]
    pub(crate) fn is_sweeping(&self) -> bool {
        self.gate.is_sweeping()
    }

    /// Exclusive use of the store for a leak sweep: this process's shared "attached" lock
    /// converted to exclusive — granted only when no other open file description holds it,
    /// so no other process is attached, and until [`Attachment::end_exclusive_use`] no
    /// process can attach (attaching waits up to `ATTACH_WAIT`) — after this process's own
    /// write operations have drained and with new ones held back (the sweep gate).
    pub(crate) fn begin_exclusive_use(&self, wait: Duration) -> std::io::Result<ExclusiveUse> {
        let _ = self.owner_id();
        if let Err(why) = self.gate.begin_sweep(wait) {
            return Ok(ExclusiveUse::Refused(why));
        }
        let result =
            self.with_own_fd(|fd| sys::try_lock_byte(fd, ATTACH_LOCK_BYTE, ByteLock::Exclusive));
        match result {
            Some(Ok(true)) => Ok(ExclusiveUse::Granted),
            Some(Ok(false)) | None => {
                self.gate.end_sweep();
                Ok(ExclusiveUse::OthersAttached)
            }
            Some(Err(e)) => {
                self.gate.end_sweep();
                Err(e)
            }
        }
    }

    /// Back to the shared "attached" lock after a granted
    /// [`Attachment::begin_exclusive_use`], and writers of this process let go. The
    /// downgrade cannot conflict; should it fail anyway, the lock is released and taken
    /// shared again (waiting like an attach), since holding it exclusively would keep every
    /// other process out. An error says this process is attached without the lock.
    pub(crate) fn end_exclusive_use(&self) -> std::io::Result<()> {
        let result = self.with_own_fd(|fd| {
            for _ in 0..3 {
                if sys::try_lock_byte(fd, ATTACH_LOCK_BYTE, ByteLock::Shared)? {
                    return Ok(());
                }
            }
            sys::try_lock_byte(fd, ATTACH_LOCK_BYTE, ByteLock::Unlock)?;
            let deadline = std::time::Instant::now() + ATTACH_WAIT;
            while !sys::try_lock_byte(fd, ATTACH_LOCK_BYTE, ByteLock::Shared)? {
                if std::time::Instant::now() >= deadline {
                    return Err(std::io::Error::other(
                        "could not take the shared \"attached\" lock back",
                    ));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            Ok(())
        });
        self.gate.end_sweep();
        result.unwrap_or(Ok(()))
    }

    pub(crate) fn my_slot(&self) -> u32 {
        let _ = self.owner_id();
        lock_std(&self.side).slot
    }

    /// Live processes attached to this store.
    pub(crate) fn attached_processes(&self) -> Vec<ProcessInfo> {
        let me = self.my_slot();
        let mut out = Vec::new();
        for slot in 0..self.fixed.registry_slots {
            let Ok(s) = registry_slot(&self.region, &self.fixed, slot) else {
                continue;
            };
            if s.state.load(Ordering::Acquire) != SLOT_ACTIVE {
                continue;
            }
            let alive = slot == me
                || self.with_fd(|fd| {
                    sys::byte_is_locked_by_other(fd, liveness_byte(slot), ByteLock::Exclusive)
                        .unwrap_or(true)
                });
            if alive {
                out.push(ProcessInfo {
                    slot,
                    pid: s.pid.load(Ordering::Relaxed),
                    attached_unix_ns: s.attached_unix_ns.load(Ordering::Relaxed),
                    is_self: slot == me,
                });
            }
        }
        out
    }

    /// True if any other process (or another open of the file) is attached.
    pub(crate) fn others_attached(&self) -> bool {
        self.with_fd(|fd| {
            sys::byte_is_locked_by_other(fd, ATTACH_LOCK_BYTE, ByteLock::Exclusive).unwrap_or(true)
        })
    }

    /// Frees the slots of processes that died attached. Returns how many were reclaimed.
    pub(crate) fn sweep_dead(&self) -> u32 {
        let mut reclaimed = 0;
        let me = self.my_slot();
        for slot in 0..self.fixed.registry_slots {
            if slot == me {
                continue;
            }
            let Ok(s) = registry_slot(&self.region, &self.fixed, slot) else {
                continue;
            };
            if s.state.load(Ordering::Acquire) != SLOT_ACTIVE {
                continue;
            }
            let took = self.with_fd(|fd| {
                let byte = liveness_byte(slot);
                if sys::try_lock_byte(fd, byte, ByteLock::Exclusive).unwrap_or(false) {
                    // We hold the dead slot's lock: nobody else can claim it while we clean.
                    if s.state.load(Ordering::Acquire) == SLOT_ACTIVE {
                        s.epoch.store(0, Ordering::Relaxed);
                        s.state.store(SLOT_FREE, Ordering::Release);
                        self.registry_state()
                            .reclaimed_count
                            .fetch_add(1, Ordering::Relaxed);
                    }
                    let _ = sys::try_lock_byte(fd, byte, ByteLock::Unlock);
                    true
                } else {
                    false
                }
            });
            if took {
                reclaimed += 1;
            }
        }
        reclaimed
    }

    /// Grows the file so that `[0, end)` is backed, under the growth lock.
    pub(crate) fn ensure_committed(&self, end: u64) -> Result<(), AllocError> {
        if end <= self.region.committed_len() {
            return Ok(());
        }
        let reserved = self.fixed.reserved_len;
        if end > reserved {
            return Err(AllocError::ReservationExceeded {
                needed: end,
                reserved,
            });
        }
        let growth = &self.header().growth.0;
        let mut guard = self.lock(&growth.lock)?;
        if guard.recovered() {
            // Growth is idempotent (committed_len is published last): nothing to repair.
            guard.mark_consistent();
        }
        let committed = self.region.committed_len();
        if end <= committed {
            return Ok(());
        }
        const STEP: u64 = 1 << 20;
        let generous = end
            .max(committed + committed / 8)
            .next_multiple_of(STEP)
            .min(reserved);
        let exact = end.next_multiple_of(4096).min(reserved);
        let result = self.with_fd(|fd| {
            sys::fallocate(fd, committed, generous - committed)
                .map(|_| generous)
                .or_else(|_| sys::fallocate(fd, committed, exact - committed).map(|_| exact))
                .map_err(|e| (e, sys::available_space(fd).unwrap_or(0)))
        });
        match result {
            Ok(new_len) => {
                self.region.publish_committed(new_len);
                growth.grow_count.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err((e, available)) if e.raw_os_error() == Some(libc::ENOSPC) => {
                Err(AllocError::StoreFull {
                    needed: exact - committed,
                    available,
                })
            }
            Err((e, _)) => Err(AllocError::Io(e)),
        }
    }
}

pub(crate) fn registry_slot<'a>(
    region: &'a Region,
    fixed: &ImmutableHeader,
    slot: u32,
) -> Result<&'a RegistrySlot, crate::raw::OutOfBounds> {
    region.get(fixed.registry_offset + slot as u64 * size_of::<RegistrySlot>() as u64)
}

/// How long attaching waits while another process holds the "attached" lock exclusively
/// (removing the store, or sweeping its leaked blocks in a repair).
const ATTACH_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

fn claim_slot(
    path: &Path,
    fd: &OwnedFd,
    region: &Region,
    fixed: &ImmutableHeader,
) -> Result<u32, OpenError> {
    let io = |e| io_err(path, e);
    // Shared "attached" lock; removal and the leak sweep of a repair take it exclusively
    // for a bounded time (see `begin_exclusive_use`).
    let deadline = std::time::Instant::now() + ATTACH_WAIT;
    while !sys::try_lock_byte(fd, ATTACH_LOCK_BYTE, ByteLock::Shared).map_err(io)? {
        if std::time::Instant::now() >= deadline {
            return Err(OpenError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::other(
                    "store is locked for removal or maintenance (a repair is sweeping it)",
                ),
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    // First pass: slots marked free; second pass: any slot (a dead process's). Start where
    // the attach count points, so claims rotate over the slots and each slot's 21-bit
    // generation (part of lock owner ids) wraps as late as possible.
    let slots = fixed.registry_slots;
    let start = region
        .get::<StoreHeader>(0)
        .map(|h| h.registry.0.attach_count.load(Ordering::Relaxed) % slots as u64)
        .unwrap_or(0) as u32;
    for pass in 0..2 {
        for i in 0..slots {
            let slot = (start + i) % slots;
            let s = registry_slot(region, fixed, slot).map_err(|e| OpenError::CorruptHeader {
                path: path.to_path_buf(),
                reason: e.to_string(),
            })?;
            if pass == 0 && s.state.load(Ordering::Acquire) != SLOT_FREE {
                continue;
            }
            if !sys::try_lock_byte(fd, liveness_byte(slot), ByteLock::Exclusive).map_err(io)? {
                continue;
            }
            let state = &region
                .get::<StoreHeader>(0)
                .expect("header mapped")
                .registry
                .0;
            if s.state.load(Ordering::Acquire) == SLOT_ACTIVE {
                state.reclaimed_count.fetch_add(1, Ordering::Relaxed);
            }
            let generation = next_generation(s.generation.load(Ordering::Relaxed));
            s.generation.store(generation, Ordering::Release);
            let pid = sys::current_pid();
            s.pid.store(pid, Ordering::Relaxed);
            s.start_time
                .store(process_start_time(pid), Ordering::Relaxed);
            s.attached_unix_ns
                .store(sys::unix_time_ns(), Ordering::Relaxed);
            s.epoch.store(0, Ordering::Relaxed);
            s.state.store(SLOT_ACTIVE, Ordering::Release);
            state.attach_count.fetch_add(1, Ordering::Relaxed);
            return Ok(slot);
        }
    }
    Err(OpenError::RegistryFull {
        path: path.to_path_buf(),
        slots: fixed.registry_slots,
    })
}

impl OwnerRegistry for Attachment {
    fn my_owner_id(&self) -> Result<OwnerId, LockError> {
        let id = self.owner_id();
        if id != 0 {
            return Ok(id);
        }
        // A forked child that found no free slot earlier: try again (one attempt per call).
        let mut side = lock_std(&self.side);
        if self.owner.load(Ordering::Relaxed) == 0 {
            self.try_claim(&mut side, 1);
        }
        match self.owner.load(Ordering::Relaxed) {
            0 => Err(LockError::NotAttached),
            id => Ok(id),
        }
    }

    fn is_owner_alive(&self, owner: OwnerId) -> bool {
        let (slot, generation) = split_owner_id(owner);
        if slot >= self.fixed.registry_slots {
            return false; // not an id any process can hold
        }
        let Ok(s) = registry_slot(&self.region, &self.fixed, slot) else {
            return true;
        };
        if s.generation.load(Ordering::Acquire) != generation
            || s.state.load(Ordering::Acquire) != SLOT_ACTIVE
        {
            return false; // the slot was reclaimed or released: its old owner is gone
        }
        if owner == self.owner_id() {
            return true;
        }
        // Never report a live process dead: on any error, assume alive.
        self.with_fd(|fd| {
            sys::byte_is_locked_by_other(fd, liveness_byte(slot), ByteLock::Exclusive)
                .unwrap_or(true)
        })
    }
}

impl Drop for Attachment {
    fn drop(&mut self) {
        let side = lock_std(&self.side);
        // A forked child that never re-attached must not release its parent's slot.
        if side.owns_slot
            && side.fork_generation == sys::fork_generation()
            && let Ok(s) = registry_slot(&self.region, &self.fixed, side.slot)
        {
            s.state.store(SLOT_FREE, Ordering::Release);
        }
        // Release our byte locks now, inside the fork gate: a child forked between here and
        // the close below inherits a description that holds nothing. Then stop renewing the
        // descriptor in forked children before its number is released.
        // Only through a description this process opened itself: a forked child that could
        // not open one may still share its parent's (if the fork handler could not renew it
        // either), and unlocking through it would release the parent's locks. Closing a
        // renewed or own description releases its locks anyway.
        if side.owns_fd && side.fork_generation == sys::fork_generation() {
            if self.fixed.flags & FLAG_REMOVE_WHEN_UNUSED != 0 {
                self.remove_if_last(&side.fd);
            }
            if side.owns_slot {
                let _ = sys::try_lock_byte(&side.fd, liveness_byte(side.slot), ByteLock::Unlock);
            }
            let _ = sys::try_lock_byte(&side.fd, ATTACH_LOCK_BYTE, ByteLock::Unlock);
        }
        sys::forget_after_fork(&side.fd);
        // Closing the fd (when `side` drops) releases the OFD locks.
    }
}

impl Attachment {
    /// The last detach of a store created with `remove_when_unused`: removes its name if no
    /// other process is attached. The exclusive "attached" lock is granted only when no other
    /// description holds it, and keeps attachers out until this process closes its
    /// descriptor (right after); only the file this attachment maps is unlinked. Errors are
    /// ignored: the store then stays, as if the option were off (`shmkit gc` removes it).
    fn remove_if_last(&self, own_fd: &OwnedFd) {
        if sys::try_lock_byte(own_fd, ATTACH_LOCK_BYTE, ByteLock::Exclusive).unwrap_or(false) {
            let _ = super::remove::unlink_if_same(&self.path, self.dev_ino);
        }
    }
}

/// Writes a fresh header into a newly created (unpublished) file's mapping.
pub(crate) fn init_header(region: &Region, fixed: &ImmutableHeader, committed: u64) {
    let bytes = fixed.to_bytes();
    region
        .write_bytes(0, &bytes)
        .expect("header page is committed");
    region
        .write_bytes(CHECKSUMMED_LEN as u64, &fixed.checksum().to_le_bytes())
        .expect("header page is committed");
    region.publish_committed(committed);
    let header = region
        .get::<StoreHeader>(0)
        .expect("header page is committed");
    header
        .heap
        .0
        .heap_top
        .store(fixed.heap_offset, Ordering::Release);
}

/// The magic value the header must start with (re-exported for tests that forge files).
pub const STORE_MAGIC: [u8; 8] = MAGIC;
