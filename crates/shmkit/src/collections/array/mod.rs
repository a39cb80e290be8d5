//! A fixed-size array of plain records in shared memory, with its element type and shape
//! stored in the object: what NumPy users otherwise build by hand from
//! `multiprocessing.shared_memory` plus a dtype and shape they keep in sync themselves.
//!
//! Design (see `layout` for the bytes):
//! - **Created once, never resized.** The element type (a PEP 3118 format string, see
//!   [`dtype`]), the shape and the element storage are made before the array's directory
//!   entry is published, so every process that finds the name finds a complete array, and
//!   two processes creating it at once get the same one. Opening with another element type
//!   or shape is an error ([`ArrayError::TypeMismatch`], [`ArrayError::ShapeMismatch`]);
//!   opening without them ([`Store::open_array`]) adopts the stored ones.
//! - **Nothing to lock, nothing to repair.** The header never changes after creation, so a
//!   process checks it once when it opens the array and keeps its own copy; the elements are
//!   plain memory, 64-byte aligned, in C order. A process killed anywhere leaves the array
//!   as it was plus whatever bytes it had stored.
//! - **Racy by design, like any shared NumPy array.** [`Array::read`] and [`Array::write`]
//!   copy whole elements without a lock: a copy that overlaps another process's write of the
//!   same element may mix old and new bytes. Elements that many processes update at once
//!   should be 1, 2, 4 or 8-byte integers updated through [`Array::atomics`] (one atomic
//!   instruction each), or an [`crate::AtomicVector`]. Do not mix the two styles on the same
//!   elements at the same time within one process: a plain copy racing an atomic update is
//!   a data race in Rust's memory model (across processes it can only tear a value).
//! - **Zero-copy for foreign code.** [`Array::data_ptr`] is the address of element 0 in this
//!   process, valid while any handle to the array (or to its store) lives: the Python
//!   binding exports it through the buffer protocol (a NumPy array on the shared memory), the
//!   C API hands it out. The store's SIGBUS guard (`sys::fault`) also covers those accesses:
//!   a store file truncated by another process reads as zeros instead of killing this one.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-array-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let a = store.array("grid", "<d", &[2, 3]).unwrap();
//! assert_eq!((a.len(), a.itemsize(), a.shape()), (6, 8, &[2u64, 3][..]));
//! a.write(a.flat_index(&[1, 2]).unwrap(), &2.5f64.to_le_bytes()).unwrap();
//! let same = store.open_array("grid").unwrap(); // adopts the stored type and shape
//! let grid = same.typed::<f64>().unwrap();
//! assert_eq!(grid.get(5).unwrap(), 2.5);
//! assert!(store.array("grid", "<f", &[2, 3]).is_err()); // another element type
//! assert!(store.array("grid", "<d", &[3, 2]).is_err()); // another shape
//! Store::remove(&name).unwrap();
//! ```

pub mod dtype;
mod element;
mod error;
internal! { mod layout; }
mod object;
pub mod values;

pub use element::{AtomicElement, Element, TypedArray};
pub use error::ArrayError;
pub use object::ArrayStats;

use self::dtype::ElementType;
use self::layout::{ARRAY_MAGIC, ARRAY_VERSION, ArrayRoot, DATA_ALIGN, MAX_NDIM, ROOT_LEN};
use crate::raw::Region;
use crate::store::Store;
use crate::store::directory::ObjectKind;
use crate::store::error::{AllocError, DirectoryError};
use crate::sync::atomic::Ordering;
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::Arc;

/// Most bytes of element storage (1 TiB).
pub const MAX_BYTES: u64 = 1 << 40;

/// Options for opening or creating an array: the element type and shape it must have (and
/// is created with). `None` accepts what an existing array has; creating needs both.
#[derive(Clone, Debug, Default)]
pub struct ArrayOptions {
    /// Element type: a PEP 3118 format string or a NumPy type string of one scalar.
    pub format: Option<String>,
    /// Shape (an empty shape is one element).
    pub shape: Option<Vec<u64>>,
}

/// A handle to an array in a store. Cheap to clone; keeps its store attached.
#[derive(Clone)]
pub struct Array {
    inner: Arc<ArrayInner>,
}

impl std::fmt::Debug for Array {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Array")
            .field("name", &self.inner.name)
            .field("format", &self.inner.element.format())
            .field("shape", &self.inner.shape)
            .finish()
    }
}

/// The per-process view of one array: its header, checked once.
pub(crate) struct ArrayInner {
    pub(crate) store: Store,
    pub(crate) name: String,
    pub(crate) root: u64,
    pub(crate) element: ElementType,
    pub(crate) shape: Vec<u64>,
    pub(crate) len: u64,
    pub(crate) data: u64,
    pub(crate) data_block: u64,
}

impl ArrayInner {
    #[inline]
    pub(crate) fn region(&self) -> &Region {
        &self.store.inner.region
    }

    /// `result`, unless the store file shrank under this process (see `sys::fault`).
    #[inline]
    pub(crate) fn unfaulted<T>(&self, result: Result<T, ArrayError>) -> Result<T, ArrayError> {
        match self.region().faulted_at() {
            None => result,
            Some(offset) => Err(ArrayError::corrupt(offset, crate::store::SHRUNK)),
        }
    }

    pub(crate) fn nbytes(&self) -> u64 {
        self.len * self.element.itemsize()
    }

    /// Offset of element `start`, after checking that `[start, start + count)` are elements.
    #[inline]
    fn offset_of_range(&self, start: u64, count: u64) -> Result<u64, ArrayError> {
        match start.checked_add(count) {
            Some(end) if end <= self.len => Ok(self.data + start * self.element.itemsize()),
            _ => Err(ArrayError::IndexOutOfRange {
                index: start.saturating_add(count.saturating_sub(1)),
                len: self.len,
            }),
        }
    }

    /// Elements a buffer of `bytes` holds, which must be a whole number of them.
    fn elements_in(&self, bytes: usize) -> Result<u64, ArrayError> {
        let size = self.element.itemsize();
        let bytes = bytes as u64;
        if bytes % size != 0 {
            return Err(ArrayError::BufferLength {
                given: bytes as usize,
                needed: bytes.next_multiple_of(size),
            });
        }
        Ok(bytes / size)
    }
}

/// Elements of `shape`, or why the shape is refused for elements of `itemsize` bytes.
pub(crate) fn elements_of(shape: &[u64], itemsize: u64) -> Result<u64, ArrayError> {
    let bad = |reason: String| ArrayError::BadShape {
        shape: shape.to_vec(),
        reason,
    };
    if shape.len() > MAX_NDIM {
        return Err(bad(format!("more than {MAX_NDIM} dimensions")));
    }
    let len = shape
        .iter()
        .try_fold(1u64, |a, d| a.checked_mul(*d))
        .ok_or_else(|| bad("too many elements".into()))?;
    match len.checked_mul(itemsize) {
        Some(bytes) if bytes <= MAX_BYTES => Ok(len),
        _ => Err(bad(format!(
            "{len} elements of {itemsize} bytes are more than {MAX_BYTES} bytes"
        ))),
    }
}

/// Makes the root of a new array whose elements are in `data_block` (already zeroed).
fn create_root(
    store: &Store,
    element: &ElementType,
    shape: &[u64],
    len: u64,
    data_block: u64,
) -> Result<u64, AllocError> {
    let format = element.format().as_bytes();
    let root = store.alloc(ROOT_LEN + format.len() as u64)?;
    let region = &store.inner.region;
    region.fill_bytes(root, ROOT_LEN, 0)?;
    region.write_bytes(root + ROOT_LEN, format)?;
    let r: &ArrayRoot = region.get(root)?;
    r.version.store(ARRAY_VERSION, Ordering::Relaxed);
    r.ndim.store(shape.len() as u32, Ordering::Relaxed);
    r.itemsize.store(element.itemsize(), Ordering::Relaxed);
    r.len.store(len, Ordering::Relaxed);
    r.data_block.store(data_block, Ordering::Relaxed);
    r.data
        .store(data_block.next_multiple_of(DATA_ALIGN), Ordering::Relaxed);
    r.format_len.store(format.len() as u32, Ordering::Relaxed);
    r.created_unix_ns
        .store(crate::sys::unix_time_ns(), Ordering::Relaxed);
    for (slot, d) in r.shape.iter().zip(shape) {
        slot.store(*d, Ordering::Relaxed);
    }
    // Release: whoever sees the magic (or the directory entry after it) sees the rest.
    r.magic.store(ARRAY_MAGIC, Ordering::Release);
    Ok(root)
}

/// Bytes to allocate for `nbytes` of elements aligned to [`DATA_ALIGN`] (payloads are
/// 16-aligned), at least one cache line.
fn data_block_len(nbytes: u64) -> u64 {
    nbytes.max(1) + DATA_ALIGN - 16
}

impl Array {
    /// Checks the header of the array at `root` and makes this process's view of it.
    pub(super) fn attach(store: &Store, name: &str, root: u64) -> Result<Array, ArrayError> {
        let region = &store.inner.region;
        let r: &ArrayRoot = region.get(root)?;
        let corrupt = |what: String| ArrayError::corrupt(root, what);
        if r.magic.load(Ordering::Acquire) != ARRAY_MAGIC {
            return Err(corrupt("not an array root (bad magic)".into()));
        }
        let version = r.version.load(Ordering::Relaxed);
        if version != ARRAY_VERSION {
            return Err(corrupt(format!(
                "array layout version {version} (this build reads version {ARRAY_VERSION})"
            )));
        }
        let format_len = r.format_len.load(Ordering::Relaxed) as usize;
        if format_len > dtype::MAX_FORMAT_LEN {
            return Err(corrupt(format!("a format string of {format_len} bytes")));
        }
        let mut format = vec![0; format_len];
        region.read_bytes(root + ROOT_LEN, &mut format)?;
        let format = String::from_utf8(format)
            .map_err(|_| corrupt("the element type is not UTF-8".into()))?;
        let element = ElementType::parse(&format)
            .map_err(|e| corrupt(format!("stored element type refused: {e}")))?;
        if r.itemsize.load(Ordering::Relaxed) != element.itemsize() {
            return Err(corrupt(format!(
                "item size {} does not match its element type ({} bytes)",
                r.itemsize.load(Ordering::Relaxed),
                element.itemsize()
            )));
        }
        let ndim = r.ndim.load(Ordering::Relaxed) as usize;
        if ndim > MAX_NDIM {
            return Err(corrupt(format!("{ndim} dimensions")));
        }
        let shape: Vec<u64> = r.shape[..ndim]
            .iter()
            .map(|d| d.load(Ordering::Relaxed))
            .collect();
        let len = elements_of(&shape, element.itemsize())
            .map_err(|e| corrupt(format!("stored shape refused: {e}")))?;
        if r.len.load(Ordering::Relaxed) != len {
            return Err(corrupt(format!(
                "length {} is not the product of the shape {shape:?}",
                r.len.load(Ordering::Relaxed)
            )));
        }
        let data_block = r.data_block.load(Ordering::Relaxed);
        let data = r.data.load(Ordering::Relaxed);
        if data_block.checked_next_multiple_of(DATA_ALIGN) != Some(data) {
            return Err(corrupt(format!(
                "elements at {data} are not where block {data_block} puts them"
            )));
        }
        region.check_range(data, len * element.itemsize())?;
        // The elements must lie in one allocated block of their own: a damaged offset must
        // not let writes to this array land on other objects or the store's header.
        let need = data - data_block + len * element.itemsize();
        match store.block_capacity(data_block) {
            Ok(have) if have >= need => {}
            Ok(have) => {
                return Err(corrupt(format!(
                    "element block at {data_block} holds {have} bytes, needs {need}"
                )));
            }
            Err(e) => {
                return Err(corrupt(format!(
                    "elements at {data_block} are not in an allocated block: {e}"
                )));
            }
        }
        Ok(Array {
            inner: Arc::new(ArrayInner {
                store: store.clone(),
                name: name.to_string(),
                root,
                element,
                shape,
                len,
                data,
                data_block,
            }),
        })
    }

    /// Opens `name` (which must be an array), checking it has what `options` asks for, or
    /// creates it when both an element type and a shape are given.
    pub(super) fn open_or_create_array(
        store: &Store,
        name: &str,
        options: &ArrayOptions,
    ) -> Result<Array, ArrayError> {
        let asked = options
            .format
            .as_deref()
            .map(ElementType::parse)
            .transpose()?;
        if let (Some(element), Some(shape)) = (&asked, &options.shape) {
            elements_of(shape, element.itemsize())?;
        }
        let array = match store.object(name, ObjectKind::Array) {
            Ok(root) => Array::attach(store, name, root)?,
            Err(DirectoryError::NotFound(_)) => match (&asked, &options.shape) {
                (Some(element), Some(shape)) => Array::create(store, name, element, shape)?,
                _ => return Err(ArrayError::NeedsType(name.to_string())),
            },
            Err(e) => return Err(e.into()),
        };
        array.check_matches(asked.as_ref(), options.shape.as_deref())?;
        Ok(array)
    }

    fn create(
        store: &Store,
        name: &str,
        element: &ElementType,
        shape: &[u64],
    ) -> Result<Array, ArrayError> {
        let len = elements_of(shape, element.itemsize())?;
        let nbytes = len * element.itemsize();
        // The element block is unreachable until the entry is published: hold back this
        // process's leak sweep meanwhile. It is made and zeroed before the directory lock is
        // taken (zeroing a large array takes a while).
        let _writing = store.inner.enter_write();
        let block = store.alloc(data_block_len(nbytes))?;
        let zeroed = block
            .checked_next_multiple_of(DATA_ALIGN)
            .ok_or_else(|| ArrayError::corrupt(block, "block offset out of range"))
            .and_then(|data| Ok(store.inner.region.fill_bytes(data, nbytes, 0)?));
        if let Err(e) = zeroed {
            let _ = store.free(block);
            return Err(e);
        }
        let used = Cell::new(false);
        // The attachment's own `object_or_create`: this call already holds the sweep gate.
        let root = store.inner.object_or_create(name, ObjectKind::Array, || {
            used.set(true);
            create_root(store, element, shape, len, block)
        });
        if !(root.is_ok() && used.get()) {
            // Another process created the array first, or nothing was published.
            let _ = store.free(block);
        }
        Array::attach(store, name, root?)
    }

    fn check_matches(
        &self,
        element: Option<&ElementType>,
        shape: Option<&[u64]>,
    ) -> Result<(), ArrayError> {
        if let Some(element) = element {
            if !element.same_layout(&self.inner.element) {
                return Err(ArrayError::TypeMismatch {
                    name: self.inner.name.clone(),
                    found: self.inner.element.format().to_string(),
                    asked: element.format().to_string(),
                });
            }
        }
        if let Some(shape) = shape {
            if shape != self.inner.shape {
                return Err(ArrayError::ShapeMismatch {
                    name: self.inner.name.clone(),
                    found: self.inner.shape.clone(),
                    asked: shape.to_vec(),
                });
            }
        }
        Ok(())
    }

    /// Checks that the array has the element type and shape `options` names (`None`
    /// accepts any): [`ArrayError::TypeMismatch`] or [`ArrayError::ShapeMismatch`] if not.
    pub fn check_options(&self, options: &ArrayOptions) -> Result<(), ArrayError> {
        let element = options
            .format
            .as_deref()
            .map(ElementType::parse)
            .transpose()?;
        self.check_matches(element.as_ref(), options.shape.as_deref())
    }

    /// The array's name in its store's directory.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The store the array lives in.
    pub fn store_handle(&self) -> &Store {
        &self.inner.store
    }

    /// Offset of the array's root block in the store.
    pub fn root_offset(&self) -> u64 {
        self.inner.root
    }

    /// The element type.
    pub fn element_type(&self) -> &ElementType {
        &self.inner.element
    }

    /// The element type's format string, as stored.
    pub fn format(&self) -> &str {
        self.inner.element.format()
    }

    /// The shape (empty for a single element).
    pub fn shape(&self) -> &[u64] {
        &self.inner.shape
    }

    /// Elements (the product of the shape).
    pub fn len(&self) -> u64 {
        self.inner.len
    }

    /// True when the array has no elements (a zero in its shape).
    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// Bytes of one element.
    pub fn itemsize(&self) -> u64 {
        self.inner.element.itemsize()
    }

    /// Bytes of all elements.
    pub fn nbytes(&self) -> u64 {
        self.inner.nbytes()
    }

    /// The flat (C order) index of the element at `index`, one number per dimension.
    pub fn flat_index(&self, index: &[u64]) -> Result<u64, ArrayError> {
        let shape = &self.inner.shape;
        if index.len() != shape.len() {
            return Err(ArrayError::BadShape {
                shape: index.to_vec(),
                reason: format!(
                    "an index of {} numbers into an array of {} dimensions",
                    index.len(),
                    shape.len()
                ),
            });
        }
        let mut flat = 0u64;
        for (i, d) in index.iter().zip(shape) {
            if i >= d {
                return Err(ArrayError::IndexOutOfRange {
                    index: flat.saturating_mul(*d).saturating_add(*i),
                    len: self.inner.len,
                });
            }
            flat = flat * d + i;
        }
        Ok(flat)
    }

    /// Copies element `index` into `out` (exactly one element's bytes). Racy: see the module
    /// docs.
    pub fn read(&self, index: u64, out: &mut [u8]) -> Result<(), ArrayError> {
        self.read_range(index, out).and_then(|n| {
            if n == 1 {
                Ok(())
            } else {
                Err(ArrayError::BufferLength {
                    given: out.len(),
                    needed: self.itemsize(),
                })
            }
        })
    }

    /// Copies elements from `start` into `out`, as many as it holds (a whole number);
    /// returns how many.
    pub fn read_range(&self, start: u64, out: &mut [u8]) -> Result<u64, ArrayError> {
        let count = self.inner.elements_in(out.len())?;
        let offset = self.inner.offset_of_range(start, count)?;
        self.inner.region().read_bytes(offset, out)?;
        self.inner.unfaulted(Ok(count))
    }

    /// Stores `data` (exactly one element's bytes) as element `index`. Racy: see the module
    /// docs.
    pub fn write(&self, index: u64, data: &[u8]) -> Result<(), ArrayError> {
        if data.len() as u64 != self.itemsize() {
            return Err(ArrayError::BufferLength {
                given: data.len(),
                needed: self.itemsize(),
            });
        }
        self.write_range(index, data)
    }

    /// Stores the elements in `data` (a whole number of them) from `start` on.
    pub fn write_range(&self, start: u64, data: &[u8]) -> Result<(), ArrayError> {
        let count = self.inner.elements_in(data.len())?;
        let offset = self.inner.offset_of_range(start, count)?;
        self.inner.region().write_bytes(offset, data)?;
        self.inner.unfaulted(Ok(()))
    }

    /// The elements as a slice of atomics `A`, for element types of one integer of `A`'s
    /// size: lock-free updates many processes can make at once.
    pub fn atomics<A: AtomicElement>(&self) -> Result<&[A], ArrayError> {
        let ours = ElementType::parse(A::FORMAT)?;
        if !ours.same_layout(&self.inner.element) {
            return Err(ArrayError::TypeMismatch {
                name: self.inner.name.clone(),
                found: self.format().to_string(),
                asked: A::FORMAT.to_string(),
            });
        }
        let slice = self
            .inner
            .region()
            .get_slice::<A>(self.inner.data, self.inner.len)?;
        self.inner.unfaulted(Ok(slice))
    }

    /// A typed view: element type `T` must have the array's layout.
    pub fn typed<T: Element>(&self) -> Result<TypedArray<T>, ArrayError> {
        TypedArray::new(self.clone())
    }

    /// The address of element 0 in this process, for handing the elements to foreign code
    /// (a NumPy array, a C pointer): [`Array::nbytes`] bytes, 64-byte aligned, in C order.
    /// It stays valid while this handle, a clone of it or a handle to its store lives in
    /// this process (the store's mapping never moves). Reading or writing through it is up to
    /// the caller, racing with other processes like any shared memory.
    pub fn data_ptr(&self) -> NonNull<u8> {
        self.inner
            .region()
            .address(self.inner.data, self.inner.nbytes())
            .expect("the element range was checked when the array was opened")
    }
}

impl Store {
    /// Opens the array `name`, creating it with elements of type `format` (a PEP 3118 format
    /// string such as `"<d"` or `"T{<d:x:<d:y:}"`, or a NumPy type string such as `"<f8"`)
    /// and `shape`, all zero, if missing. An existing array must have that element type and
    /// shape.
    pub fn array(&self, name: &str, format: &str, shape: &[u64]) -> Result<Array, ArrayError> {
        self.open_or_create_object(
            name,
            &ArrayOptions {
                format: Some(format.to_string()),
                shape: Some(shape.to_vec()),
            },
        )
    }

    /// Opens an existing array with the element type and shape it has.
    pub fn open_array(&self, name: &str) -> Result<Array, ArrayError> {
        self.open_object(name)
    }

    /// [`Store::array`] with the element type of `T`, as a typed view.
    pub fn typed_array<T: Element>(
        &self,
        name: &str,
        shape: &[u64],
    ) -> Result<TypedArray<T>, ArrayError> {
        self.array(name, T::FORMAT, shape)?.typed()
    }
}
