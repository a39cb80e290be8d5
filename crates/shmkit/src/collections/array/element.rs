//! Typed access to arrays from Rust: [`Element`] names the format string of a plain type,
//! [`TypedArray`] reads and writes elements as that type (racy copies, bounds-checked), and
//! [`AtomicElement`] lets [`super::Array::atomics`] view integer elements as atomics.
//!
//! Invariants: a [`TypedArray<T>`] exists only for an array whose element type has `T`'s
//! layout ([`super::dtype::ElementType::same_layout`]) and whose item size is
//! `size_of::<T>()`. `T` is `FromBytes`, so whatever bytes another process stored (even a
//! torn copy) are a valid `T`: a wrong [`Element::FORMAT`] can give wrong values, never
//! undefined behaviour.
//!
//! ```
//! use shmkit::{Element, Store, StoreOptions};
//! use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};
//!
//! #[repr(C)]
//! #[derive(Clone, Copy, Debug, PartialEq, FromBytes, IntoBytes, Immutable, KnownLayout)]
//! struct Point {
//!     x: f64,
//!     y: f64,
//!     id: u32,
//!     _pad: u32,
//! }
//! impl Element for Point {
//!     // NumPy: np.dtype([('x', '<f8'), ('y', '<f8'), ('id', '<u4')], align=True)
//!     const FORMAT: &'static str = "T{<d:x:<d:y:<I:id:4x}";
//! }
//!
//! let name = format!("doc-array-element-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let points = store.typed_array::<Point>("points", &[100]).unwrap();
//! let p = Point { x: 1.0, y: 2.0, id: 7, _pad: 0 };
//! points.set(3, p).unwrap();
//! assert_eq!(points.get(3).unwrap(), p);
//! assert_eq!(points.to_vec().unwrap().len(), 100);
//! assert!(points.get(100).is_err());
//! Store::remove(&name).unwrap();
//! ```

use super::dtype::ElementType;
use super::{Array, ArrayError};
use crate::raw::Shared;
use std::marker::PhantomData;
use std::sync::atomic as std_atomic;
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// A plain type an array can hold, with the PEP 3118 format string of its layout. The
/// built-in ones use native single-character codes (`"d"`, `"q"`), which Python's
/// `memoryview` can index (it refuses `"<d"`); native order is little-endian on every
/// platform shmkit runs on.
pub trait Element: FromBytes + IntoBytes + Immutable + KnownLayout + Copy + 'static {
    /// Its format string (a structure `T{...}` for a `#[repr(C)]` struct, with explicit
    /// padding `x` where the struct has padding fields).
    const FORMAT: &'static str;
}

macro_rules! elements {
    ($($t:ty => $f:literal),* $(,)?) => {
        $(impl Element for $t { const FORMAT: &'static str = $f; })*
    };
}

elements! {
    i8 => "b", u8 => "B", i16 => "h", u16 => "H", i32 => "i", u32 => "I",
    i64 => "q", u64 => "Q", f32 => "f", f64 => "d",
}

/// An atomic integer type an array of integers of its size can be viewed as.
pub trait AtomicElement: Shared {
    /// The format string of its integer.
    const FORMAT: &'static str;
}

macro_rules! atomics {
    ($($t:ident => $f:literal),* $(,)?) => {
        $(impl AtomicElement for std_atomic::$t { const FORMAT: &'static str = $f; })*
    };
}

atomics! {
    AtomicI8 => "b", AtomicU8 => "B", AtomicI16 => "h", AtomicU16 => "H",
    AtomicI32 => "i", AtomicU32 => "I", AtomicI64 => "q", AtomicU64 => "Q",
}

/// An array viewed as elements of type `T` (see the module docs). Cheap to clone.
#[derive(Clone, Debug)]
pub struct TypedArray<T> {
    array: Array,
    _element: PhantomData<fn() -> T>,
}

impl<T: Element> TypedArray<T> {
    pub(super) fn new(array: Array) -> Result<TypedArray<T>, ArrayError> {
        let ours = ElementType::parse(T::FORMAT)?;
        let size = size_of::<T>() as u64;
        if !(ours.itemsize() == size && ours.same_layout(array.element_type())) {
            return Err(ArrayError::TypeMismatch {
                name: array.name().to_string(),
                found: array.format().to_string(),
                asked: format!("{} ({} bytes)", T::FORMAT, size_of::<T>()),
            });
        }
        Ok(TypedArray {
            array,
            _element: PhantomData,
        })
    }

    /// The untyped array.
    pub fn array(&self) -> &Array {
        &self.array
    }

    /// Elements.
    pub fn len(&self) -> u64 {
        self.array.len()
    }

    /// True when the array has no elements.
    pub fn is_empty(&self) -> bool {
        self.array.is_empty()
    }

    /// The shape.
    pub fn shape(&self) -> &[u64] {
        self.array.shape()
    }

    /// Element `index` (a racy copy).
    pub fn get(&self, index: u64) -> Result<T, ArrayError> {
        let mut value = T::new_zeroed();
        self.array.read(index, value.as_mut_bytes())?;
        Ok(value)
    }

    /// Stores `value` as element `index`.
    pub fn set(&self, index: u64, value: T) -> Result<(), ArrayError> {
        self.array.write(index, value.as_bytes())
    }

    /// Copies elements from `start` into `out`.
    pub fn read_into(&self, start: u64, out: &mut [T]) -> Result<(), ArrayError> {
        self.array.read_range(start, out.as_mut_bytes()).map(|_| ())
    }

    /// Stores `values` from `start` on.
    pub fn write_from(&self, start: u64, values: &[T]) -> Result<(), ArrayError> {
        self.array.write_range(start, values.as_bytes())
    }

    /// All elements (a racy copy).
    pub fn to_vec(&self) -> Result<Vec<T>, ArrayError> {
        let len = usize::try_from(self.len()).map_err(|_| ArrayError::BadShape {
            shape: self.shape().to_vec(),
            reason: "more elements than this process can address".into(),
        })?;
        let mut out = vec![T::new_zeroed(); len];
        self.read_into(0, &mut out)?;
        Ok(out)
    }
}
