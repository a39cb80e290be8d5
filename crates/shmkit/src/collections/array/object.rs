//! The array as a [`Collection`]: how generic code (maintenance, the CLI, the bindings)
//! opens, checks, counts and lists it.
//!
//! Invariants: an array has no lock (its header never changes after creation and its
//! elements are plain memory); its owned blocks are its root and its element block; its
//! items are its elements' bytes in C order. A check re-reads the header as stored (not
//! this process's copy) and confirms the element block is an allocated block large enough;
//! nothing in an array can be repaired, so damage stays reported.
//!
//! ```
//! use shmkit::collections::object::{CheckMode, SharedObject, StatValue};
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-array-object-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let a = store.array("a", "<i", &[10]).unwrap();
//! assert_eq!(SharedObject::item_count(&a), Some(10));
//! assert!(SharedObject::check(&a, CheckMode::Verify).unwrap().is_clean());
//! let stats = SharedObject::stats(&a).unwrap();
//! assert_eq!(stats.get("bytes"), Some(StatValue::Bytes(40)));
//! Store::remove(&name).unwrap();
//! ```

use super::layout::{DATA_ALIGN, ROOT_LEN};
use super::{Array, ArrayError, ArrayOptions, data_block_len};
use crate::collections::object::{
    CheckMode, Collection, Item, ObjectLock, ObjectReport, ObjectStats, StatValue,
};
use crate::store::Store;
use crate::store::directory::ObjectKind;
use crate::store::verify::Problem;

/// Counts and sizes of an array.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ArrayStats {
    /// Elements.
    pub len: u64,
    /// Bytes of one element.
    pub itemsize: u64,
    /// Dimensions.
    pub ndim: u64,
    /// Bytes of the elements.
    pub bytes: u64,
    /// Bytes of the root and element blocks.
    pub bytes_used: u64,
}

impl Array {
    /// Counts and sizes.
    pub fn stats(&self) -> ArrayStats {
        ArrayStats {
            len: self.len(),
            itemsize: self.itemsize(),
            ndim: self.shape().len() as u64,
            bytes: self.nbytes(),
            bytes_used: ROOT_LEN + self.format().len() as u64 + data_block_len(self.nbytes()),
        }
    }

    /// Checks the stored header and the element block; returns the damage found.
    pub fn verify(&self) -> Result<ObjectReport, ArrayError> {
        let inner = &self.inner;
        let mut report = ObjectReport {
            item_count: Some(inner.len),
            ..ObjectReport::default()
        };
        // The header as stored now (this process checked its own copy at open).
        match Array::attach(&inner.store, &inner.name, inner.root) {
            Ok(now)
                if now.inner.data_block == inner.data_block
                    && now.shape() == self.shape()
                    && now.format() == self.format() => {}
            Ok(_) => report.problems.push(Problem {
                offset: inner.root,
                what: "the header changed after the array was created".into(),
            }),
            Err(e) => report.problems.push(Problem {
                offset: inner.root,
                what: e.to_string(),
            }),
        }
        let need = inner.data - inner.data_block + inner.nbytes();
        match inner.store.block_capacity(inner.data_block) {
            Ok(have) if have >= need => {}
            Ok(have) => report.problems.push(Problem {
                offset: inner.data_block,
                what: format!("element block holds {have} bytes, needs {need}"),
            }),
            Err(e) => report.problems.push(Problem {
                offset: inner.data_block,
                what: format!("element block is not an allocated block: {e}"),
            }),
        }
        debug_assert_eq!(inner.data % DATA_ALIGN, 0);
        inner.unfaulted(Ok(report))
    }
}

impl Collection for Array {
    const KIND: ObjectKind = ObjectKind::Array;
    type Options = ArrayOptions;
    type Error = ArrayError;
    type Stats = ArrayStats;
    type Report = ObjectReport;

    fn open_at(store: &Store, name: &str, root: u64) -> Result<Array, ArrayError> {
        Array::attach(store, name, root)
    }

    fn open_or_create(
        store: &Store,
        name: &str,
        options: &ArrayOptions,
    ) -> Result<Array, ArrayError> {
        Array::open_or_create_array(store, name, options)
    }

    fn object_name(&self) -> &str {
        self.name()
    }

    fn root(&self) -> u64 {
        self.root_offset()
    }

    fn item_count(&self) -> Option<u64> {
        Some(self.len())
    }

    fn check(&self, _mode: CheckMode) -> Result<ObjectReport, ArrayError> {
        self.verify()
    }

    fn statistics(&self) -> Result<ArrayStats, ArrayError> {
        Ok(self.stats())
    }

    fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), ArrayError> {
        f(self.inner.root);
        f(self.inner.data_block);
        Ok(())
    }

    fn locks(&self) -> Vec<ObjectLock<'_>> {
        Vec::new()
    }

    fn for_each_item(&self, f: &mut dyn FnMut(Item) -> bool) -> Result<(), ArrayError> {
        let size = self.itemsize() as usize;
        let per_chunk = (64 * 1024 / size).max(1) as u64;
        let mut chunk = vec![0u8; per_chunk as usize * size];
        let mut start = 0;
        while start < self.len() {
            let n = per_chunk.min(self.len() - start);
            let buf = &mut chunk[..n as usize * size];
            self.read_range(start, buf)?;
            for element in buf.chunks_exact(size) {
                if !f(Item::Value(element.to_vec())) {
                    return Ok(());
                }
            }
            start += n;
        }
        Ok(())
    }
}

impl From<ArrayStats> for ObjectStats {
    fn from(s: ArrayStats) -> ObjectStats {
        ObjectStats {
            fields: vec![
                ("elements", StatValue::Count(s.len)),
                ("itemsize", StatValue::Bytes(s.itemsize)),
                ("dimensions", StatValue::Count(s.ndim)),
                ("bytes", StatValue::Bytes(s.bytes)),
                ("bytes_used", StatValue::Bytes(s.bytes_used)),
            ],
        }
    }
}
