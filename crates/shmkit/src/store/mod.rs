//! The store: one file of named shared memory holding a directory of objects, an allocator
//! and a process registry. See `docs/ARCHITECTURE.md` and `docs/FORMAT.md`.
//!
//! Invariants:
//! - a store file is only ever visible under its name fully initialised: it is built under a
//!   temporary name in the same directory and published with `link(2)`, which fails rather
//!   than replace an existing store;
//! - the file grows (by `fallocate`, never `ftruncate`) but never shrinks or moves in memory;
//! - `open` validates the header completely and rejects anything else with a precise error.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-store-{}", std::process::id()); // unique to this process
//! let store = Store::open_or_create(&name, &StoreOptions::default()).unwrap();
//! store.hash_map("m").unwrap().set(b"k", b"shared").unwrap();
//! let again = Store::open(&name).unwrap(); // in this process: the same attachment
//! assert!(again.same_attachment(&store));
//! let map = again.open_hash_map("m").unwrap();
//! assert_eq!(map.get(b"k").unwrap().as_deref(), Some(&b"shared"[..]));
//! assert_eq!(again.objects().unwrap().len(), 1);
//! Store::remove(&name).unwrap();
//! ```

internal! { mod alloc; }
internal! { mod alloc_classes; }
mod attach;
internal! { mod directory; }
pub mod error;
pub mod files;
internal! { mod header; }
pub mod inspect;
pub mod locks;
pub mod name;
internal! { mod registry; }
pub mod remove;
mod reopen;
pub(crate) mod sweep_gate;
pub mod verify;

use self::attach::{Attachment, Layout, find_attached, init_header, io_err, read_header};
use self::error::{AllocError, CreateError, DirectoryError, FreeError, OpenError, VerifyError};
use self::header::{FORMAT_VERSION, HASH_XXH3_64, MAGIC};
use self::registry::{DEFAULT_SLOTS, MAX_SLOTS};
use self::verify::VerifyReport;
use crate::raw::{OutOfBounds, Region};
use crate::sync::{MutexGuard, RobustMutex};
use crate::sys::{self, OpenMode, SharedMapping};
use std::path::Path;
use std::sync::Arc;

pub use self::alloc::{AllocStats, ClassStats};
pub use self::directory::{MAX_OBJECT_NAME, ObjectInfo, ObjectKind};
pub use self::header::ImmutableHeader;
pub use self::registry::{ProcessInfo, process_start_time};

pub(crate) use self::attach::ExclusiveUse;
pub use self::attach::STORE_MAGIC;
pub(crate) use self::sweep_gate::SweepRefused;

/// What an operation says when the store file shrank under this process (see
/// [`Store::faulted_at`]).
pub(crate) const SHRUNK: &str = "the store file shrank under this process (truncated by another process): its data is gone here; check the store from a new process, or remove it";

/// See [`Store::registry_counters`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RegistryCounters {
    /// Processes attached over the store's life.
    pub attaches: u64,
    /// Registry slots of dead processes reclaimed over the store's life.
    pub reclaimed: u64,
}
use self::remove::{RemoveWhen, Removed};

/// Options for creating (and opening) a store.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Maximum size the store may grow to; each process reserves this much address space
    /// (not memory). Default 64 GiB.
    pub reserve: u64,
    /// Permission bits of a new store file, applied exactly (umask does not narrow or widen
    /// them). Default `0o600`.
    pub mode: u32,
    /// Initial file length. Default 1 MiB.
    pub initial_len: u64,
    /// Seed for key hashing; random when `None`.
    pub hash_seed: Option<u64>,
    /// Maximum number of processes attached at once (1..=1024). Default 1024.
    pub max_processes: u32,
    /// Remove the store's name when the last process detaches (the cleanup users of
    /// reference-counted segments expect). Decided by the "attached" lock every attached
    /// process holds, which the kernel releases when a process dies: a killed process never
    /// leaves a count behind. A store whose last process was killed stays until
    /// `shmkit gc` (which removes such stores once no process is attached). Kept in the
    /// header: every process's last detach honours it. Default false.
    pub remove_when_unused: bool,
    /// Accept an existing store owned by another user (see [`OpenOptions`]). Default false:
    /// `open_or_create` refuses a store someone else created under the name.
    pub allow_foreign_owner: bool,
}

/// What [`Store::open_with`] accepts of an existing store.
///
/// A store's owner and everyone its mode lets write can read and change everything in it,
/// including values readers decode (a Python reader unpickles values with the pickle tag).
/// So by default a store owned by another user is refused ([`OpenError::ForeignOwner`]): a
/// name another user created first must not be adopted silently. With `mode`, a store whose
/// permission bits grant more than those is refused too ([`OpenError::ModeTooWide`]);
/// [`Store::open_or_create`] always checks against the mode it would create with.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    /// Accept a store owned by another user (for a store shared between users on purpose,
    /// and for administration: `shmkit` reports, checks and cleans every user's stores).
    pub allow_foreign_owner: bool,
    /// Refuse a store whose permission bits include any bit not in this mode.
    pub mode: Option<u32>,
}

impl Default for StoreOptions {
    fn default() -> StoreOptions {
        StoreOptions {
            reserve: 64 << 30,
            mode: 0o600,
            initial_len: 1 << 20,
            hash_seed: None,
            max_processes: DEFAULT_SLOTS,
            remove_when_unused: false,
            allow_foreign_owner: false,
        }
    }
}

/// A handle to an attached store. Cheap to clone; all clones (and all `open`s of the same
/// file in one process) share one mapping.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) inner: Arc<Attachment>,
}

fn random_seed() -> u64 {
    let local = 0u8;
    let mut bytes = Vec::with_capacity(32);
    bytes.extend_from_slice(&sys::unix_time_ns().to_le_bytes());
    bytes.extend_from_slice(&sys::current_pid().to_le_bytes());
    bytes.extend_from_slice(&(&local as *const u8 as usize as u64).to_le_bytes());
    bytes.extend_from_slice(&std::time::Instant::now().elapsed().as_nanos().to_le_bytes());
    xxhash_rust::xxh3::xxh3_64(&bytes)
}

impl Store {
    /// Creates a new store; fails with [`CreateError::AlreadyExists`] if the name is taken.
    pub fn create(name: &str, options: &StoreOptions) -> Result<Store, CreateError> {
        let path = name::resolve(name)?;
        let page = 4096u64;
        let slots = options.max_processes;
        if slots == 0 || slots > MAX_SLOTS {
            return Err(CreateError::InvalidOptions(format!(
                "max_processes must be 1..={MAX_SLOTS}, not {slots}"
            )));
        }
        let layout = Layout::new(slots);
        // Sizes are file offsets (`off_t`), so at most `i64::MAX`; checked arithmetic, as a
        // size near `u64::MAX` does not round up to a whole page.
        let max_len = i64::MAX as u64 / page * page;
        let whole_pages = |what: &str, len: u64| match len.checked_next_multiple_of(page) {
            Some(rounded) if rounded <= max_len => Ok(rounded),
            _ => Err(CreateError::InvalidOptions(format!(
                "{what} ({len} bytes) is larger than a store can be ({max_len} bytes)"
            ))),
        };
        // `heap_offset` is a few MiB at most (`slots <= MAX_SLOTS`): no overflow.
        let heap_min = layout.heap_offset + 64 * 1024;
        let initial = whole_pages("initial_len", options.initial_len.max(heap_min))?;
        let reserve = whole_pages("reserve", options.reserve)?;
        if reserve < initial {
            return Err(CreateError::InvalidOptions(format!(
                "reserve ({reserve} bytes) is smaller than the initial length ({initial} bytes)"
            )));
        }
        if options.mode & !0o777 != 0 {
            return Err(CreateError::InvalidOptions(format!(
                "mode {:#o}",
                options.mode
            )));
        }
        let tmp = files::temp_path(&path, sys::current_pid(), sys::unix_time_ns());
        let io = |p: &Path, e: std::io::Error| match e.kind() {
            std::io::ErrorKind::PermissionDenied => CreateError::PermissionDenied {
                path: p.to_path_buf(),
            },
            std::io::ErrorKind::AlreadyExists => CreateError::AlreadyExists {
                path: p.to_path_buf(),
            },
            _ => CreateError::Io {
                path: p.to_path_buf(),
                source: e,
            },
        };
        let fd = sys::open_file(&tmp, OpenMode::CreateNew, 0o600).map_err(|e| io(&path, e))?;
        let cleanup = scopeguard(&tmp);
        sys::fchmod(&fd, options.mode).map_err(|e| io(&path, e))?;
        if let Err(e) = sys::fallocate(&fd, 0, initial) {
            if e.raw_os_error() == Some(libc::ENOSPC) {
                let available = sys::available_space(&fd).unwrap_or(0);
                return Err(CreateError::StoreFull {
                    needed: initial,
                    available,
                });
            }
            return Err(io(&path, e));
        }
        let fixed = ImmutableHeader {
            magic: MAGIC,
            format_version: FORMAT_VERSION,
            hash_algorithm: HASH_XXH3_64,
            hash_seed: options.hash_seed.unwrap_or_else(random_seed),
            reserved_len: reserve,
            registry_offset: layout.registry_offset,
            registry_slots: slots,
            class_count: alloc_classes::CLASS_COUNT,
            class_table_offset: layout.class_table_offset,
            heap_offset: layout.heap_offset,
            created_unix_ns: sys::unix_time_ns(),
            page_size: page as u32,
            flags: if options.remove_when_unused {
                header::FLAG_REMOVE_WHEN_UNUSED
            } else {
                0
            },
        };
        {
            // Initialise through a short-lived mapping of the whole reservation: if this
            // process cannot reserve that much address space, fail before publishing a store
            // that nobody could then map (the temporary file is removed).
            let mapping = SharedMapping::new(&fd, reserve, true).map_err(|source| {
                CreateError::Open(OpenError::Map {
                    path: path.clone(),
                    len: reserve,
                    source,
                })
            })?;
            let region = Region::new(mapping, header::COMMITTED_LEN_OFFSET, initial);
            init_header(&region, &fixed, initial);
        }
        if !path.starts_with(name::store_dir()) || std::env::var_os("SHMKIT_DIR").is_some() {
            // A store on disk: make the initialised header durable before publishing it.
            sys::fdatasync(&fd).map_err(|e| io(&path, e))?;
        }
        sys::hard_link(&tmp, &path).map_err(|e| io(&path, e))?;
        drop(cleanup); // removes the temporary name; the store lives on under `path`
        let inner = Attachment::attach(path, fd, fixed, initial)?;
        Ok(Store { inner })
    }

    /// Opens an existing store, validating its header; refuses a store owned by another user
    /// (see [`OpenOptions`]; [`Store::open_with`] chooses).
    pub fn open(name: &str) -> Result<Store, OpenError> {
        Store::open_with(name, &OpenOptions::default())
    }

    /// Opens an existing store, validating its header, its owner and its mode as `options`
    /// say.
    pub fn open_with(name: &str, options: &OpenOptions) -> Result<Store, OpenError> {
        let path = name::resolve(name)?;
        let fd = sys::open_file(&path, OpenMode::Existing, 0).map_err(|e| io_err(&path, e))?;
        let st = sys::fstat(&fd).map_err(|e| OpenError::Io {
            path: path.clone(),
            source: e,
        })?;
        check_owner_and_mode(&path, st.uid, st.mode, options)?;
        if let Some(inner) = find_attached((st.dev, st.ino)) {
            // A forked child opening its parent's store registers now (a slot and an
            // "attached" lock of its own), so it counts as attached from this open on. If
            // no slot is free it still opens (reads need none); its next lock retries.
            let _ = inner.owner_id();
            return Ok(Store { inner });
        }
        let (fixed, committed) = read_header(&path, &fd)?;
        let inner = Attachment::attach(path, fd, fixed, committed)?;
        Ok(Store { inner })
    }

    /// Opens the store, creating it if it does not exist. Race-free: many processes calling
    /// this at once all end up attached to one store.
    /// An existing store must belong to the caller (unless `options.allow_foreign_owner`)
    /// and grant no permission beyond `options.mode`.
    pub fn open_or_create(name: &str, options: &StoreOptions) -> Result<Store, CreateError> {
        let open_options = OpenOptions {
            allow_foreign_owner: options.allow_foreign_owner,
            mode: Some(options.mode),
        };
        loop {
            match Store::open_with(name, &open_options) {
                Ok(s) => return Ok(s),
                Err(OpenError::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            match Store::create(name, options) {
                Ok(s) => return Ok(s),
                Err(CreateError::AlreadyExists { .. }) => continue,
                Err(e) => return Err(e),
            }
        }
    }

    /// Removes a store's name, even while other processes are attached (they keep working
    /// on it; its memory is freed when the last one detaches). Refuses a file that is not a
    /// store ([`OpenError::NotAStore`]). See [`remove`] for the protocol.
    pub fn remove(name: &str) -> Result<(), OpenError> {
        let path = name::resolve(name)?;
        remove::remove(&path, RemoveWhen::EvenIfInUse).map(|_| ())
    }

    /// Removes a store's name only if no other process is attached to it (the caller's own
    /// attachment does not count); [`Removed::InUse`] otherwise. What `shmkit rm` does.
    pub fn remove_if_unused(name: &str) -> Result<Removed, OpenError> {
        let path = name::resolve(name)?;
        remove::remove(&path, RemoveWhen::Unused)
    }

    /// True if some process other than the caller is attached to the store `name`.
    pub fn is_in_use(name: &str) -> Result<bool, OpenError> {
        let path = name::resolve(name)?;
        let fd = sys::open_file(&path, OpenMode::ReadOnly, 0).map_err(|e| io_err(&path, e))?;
        let st = sys::fstat(&fd).map_err(|e| io_err(&path, e))?;
        // If the caller is attached, ask through its own descriptor: its own attach lock
        // does not count then (a fresh descriptor would see it as someone else's).
        if let Some(inner) = find_attached((st.dev, st.ino)) {
            return Ok(inner.others_attached());
        }
        sys::byte_is_locked_by_other(&fd, registry::ATTACH_LOCK_BYTE, sys::ByteLock::Exclusive)
            .map_err(|e| OpenError::Io { path, source: e })
    }

    /// The file behind the store.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// True if both handles share one attachment (same file, same process).
    pub fn same_attachment(&self, other: &Store) -> bool {
        Arc::ptr_eq(&self.inner, &other.inner)
    }

    /// The offset of the first page this process found missing because the store file
    /// shrank under it (truncated by another process), if that happened. From then on every
    /// operation on the store fails in this process (see `sys::fault`).
    pub fn faulted_at(&self) -> Option<u64> {
        self.inner.region.faulted_at()
    }

    /// Bytes of the file that exist (and may be used).
    pub fn committed_len(&self) -> u64 {
        self.inner.region.committed_len()
    }

    /// Maximum size of the store (the address space each process reserves).
    pub fn reserved_len(&self) -> u64 {
        self.inner.fixed.reserved_len
    }

    /// The validated immutable header.
    pub fn header(&self) -> ImmutableHeader {
        self.inner.fixed
    }

    /// True if the last process to detach removes the store (see
    /// [`StoreOptions::remove_when_unused`]).
    pub fn removes_when_unused(&self) -> bool {
        self.inner.fixed.removes_when_unused()
    }

    /// Seed for key hashing in this store (XXH3-64).
    pub fn hash_seed(&self) -> u64 {
        self.inner.fixed.hash_seed
    }

    /// Times the store file was grown.
    pub fn grow_count(&self) -> u64 {
        self.inner
            .header()
            .growth
            .0
            .grow_count
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    internal! {
        /// Makes sure the first `len` bytes of the store exist, growing the file if needed.
        #[cfg(any(test, feature = "internals"))]
        fn grow_to(&self, len: u64) -> Result<(), AllocError> {
            self.inner.ensure_committed(len)
        }
    }

    internal! {
        /// Allocates `size` bytes; returns the offset of the first byte.
        fn alloc(&self, size: u64) -> Result<u64, AllocError> {
            let result = self.inner.alloc(size);
            match self.faulted_at() {
                None => result,
                Some(offset) => Err(AllocError::Corrupt {
                    offset,
                    reason: SHRUNK,
                }),
            }
        }
    }

    internal! {
        /// Frees a block returned by [`Store::alloc`].
        fn free(&self, offset: u64) -> Result<(), FreeError> {
            self.inner.free(offset)
        }
    }

    internal! {
        /// [`Store::free`] that gives up with [`FreeError::Busy`] after `wait` while a live
        /// process holds the block's size-class lock (for maintenance, which must not hang).
        fn free_within(&self, offset: u64, wait: std::time::Duration) -> Result<(), FreeError> {
            self.inner.free_within(offset, Some(wait))
        }
    }

    /// Usable bytes of the block at `offset` (at least what was asked for).
    pub fn block_capacity(&self, offset: u64) -> Result<u64, FreeError> {
        self.inner.capacity(offset)
    }

    /// The registry's lifetime counters: attaches so far, and dead processes' slots
    /// reclaimed so far.
    pub fn registry_counters(&self) -> RegistryCounters {
        let reg = self.inner.registry_state();
        RegistryCounters {
            attaches: reg.attach_count.load(std::sync::atomic::Ordering::Relaxed),
            reclaimed: reg
                .reclaimed_count
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    /// Allocator usage by size class.
    pub fn alloc_stats(&self) -> Result<AllocStats, OutOfBounds> {
        self.inner.alloc_stats()
    }

    internal! {
        /// Copies bytes out of the store (bounds-checked; may race with writers).
        #[cfg(any(test, feature = "internals"))]
        fn read_bytes(&self, offset: u64, out: &mut [u8]) -> Result<(), OutOfBounds> {
            self.inner.region.read_bytes(offset, out)?;
            match self.faulted_at() {
                None => Ok(()),
                Some(fault) => Err(OutOfBounds {
                    offset: fault,
                    len: out.len() as u64,
                    committed: self.committed_len(),
                }),
            }
        }
    }

    internal! {
        /// Copies bytes into the store (bounds-checked). Write only memory you allocated.
        #[cfg(any(test, feature = "internals"))]
        fn write_bytes(&self, offset: u64, data: &[u8]) -> Result<(), OutOfBounds> {
            self.inner.region.write_bytes(offset, data)
        }
    }

    internal! {
        /// A typed reference into the store (bounds- and alignment-checked).
        fn get<T: crate::raw::Shared>(&self, offset: u64) -> Result<&T, OutOfBounds> {
            self.inner.region.get(offset)
        }
    }

    internal! {
        /// Takes a robust mutex living in this store.
        fn lock<'a>(
            &self,
            mutex: &'a RobustMutex,
        ) -> Result<MutexGuard<'a>, crate::sync::LockError> {
            self.inner.lock(mutex)
        }
    }

    internal! {
        /// Takes a robust mutex, giving up after `timeout` while a live process holds it.
        fn lock_timeout<'a>(
            &self,
            mutex: &'a RobustMutex,
            timeout: std::time::Duration,
        ) -> Result<MutexGuard<'a>, crate::sync::LockError> {
            mutex.try_lock_for(&*self.inner, timeout)
        }
    }

    internal! {
        /// A spare mutex in the header, for tests and examples of lock behaviour.
        #[cfg(any(test, feature = "internals"))]
        fn test_mutex(&self) -> Result<TestMutex<'_>, OutOfBounds> {
            Ok(TestMutex {
                store: self,
                mutex: &self.inner.registry_state().test_mutex,
            })
        }
    }

    /// This process's lock-owner id in the store.
    pub fn owner_id(&self) -> crate::sync::OwnerId {
        self.inner.owner_id()
    }

    /// Live processes attached to the store.
    pub fn attached_processes(&self) -> Result<Vec<ProcessInfo>, OutOfBounds> {
        Ok(self.inner.attached_processes())
    }

    /// True if another process is attached.
    pub fn others_attached(&self) -> bool {
        self.inner.others_attached()
    }

    /// Frees registry slots of processes that died while attached; returns how many.
    pub fn sweep_dead_processes(&self) -> u32 {
        self.inner.sweep_dead()
    }

    internal! {
        /// The registry slot of the process with owner id `owner`, if any (diagnostics).
        #[cfg(any(test, feature = "internals"))]
        fn registry_slot(&self, slot: u32) -> Result<&registry::RegistrySlot, OutOfBounds> {
            attach::registry_slot(&self.inner.region, &self.inner.fixed, slot)
        }
    }

    /// Published objects.
    pub fn objects(&self) -> Result<Vec<ObjectInfo>, OutOfBounds> {
        self.inner.objects()
    }

    /// The published object `name` (its kind and root), if there is one: one pass over the
    /// directory, comparing names in place.
    pub fn find_object(&self, name: &str) -> Result<Option<ObjectInfo>, OutOfBounds> {
        self.inner.find_object(name)
    }

    /// Root offset of object `name` of kind `kind`.
    pub fn object(&self, name: &str, kind: ObjectKind) -> Result<u64, DirectoryError> {
        self.inner.object(name, kind)
    }

    internal! {
        /// Root offset of object `name`, created by `init` if missing. Exactly one creator's
        /// root is published per name, even when processes race.
        fn object_or_create(
            &self,
            name: &str,
            kind: ObjectKind,
            init: impl FnOnce(&Store) -> Result<u64, AllocError>,
        ) -> Result<u64, DirectoryError> {
            // The root and whatever `init` allocates are unpublished until the entry is: a leak
            // sweep of this process must wait (see `sweep_gate`).
            let _writing = self.inner.enter_write();
            self.inner.object_or_create(name, kind, || init(self))
        }
    }

    /// Checks the store layer (allocator, directory) without changing anything. The check
    /// of everything (objects, locks, leaked blocks too) is [`Store::check`].
    pub fn verify_allocator(&self) -> Result<VerifyReport, VerifyError> {
        self.inner.verify_store(false)
    }

    /// Checks and repairs the store layer: leaked free blocks, counters, dead owners'
    /// allocator locks, dead processes' registry slots. The repair of everything is
    /// [`Store::repair`].
    pub fn repair_allocator(&self) -> Result<VerifyReport, VerifyError> {
        let swept = self.inner.sweep_dead();
        let mut report = self.inner.verify_store(true)?;
        if swept > 0 {
            report
                .repaired
                .push(format!("freed {swept} dead processes' registry slots"));
        }
        Ok(report)
    }
}

/// Refuses a store of another owner or with a wider mode than `options` accept.
fn check_owner_and_mode(
    path: &Path,
    owner: u32,
    mode: u32,
    options: &OpenOptions,
) -> Result<(), OpenError> {
    let me = sys::effective_uid();
    if owner != me && !options.allow_foreign_owner {
        return Err(OpenError::ForeignOwner {
            path: path.to_path_buf(),
            owner,
            me,
        });
    }
    let mode = mode & 0o777;
    if let Some(allowed) = options.mode
        && mode & !allowed != 0
    {
        return Err(OpenError::ModeTooWide {
            path: path.to_path_buf(),
            mode,
            allowed: allowed & 0o777,
        });
    }
    Ok(())
}

internal! {
/// A mutex in the store header reserved for tests and demonstrations.
#[cfg(any(test, feature = "internals"))]
#[derive(Debug)]
struct TestMutex<'a> {
    store: &'a Store,
    mutex: &'a RobustMutex,
}
}

#[cfg(any(test, feature = "internals"))]
impl<'a> TestMutex<'a> {
    /// Takes the lock.
    pub fn lock(&self) -> Result<MutexGuard<'a>, crate::sync::LockError> {
        self.store.lock(self.mutex)
    }

    /// Takes the lock with a timeout.
    pub fn lock_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> Result<MutexGuard<'a>, crate::sync::LockError> {
        self.store.lock_timeout(self.mutex, timeout)
    }

    /// The raw mutex.
    pub fn raw(&self) -> &'a RobustMutex {
        self.mutex
    }
}

/// Removes a file when dropped (the temporary name during creation).
struct TempName<'a>(&'a Path);

fn scopeguard(path: &Path) -> TempName<'_> {
    TempName(path)
}

impl Drop for TempName<'_> {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(self.0);
    }
}
