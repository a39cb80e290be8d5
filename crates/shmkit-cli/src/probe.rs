//! Read-only inspection of a store file *without attaching to it*: file sizes, whether the
//! header looks like a store, and the process registry with each slot's liveness.
//!
//! Attaching (`Store::open`) claims a registry slot and sweeps dead processes' slots, so it
//! would hide exactly the stale state `ls`, `check` and `gc` want to report. The probe reads
//! the header and registry with `pread` through a read-only descriptor and asks the kernel
//! about the liveness byte locks (`F_OFD_GETLK`), changing nothing.
//!
//! Invariants: the probe never writes, never maps, never takes a lock; it trusts nothing it
//! reads (offsets are checked against the file length); a file that is not a store yields a
//! [`Probe`] with `header_ok == false`, never an error. Precise header diagnostics are left
//! to `Store::open`.
//!
//! ```text
//! let p = probe(Path::new("/dev/shm/shmkit.cache"));
//! p.live_slots().count()   // attached processes
//! p.dead_slots().count()   // slots of processes that died attached (not yet swept)
//! ```

use shmkit::store::header::{CHECKSUMMED_LEN, FORMAT_VERSION, HEADER_LEN, ImmutableHeader, MAGIC};
use shmkit::store::registry::{
    ATTACH_LOCK_BYTE, MAX_SLOTS, RegistrySlot, SLOT_ACTIVE, liveness_byte,
};
use shmkit::sys::{self, ByteLock, OpenMode};
use std::mem::{offset_of, size_of};
use std::path::Path;

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

/// What the probe found.
#[derive(Debug, Default)]
pub struct Probe {
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
    /// Magic, version and header checksum all match.
    pub header_ok: bool,
    /// The immutable header, when `header_ok`.
    pub header: Option<ImmutableHeader>,
    /// Committed length from the header, when `header_ok`.
    pub committed_len: Option<u64>,
    /// Active registry slots, when `header_ok`.
    pub slots: Vec<SlotFacts>,
    /// Some other open file description holds the "attached" lock.
    pub in_use: bool,
}

impl Probe {
    /// Slots of live processes.
    pub fn live_slots(&self) -> impl Iterator<Item = &SlotFacts> {
        self.slots.iter().filter(|s| s.alive)
    }

    /// Slots still marked active whose process is gone.
    pub fn dead_slots(&self) -> impl Iterator<Item = &SlotFacts> {
        self.slots.iter().filter(|s| !s.alive)
    }
}

fn u32_at(b: &[u8], i: usize) -> u32 {
    b.get(i..i + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .unwrap_or(0)
}

fn u64_at(b: &[u8], i: usize) -> u64 {
    b.get(i..i + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

/// Inspects the file at `path` (see the module docs).
pub fn probe(path: &Path) -> Probe {
    let mut p = Probe::default();
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
    if !p.is_file || p.file_len < HEADER_LEN {
        p.has_magic = p.is_file && p.file_len >= 8 && {
            let mut m = [0u8; 8];
            sys::pread_exact(&fd, 0, &mut m).is_ok() && m == MAGIC
        };
        return p;
    }
    let mut page = vec![0u8; HEADER_LEN as usize];
    if sys::pread_exact(&fd, 0, &mut page).is_err() {
        return p;
    }
    p.has_magic = page[..8] == MAGIC;
    let mut fixed_bytes = [0u8; CHECKSUMMED_LEN];
    fixed_bytes.copy_from_slice(&page[..CHECKSUMMED_LEN]);
    let fixed = ImmutableHeader::from_bytes(&fixed_bytes);
    let stored_checksum = u64_at(&page, CHECKSUMMED_LEN);
    p.header_ok = p.has_magic
        && fixed.format_version == FORMAT_VERSION
        && stored_checksum == fixed.checksum()
        && fixed.registry_slots <= MAX_SLOTS;
    if !p.header_ok {
        return p;
    }
    p.header = Some(fixed);
    p.committed_len = Some(u64_at(
        &page,
        shmkit::store::header::COMMITTED_LEN_OFFSET as usize,
    ));
    p.in_use =
        sys::byte_is_locked_by_other(&fd, ATTACH_LOCK_BYTE, ByteLock::Exclusive).unwrap_or(false);
    let slot_len = size_of::<RegistrySlot>();
    let table_len = fixed.registry_slots as usize * slot_len;
    if fixed.registry_offset.saturating_add(table_len as u64) > p.file_len {
        return p;
    }
    let mut table = vec![0u8; table_len];
    if sys::pread_exact(&fd, fixed.registry_offset, &mut table).is_err() {
        return p;
    }
    for slot in 0..fixed.registry_slots {
        let b = &table[slot as usize * slot_len..(slot as usize + 1) * slot_len];
        if u32_at(b, offset_of!(RegistrySlot, state)) != SLOT_ACTIVE {
            continue;
        }
        // On error, say "alive": never call a live process dead.
        let alive = sys::byte_is_locked_by_other(&fd, liveness_byte(slot), ByteLock::Exclusive)
            .unwrap_or(true);
        p.slots.push(SlotFacts {
            slot,
            generation: u32_at(b, offset_of!(RegistrySlot, generation)),
            pid: u32_at(b, offset_of!(RegistrySlot, pid)),
            attached_unix_ns: u64_at(b, offset_of!(RegistrySlot, attached_unix_ns)),
            start_time: u64_at(b, offset_of!(RegistrySlot, start_time)),
            alive,
        });
    }
    p
}

/// The command name of the process in `slot`, if it is visible in this PID namespace and
/// is the same process (its start time matches; otherwise the PID was reused or belongs to
/// another namespace).
pub fn process_name(slot: &SlotFacts) -> Option<String> {
    let start = shmkit::store::registry::process_start_time(slot.pid);
    if start == 0 || (slot.start_time != 0 && start != slot.start_time) {
        return None;
    }
    std::fs::read_to_string(format!("/proc/{}/comm", slot.pid))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// The JSON object `ls --json` and `stat --json` print for an attached process.
pub fn process_json(slot: &SlotFacts) -> crate::json::Json {
    crate::json::Json::obj([
        ("pid", crate::json::Json::from(slot.pid)),
        ("slot", crate::json::Json::from(slot.slot)),
        (
            "attached_unix_ns",
            crate::json::Json::from(slot.attached_unix_ns),
        ),
        ("command", crate::json::Json::from(process_name(slot))),
    ])
}
