//! The process registry: one 64-byte slot per attached process.
//!
//! Invariants:
//! - a process owns slot `s` exactly while it holds the exclusive OFD lock on file byte
//!   `1 + s`; the kernel releases it when the process dies, whatever its PID namespace;
//! - every attached process also holds a shared OFD lock on byte 0, so "is anyone else
//!   attached?" is one `F_OFD_GETLK`;
//! - claiming a slot increments its `generation` (21 bits, never 0). A lock owner id is
//!   `generation << 10 | slot`, so an id from a dead process never matches a reused slot;
//! - `pid` and `start_time` are for humans only: liveness never depends on them.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-registry-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let procs = store.attached_processes().unwrap();
//! assert_eq!(procs.len(), 1);
//! assert_eq!(procs[0].pid, std::process::id());
//! Store::remove(&name).unwrap();
//! ```

use crate::sync::OwnerId;
use crate::sync::atomic::{AtomicU32, AtomicU64};
use zerocopy::{FromBytes, KnownLayout};

/// Registry slots per store (the maximum number of processes attached at once).
pub const DEFAULT_SLOTS: u32 = 1024;
/// Bits of an owner id that hold the slot index.
pub const SLOT_BITS: u32 = 10;
/// Largest supported slot count.
pub const MAX_SLOTS: u32 = 1 << SLOT_BITS;
const GENERATION_MASK: u32 = (1 << 21) - 1;

/// Slot is unused.
pub const SLOT_FREE: u32 = 0;
/// Slot belongs to an attached process (alive while its liveness lock is held).
pub const SLOT_ACTIVE: u32 = 1;

/// File byte locked shared by every attached process.
pub const ATTACH_LOCK_BYTE: u64 = 0;

/// File byte whose exclusive lock marks slot `slot` as owned by a live process.
pub fn liveness_byte(slot: u32) -> u64 {
    1 + slot as u64
}

/// One registry slot (64 bytes, shared).
#[repr(C)]
#[derive(Debug, Default, FromBytes, KnownLayout)]
pub struct RegistrySlot {
    /// [`SLOT_FREE`] or [`SLOT_ACTIVE`].
    pub state: AtomicU32,
    /// Incremented on every claim; part of the owner id.
    pub generation: AtomicU32,
    /// PID of the process, for display.
    pub pid: AtomicU32,
    /// Reserved.
    pub _pad: AtomicU32,
    /// Process start time in clock ticks since boot (`/proc/self/stat` field 22), for display.
    pub start_time: AtomicU64,
    /// When the process attached, nanoseconds since the Unix epoch.
    pub attached_unix_ns: AtomicU64,
    /// Reader epoch for deferred reuse (0 = not inside a read).
    pub epoch: AtomicU64,
    /// Reserved.
    pub _reserved: [AtomicU64; 3],
}

const _: () = assert!(size_of::<RegistrySlot>() == 64);

/// Builds an owner id from a slot index and generation.
pub fn owner_id(slot: u32, generation: u32) -> OwnerId {
    ((generation & GENERATION_MASK) << SLOT_BITS) | slot
}

/// Splits an owner id into (slot, generation).
pub fn split_owner_id(id: OwnerId) -> (u32, u32) {
    (id & (MAX_SLOTS - 1), id >> SLOT_BITS)
}

/// The next generation after `g` (wraps within 21 bits, skipping 0).
pub fn next_generation(g: u32) -> u32 {
    let n = (g.wrapping_add(1)) & GENERATION_MASK;
    if n == 0 { 1 } else { n }
}

/// Start time of the calling process in clock ticks since boot, or 0 if unknown.
pub fn process_start_time(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    let Some(rest) = stat.rfind(')').map(|i| &stat[i + 1..]) else {
        return 0;
    };
    // rest starts with " S ppid ..." : field 3 is index 0; field 22 is index 19.
    rest.split_whitespace()
        .nth(19)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// What [`crate::Store::attached_processes`] reports per live process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    /// Registry slot.
    pub slot: u32,
    /// PID as recorded at attach (in the attaching process's PID namespace).
    pub pid: u32,
    /// Nanoseconds since the Unix epoch when it attached.
    pub attached_unix_ns: u64,
    /// True for the calling process.
    pub is_self: bool,
}
