//! Read-only inspection of a store file *without attaching to it*: file facts, whether it
//! is a store (by the same validation [`crate::Store::open`] applies), and the process
//! registry with each slot's liveness.
//!
//! Attaching claims a registry slot and sweeps dead processes' slots, so it would hide
//! exactly the stale state `shmkit ls`, `check` and `gc` report. [`inspect`] reads the
//! header and registry with `pread` through a read-only descriptor and asks the kernel about
//! the byte locks (`F_OFD_GETLK`), changing nothing.
//!
//! Invariants: never writes, maps or locks; trusts nothing it reads (the registry is read
//! only after the header validated, and within the file); a file that is not a store gives
//! an [`Inspection`] with `header_ok == false` and the reason in `header_error`, never a
//! panic; a slot whose liveness cannot be asked is reported alive (a live process is never
//! called dead).
//!
//! ```
//! use shmkit::store::inspect::inspect;
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-inspect-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let _ = store.owner_id(); // registered
//! let facts = inspect(store.path());
//! assert!(facts.header_ok);
//! assert_eq!(facts.live_slots().count(), 1);
//! Store::remove(&name).unwrap();
//! ```

use super::attach::{io_err, read_header, starts_with_magic};
use super::error::OpenError;
use super::header::ImmutableHeader;
use super::registry::{ATTACH_LOCK_BYTE, RegistrySlot, SLOT_ACTIVE, liveness_byte};
use crate::sync::atomic::{AtomicU32, Ordering};
use crate::sys::{self, ByteLock, OpenMode};
use std::mem::size_of;
use std::path::Path;
use zerocopy::FromBytes;

/// A registry slot marked active.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SlotFacts {
    /// Slot index.
    pub slot: u32,
    /// Slot generation (part of lock owner ids).
    pub generation: u32,
    /// PID recorded at attach (in the attaching process's PID namespace).
    pub pid: u32,
    /// Attach time, ns since the Unix epoch.
    pub attached_unix_ns: u64,
    /// Process start time (clock ticks since boot), to tell PID reuse apart.
    pub start_time: u64,
    /// True while the process holds the slot's liveness lock.
    pub alive: bool,
}

/// What [`inspect`] found.
#[derive(Debug, Default)]
pub struct Inspection {
    /// Could the file be opened and `stat`ed? If not, why.
    pub open_error: Option<std::io::Error>,
    /// File length in bytes.
    pub file_len: u64,
    /// Bytes allocated on the file system (memory actually used in `/dev/shm`).
    pub disk_bytes: u64,
    /// A regular file?
    pub is_file: bool,
    /// Permission bits.
    pub mode: u32,
    /// Owner uid.
    pub uid: u32,
    /// Starts with the store magic.
    pub has_magic: bool,
    /// The header passes every check `Store::open` makes.
    pub header_ok: bool,
    /// Why it does not, when the file has the magic but `header_ok` is false.
    pub header_error: Option<OpenError>,
    /// The immutable header, when `header_ok`.
    pub header: Option<ImmutableHeader>,
    /// Committed length from the header, when `header_ok`.
    pub committed_len: Option<u64>,
    /// Active registry slots, when `header_ok`.
    pub slots: Vec<SlotFacts>,
    /// Some other open file description holds the "attached" lock.
    pub in_use: bool,
}

impl Inspection {
    /// Slots of live processes.
    pub fn live_slots(&self) -> impl Iterator<Item = &SlotFacts> {
        self.slots.iter().filter(|s| s.alive)
    }

    /// Slots still marked active whose process is gone.
    pub fn dead_slots(&self) -> impl Iterator<Item = &SlotFacts> {
        self.slots.iter().filter(|s| !s.alive)
    }
}

/// Inspects the file at `path` (see the module docs).
pub fn inspect(path: &Path) -> Inspection {
    let mut p = Inspection::default();
    let fd = match sys::open_file(path, OpenMode::ReadOnly, 0) {
        Ok(fd) => fd,
        Err(e) => {
            p.open_error = Some(e);
            return p;
        }
    };
    match sys::fstat(&fd) {
        Ok(st) => {
            p.file_len = st.len;
            p.disk_bytes = st.allocated;
            p.is_file = st.is_file;
            p.mode = st.mode & 0o7777;
            p.uid = st.uid;
        }
        Err(e) => {
            p.open_error = Some(e);
            return p;
        }
    }
    p.has_magic = p.is_file && starts_with_magic(&fd, p.file_len);
    if !p.has_magic {
        return p;
    }
    let (fixed, committed) = match read_header(path, &fd) {
        Ok(h) => h,
        Err(e) => {
            p.header_error = Some(e);
            return p;
        }
    };
    p.header_ok = true;
    p.header = Some(fixed);
    p.committed_len = Some(committed);
    // On error, say "in use": never let a removal or gc act on a store that may be.
    p.in_use =
        sys::byte_is_locked_by_other(&fd, ATTACH_LOCK_BYTE, ByteLock::Exclusive).unwrap_or(true);
    // read_header checked the layout: the registry lies inside the committed file.
    let slot_len = size_of::<RegistrySlot>();
    let mut table = vec![0u8; fixed.registry_slots as usize * slot_len];
    if let Err(e) = sys::pread_exact(&fd, fixed.registry_offset, &mut table) {
        p.header_ok = false;
        p.header_error = Some(io_err(path, e));
        return p;
    }
    let slots = table
        .chunks_exact(slot_len)
        .filter_map(|b| RegistrySlot::read_from_bytes(b).ok());
    for (slot, facts) in (0..fixed.registry_slots).zip(slots) {
        let word = |a: &AtomicU32| a.load(Ordering::Relaxed);
        if word(&facts.state) != SLOT_ACTIVE {
            continue;
        }
        // On error, say "alive": never call a live process dead.
        let alive = sys::byte_is_locked_by_other(&fd, liveness_byte(slot), ByteLock::Exclusive)
            .unwrap_or(true);
        p.slots.push(SlotFacts {
            slot,
            generation: word(&facts.generation),
            pid: word(&facts.pid),
            attached_unix_ns: facts.attached_unix_ns.load(Ordering::Relaxed),
            start_time: facts.start_time.load(Ordering::Relaxed),
            alive,
        });
    }
    p
}
