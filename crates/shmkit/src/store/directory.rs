//! The directory: named objects inside one store (`name → kind, root offset`).
//!
//! A chain of directory pages, each holding [`ENTRIES_PER_PAGE`] entries of 128 bytes. An
//! entry is written completely (kind, name, root) and then published by storing
//! `state = READY` (release); readers ignore entries that are not ready, so a creator killed
//! half-way leaves nothing visible (its allocations are leaked, never half-used). Changes are
//! serialised by the directory's robust mutex; lookups are lock-free (entries never change
//! once ready).
//!
//! ```
//! use shmkit::{Store, StoreOptions, ObjectKind};
//! let name = format!("doc-directory-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let root = store.object_or_create("users", ObjectKind::HashMap, |s| s.alloc(64)).unwrap();
//! assert_eq!(store.object("users", ObjectKind::HashMap).unwrap(), root);
//! assert!(store.object("users", ObjectKind::Deque).is_err());
//! Store::remove(&name).unwrap();
//! ```

use super::attach::Attachment;
use super::error::{AllocError, DirectoryError};
use crate::raw::OutOfBounds;
use crate::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use zerocopy::{FromBytes, KnownLayout};

/// Longest object name in bytes.
pub const MAX_OBJECT_NAME: usize = 96;
/// Entries per directory page.
pub const ENTRIES_PER_PAGE: u64 = 63;
const ENTRY_READY: u32 = 1;

/// The kinds of objects a directory entry can name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ObjectKind {
    /// [`crate::HashMap`] (binary keys and values).
    HashMap,
    /// Ordered map / prefix tree.
    OrderedMap,
    /// Double-ended queue.
    Deque,
    /// Priority queue.
    PriorityQueue,
    /// Vector of atomic i64.
    AtomicVector,
    /// Ring buffer.
    Ring,
    /// Object pool.
    Pool,
    /// Shared log.
    Log,
    /// Fixed-size array of plain records ([`crate::Array`]).
    Array,
    /// Raw block for tests and experiments.
    Raw,
    /// A kind this build does not know (written by a newer version).
    Unknown(u32),
}

impl ObjectKind {
    /// The wire code of the kind.
    pub fn code(self) -> u32 {
        match self {
            ObjectKind::HashMap => 1,
            ObjectKind::OrderedMap => 2,
            ObjectKind::Deque => 3,
            ObjectKind::PriorityQueue => 4,
            ObjectKind::AtomicVector => 5,
            ObjectKind::Ring => 6,
            ObjectKind::Pool => 7,
            ObjectKind::Log => 8,
            ObjectKind::Array => 9,
            ObjectKind::Raw => 100,
            ObjectKind::Unknown(c) => c,
        }
    }

    /// The kind for a wire code.
    pub fn from_code(code: u32) -> ObjectKind {
        match code {
            1 => ObjectKind::HashMap,
            2 => ObjectKind::OrderedMap,
            3 => ObjectKind::Deque,
            4 => ObjectKind::PriorityQueue,
            5 => ObjectKind::AtomicVector,
            6 => ObjectKind::Ring,
            7 => ObjectKind::Pool,
            8 => ObjectKind::Log,
            9 => ObjectKind::Array,
            100 => ObjectKind::Raw,
            c => ObjectKind::Unknown(c),
        }
    }

    /// Human name, as shown by the CLI.
    pub fn name(self) -> String {
        match self {
            ObjectKind::HashMap => "hash_map".into(),
            ObjectKind::OrderedMap => "ordered_map".into(),
            ObjectKind::Deque => "deque".into(),
            ObjectKind::PriorityQueue => "priority_queue".into(),
            ObjectKind::AtomicVector => "atomic_vector".into(),
            ObjectKind::Ring => "ring".into(),
            ObjectKind::Pool => "pool".into(),
            ObjectKind::Log => "log".into(),
            ObjectKind::Array => "array".into(),
            ObjectKind::Raw => "raw".into(),
            ObjectKind::Unknown(c) => format!("unknown({c})"),
        }
    }
}

/// One directory entry (128 bytes, shared).
#[repr(C)]
#[derive(Debug, FromBytes, KnownLayout)]
pub struct DirectoryEntry {
    /// 0 = empty, 1 = ready.
    pub state: AtomicU32,
    /// [`ObjectKind::code`].
    pub kind: AtomicU32,
    /// Bytes of `name` in use.
    pub name_len: AtomicU32,
    /// Reserved.
    pub _pad: AtomicU32,
    /// Offset of the object's root block.
    pub root: AtomicU64,
    /// Creation time, ns since the Unix epoch.
    pub created_unix_ns: AtomicU64,
    /// UTF-8 name, `name_len` bytes, little-endian in these words. Only ever copied in and
    /// out racily by offset (`Region::read_bytes`/`write_bytes`); atomics, not plain bytes,
    /// because an entry slot is reused and its name rewritten while other processes hold
    /// references to the entry.
    pub name: [AtomicU64; MAX_OBJECT_NAME / 8],
}

/// A directory page header (16 bytes), followed by the entries.
#[repr(C)]
#[derive(Debug, FromBytes, KnownLayout)]
pub struct DirectoryPage {
    /// Offset of the next page, 0 at the end.
    pub next: AtomicU64,
    /// Entries in use on this page (written before they are ready).
    pub used: AtomicU64,
}

const _: () = assert!(size_of::<DirectoryEntry>() == 128);
const _: () = assert!(std::mem::offset_of!(DirectoryEntry, name) == 32);
const _: () = assert!(MAX_OBJECT_NAME % 8 == 0);
const PAGE_BYTES: u64 = 16 + ENTRIES_PER_PAGE * 128;

/// A published object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: ObjectKind,
    /// Offset of its root block.
    pub root: u64,
}

fn validate_object_name(name: &str) -> Result<(), DirectoryError> {
    let bad = |reason| DirectoryError::InvalidName {
        name: name.to_string(),
        reason,
    };
    if name.is_empty() {
        return Err(bad("empty"));
    }
    if name.len() > MAX_OBJECT_NAME {
        return Err(bad("longer than 96 bytes"));
    }
    if name.contains('\0') {
        return Err(bad("contains a NUL byte"));
    }
    Ok(())
}

impl Attachment {
    fn entry_at(&self, page: u64, i: u64) -> Result<&DirectoryEntry, OutOfBounds> {
        self.region.get(page + 16 + i * 128)
    }

    fn entry_name(&self, e: &DirectoryEntry, page: u64, i: u64) -> Result<String, OutOfBounds> {
        let len = (e.name_len.load(Ordering::Relaxed) as usize).min(MAX_OBJECT_NAME);
        let mut buf = vec![0u8; len];
        self.region.read_bytes(page + 16 + i * 128 + 32, &mut buf)?;
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    /// Calls `f` with every published entry (and its page and index), in creation order,
    /// until it returns `Ok(false)`.
    fn scan(
        &self,
        mut f: impl FnMut(&DirectoryEntry, u64, u64) -> Result<bool, OutOfBounds>,
    ) -> Result<(), OutOfBounds> {
        let mut page = self.directory_state().first_page.load(Ordering::Acquire);
        let mut pages = 0u64;
        while page != 0 {
            pages += 1;
            if pages > self.region.committed_len() / PAGE_BYTES + 1 {
                break; // a cycle in a corrupt store
            }
            let p: &DirectoryPage = self.region.get(page)?;
            for i in 0..ENTRIES_PER_PAGE {
                let e = self.entry_at(page, i)?;
                if e.state.load(Ordering::Acquire) != ENTRY_READY {
                    continue;
                }
                if !f(e, page, i)? {
                    return Ok(());
                }
            }
            page = p.next.load(Ordering::Acquire);
        }
        Ok(())
    }

    fn info(&self, e: &DirectoryEntry, page: u64, i: u64) -> Result<ObjectInfo, OutOfBounds> {
        Ok(ObjectInfo {
            name: self.entry_name(e, page, i)?,
            kind: ObjectKind::from_code(e.kind.load(Ordering::Relaxed)),
            root: e.root.load(Ordering::Relaxed),
        })
    }

    /// Every published object, in creation order.
    pub(crate) fn objects(&self) -> Result<Vec<ObjectInfo>, OutOfBounds> {
        let mut out = Vec::new();
        self.scan(|e, page, i| {
            out.push(self.info(e, page, i)?);
            Ok(true)
        })?;
        Ok(out)
    }

    /// The published object `name`: compares names in place (no copy of the others), so
    /// opening an object costs one pass over the directory without allocating. The pass
    /// goes on to the end after a match, so a damaged chain of pages is an error, never a
    /// half-read directory.
    pub(crate) fn find_object(&self, name: &str) -> Result<Option<ObjectInfo>, OutOfBounds> {
        let mut found = None;
        self.scan(|e, page, i| {
            let len = e.name_len.load(Ordering::Relaxed) as usize;
            if found.is_some() || len != name.len()
                || !self
                    .region
                    .bytes_equal(page + 16 + i * 128 + 32, name.as_bytes())?
            {
                return Ok(true);
            }
            // The full entry, re-read: the same name as the lossy decoding `objects` gives.
            let info = self.info(e, page, i)?;
            if info.name == name {
                found = Some(info);
            }
            Ok(true)
        })?;
        Ok(found)
    }

    /// The root of object `name`, which must be of kind `kind`.
    pub(crate) fn object(&self, name: &str, kind: ObjectKind) -> Result<u64, DirectoryError> {
        validate_object_name(name)?;
        match self.find_object(name)? {
            Some(o) if o.kind == kind => Ok(o.root),
            Some(o) => Err(DirectoryError::WrongKind {
                name: name.into(),
                found: o.kind.name(),
                expected: kind.name(),
            }),
            None => Err(DirectoryError::NotFound(name.into())),
        }
    }

    /// The root of object `name`, creating it with `init` (which returns the new root) if
    /// it does not exist. Exactly one process's `init` result is ever published per name.
    pub(crate) fn object_or_create(
        &self,
        name: &str,
        kind: ObjectKind,
        init: impl FnOnce() -> Result<u64, AllocError>,
    ) -> Result<u64, DirectoryError> {
        match self.object(name, kind) {
            Err(DirectoryError::NotFound(_)) => {}
            other => return other,
        }
        let state = self.directory_state();
        let mut guard = self.lock(&state.lock)?;
        if guard.recovered() {
            // Entries are published by one store; unpublished ones are simply ignored.
            guard.mark_consistent();
        }
        match self.object(name, kind) {
            Err(DirectoryError::NotFound(_)) => {}
            other => return other,
        }
        // Find a free entry, adding a page if every page is full.
        let mut page = state.first_page.load(Ordering::Acquire);
        let mut last: Option<&DirectoryPage> = None;
        let mut slot = None;
        let mut pages = 0u64;
        while page != 0 {
            pages += 1;
            if pages > self.region.committed_len() / PAGE_BYTES + 1 {
                return Err(DirectoryError::OutOfBounds(OutOfBounds {
                    offset: page,
                    len: PAGE_BYTES,
                    committed: self.region.committed_len(),
                }));
            }
            let p: &DirectoryPage = self.region.get(page)?;
            for i in 0..ENTRIES_PER_PAGE {
                if self.entry_at(page, i)?.state.load(Ordering::Acquire) != ENTRY_READY {
                    slot = Some((page, i));
                    break;
                }
            }
            if slot.is_some() {
                break;
            }
            last = Some(p);
            page = p.next.load(Ordering::Acquire);
        }
        let (page, i) = match slot {
            Some(s) => s,
            None => {
                let new_page = self.alloc(PAGE_BYTES)?;
                self.region.fill_bytes(new_page, PAGE_BYTES, 0)?;
                match last {
                    Some(p) => p.next.store(new_page, Ordering::Release),
                    None => state.first_page.store(new_page, Ordering::Release),
                }
                (new_page, 0)
            }
        };
        let root = init()?;
        let e = self.entry_at(page, i)?;
        let name_off = page + 16 + i * 128 + 32;
        self.region
            .fill_bytes(name_off, MAX_OBJECT_NAME as u64, 0)?;
        self.region.write_bytes(name_off, name.as_bytes())?;
        e.name_len.store(name.len() as u32, Ordering::Relaxed);
        e.kind.store(kind.code(), Ordering::Relaxed);
        e.root.store(root, Ordering::Relaxed);
        e.created_unix_ns
            .store(crate::sys::unix_time_ns(), Ordering::Relaxed);
        e.state.store(ENTRY_READY, Ordering::Release);
        state.object_count.fetch_add(1, Ordering::Relaxed);
        Ok(root)
    }
}
