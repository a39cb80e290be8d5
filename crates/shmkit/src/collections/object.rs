//! The one shape every shared object has: the [`Collection`] trait a kind of object
//! implements, and its object-safe mirror [`SharedObject`], which maintenance (check,
//! repair, stats, leak and lock reports), the CLI and the bindings use without knowing the
//! kind.
//!
//! A kind implements [`Collection`] only; [`SharedObject`] comes with it (a blanket impl
//! turns its typed report, stats and error into the generic ones). The one place that maps
//! an [`ObjectKind`] found in a store's directory to code is [`super::any::open_any`].
//!
//! Invariants every implementation keeps:
//! - `open` never creates; `open_or_create` publishes exactly one object per name even when
//!   processes race (through `Store::object_or_create`);
//! - `check(CheckMode::Verify)` changes nothing except what any taker of the object's locks
//!   does (recovering after a dead writer, reported in `repaired`); `check(Repair)` leaves the
//!   object clean if it can, and a second repair changes nothing;
//! - every lock `check` and `owned_blocks` take is taken with a timeout
//!   ([`crate::store::verify::MAINTENANCE_LOCK_WAIT`]); a part held longer is reported busy;
//! - `owned_blocks` names every store block the object owns (its root may be named too), so
//!   that the directory plus every object's blocks account for every block in use;
//! - `locks` names every robust mutex inside the object.
//!
//! ```
//! use shmkit::collections::object::{CheckMode, Collection, SharedObject};
//! use shmkit::{HashMap, HashMapOptions, Store, StoreOptions};
//! let name = format!("doc-object-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map: HashMap = store.open_or_create_object("users", &HashMapOptions::default()).unwrap();
//! map.set(b"ada", b"1").unwrap();
//! // Generic code sees any object through `SharedObject`.
//! let any: &dyn SharedObject = &map;
//! assert_eq!(any.item_count(), Some(1));
//! assert!(any.check(CheckMode::Verify).unwrap().is_clean());
//! let again = store.open_object::<HashMap>("users").unwrap();
//! assert_eq!(again.len(), 1);
//! Store::remove(&name).unwrap();
//! ```

use crate::error::Error;
use crate::store::Store;
use crate::store::directory::ObjectKind;
use crate::store::error::DirectoryError;
use crate::store::locks::LockRole;
use crate::store::verify::Problem;
use crate::sync::RobustMutex;

/// What [`Collection::check`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckMode {
    /// Look, change nothing (beyond the recovery any lock taker does after a dead writer).
    Verify,
    /// Look and repair what can be repaired.
    Repair,
}

/// The result of checking one object, the same for every kind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectReport {
    /// Damage found (after any repair); empty when clean.
    pub problems: Vec<Problem>,
    /// What was repaired (or recovered after a dead writer while checking).
    pub repaired: Vec<String>,
    /// Parts not checked because a live process held their lock too long.
    pub busy: Vec<String>,
    /// Items counted by the check (entries, elements), when the kind has a count.
    pub item_count: Option<u64>,
}

impl ObjectReport {
    /// True when everything was checked and nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.busy.is_empty()
    }
}

/// One statistic of an object, with its unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StatValue {
    /// A count.
    Count(u64),
    /// A number of bytes.
    Bytes(u64),
    /// A fraction or ratio.
    Ratio(f64),
}

/// Statistics of one object, the same shape for every kind: named values in a fixed order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ObjectStats {
    /// `(name, value)`, names in `snake_case` (e.g. `entries`, `bytes_used`).
    pub fields: Vec<(&'static str, StatValue)>,
}

impl ObjectStats {
    /// The value named `name`.
    pub fn get(&self, name: &str) -> Option<StatValue> {
        self.fields
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    }
}

/// One robust mutex inside an object, for lock reports and recovery.
#[derive(Clone, Copy, Debug)]
pub struct ObjectLock<'a> {
    /// Which lock, e.g. `shard 3`.
    pub name: &'static str,
    /// An index that makes `name` unique within the object (a shard number), if any.
    pub index: Option<u64>,
    /// How it is recovered after its owner died.
    pub role: LockRole,
    /// The lock (the crate's own: maintenance reads and recovers it).
    pub(crate) mutex: &'a RobustMutex,
}

/// One item of an object, as generic code (a dump) sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Item {
    /// A key and its value (maps).
    Entry {
        /// The key.
        key: Vec<u8>,
        /// The value.
        value: Vec<u8>,
    },
    /// A value without a key (sequences).
    Value(Vec<u8>),
}

/// What every kind of shared object implements. See the module docs for the invariants.
pub trait Collection: Sized + Send + Sync + std::fmt::Debug + 'static {
    /// The kind recorded in the store's directory.
    const KIND: ObjectKind;
    /// Options for creating the object (an existing object keeps its own).
    type Options: Default;
    /// The error of its operations.
    type Error: std::error::Error + From<DirectoryError> + Into<Error>;
    /// Its typed statistics.
    type Stats: Into<ObjectStats>;
    /// Its typed check report.
    type Report: Into<ObjectReport>;

    /// Opens the existing object `name` (`DirectoryError::NotFound` if missing,
    /// `DirectoryError::WrongKind` if the name holds another kind): its root from the
    /// directory, then [`Collection::open_at`].
    fn open(store: &Store, name: &str) -> Result<Self, Self::Error> {
        let root = store.object(name, Self::KIND)?;
        Self::open_at(store, name, root)
    }
    /// Opens the object a directory listing found (`name` with its root at `root`),
    /// without looking the name up again: generic code that visits every object
    /// ([`super::any::open_any`]) stays linear in the number of objects. The root is
    /// checked as [`Collection::open`] checks it.
    fn open_at(store: &Store, name: &str, root: u64) -> Result<Self, Self::Error>;
    /// Opens the object `name`, creating it with `options` if missing.
    fn open_or_create(
        store: &Store,
        name: &str,
        options: &Self::Options,
    ) -> Result<Self, Self::Error>;
    /// Its name in the store's directory.
    fn object_name(&self) -> &str;
    /// Offset of its root block.
    fn root(&self) -> u64;
    /// Number of items, for kinds that have one.
    fn item_count(&self) -> Option<u64>;
    /// Checks (and with [`CheckMode::Repair`] repairs) the object.
    fn check(&self, mode: CheckMode) -> Result<Self::Report, Self::Error>;
    /// Counts and sizes (a racy snapshot while others write).
    fn statistics(&self) -> Result<Self::Stats, Self::Error>;
    /// Calls `f` with every store block the object owns (the root may be included).
    fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), Self::Error>;
    /// Its robust mutexes.
    fn locks(&self) -> Vec<ObjectLock<'_>>;
    /// Calls `f` with each item (weakly consistent) until it returns false.
    fn for_each_item(&self, f: &mut dyn FnMut(Item) -> bool) -> Result<(), Self::Error>;
}

/// The object-safe mirror of [`Collection`], implemented for every collection.
pub trait SharedObject: Send + Sync + std::fmt::Debug {
    /// Its name in the store's directory.
    fn name(&self) -> &str;
    /// Its kind.
    fn kind(&self) -> ObjectKind;
    /// Offset of its root block.
    fn root_offset(&self) -> u64;
    /// Number of items, for kinds that have one.
    fn item_count(&self) -> Option<u64>;
    /// See [`Collection::check`].
    fn check(&self, mode: CheckMode) -> Result<ObjectReport, Error>;
    /// See [`Collection::statistics`].
    fn stats(&self) -> Result<ObjectStats, Error>;
    /// See [`Collection::owned_blocks`].
    fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), Error>;
    /// See [`Collection::locks`].
    fn locks(&self) -> Vec<ObjectLock<'_>>;
    /// See [`Collection::for_each_item`].
    fn for_each_item(&self, f: &mut dyn FnMut(Item) -> bool) -> Result<(), Error>;
}

impl<T: Collection> SharedObject for T {
    fn name(&self) -> &str {
        self.object_name()
    }
    fn kind(&self) -> ObjectKind {
        T::KIND
    }
    fn root_offset(&self) -> u64 {
        self.root()
    }
    fn item_count(&self) -> Option<u64> {
        Collection::item_count(self)
    }
    fn check(&self, mode: CheckMode) -> Result<ObjectReport, Error> {
        Collection::check(self, mode)
            .map(Into::into)
            .map_err(Into::into)
    }
    fn stats(&self) -> Result<ObjectStats, Error> {
        self.statistics().map(Into::into).map_err(Into::into)
    }
    fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), Error> {
        Collection::owned_blocks(self, f).map_err(Into::into)
    }
    fn locks(&self) -> Vec<ObjectLock<'_>> {
        Collection::locks(self)
    }
    fn for_each_item(&self, f: &mut dyn FnMut(Item) -> bool) -> Result<(), Error> {
        Collection::for_each_item(self, f).map_err(Into::into)
    }
}

impl Store {
    /// Opens the existing object `name` of type `T` (see [`Collection::open`]).
    pub fn open_object<T: Collection>(&self, name: &str) -> Result<T, T::Error> {
        T::open(self, name)
    }

    /// Opens the object `name` of type `T`, creating it with `options` if missing.
    pub fn open_or_create_object<T: Collection>(
        &self,
        name: &str,
        options: &T::Options,
    ) -> Result<T, T::Error> {
        T::open_or_create(self, name, options)
    }
}
