//! The one atomics facade of the crate: `std::sync::atomic` in a normal build. Under
//! `cfg(loom)` the same types are `#[repr(transparent)]` wrappers over the std atomics (same
//! size and layout, so they still live in mapped store memory and in statics) whose
//! operations go to loom while a model execution runs (see `raw::shadow` and
//! [`crate::sync::model`]), and to the real atomic otherwise. So the lock-free code is
//! model-checked as it is, with no change and no cost in a normal build.
//!
//! ```
//! use shmkit::sync::atomic::{AtomicU64, Ordering};
//! let a = AtomicU64::new(1);
//! assert_eq!(a.fetch_add(1, Ordering::Relaxed), 1);
//! ```

#[cfg(loom)]
pub use self::shadowed::{AtomicBool, AtomicU32, AtomicU64, fence};
pub use std::sync::atomic::Ordering;
#[cfg(not(loom))]
pub use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, fence};

/// Hint to the CPU that this is a spin-wait loop (in a loom model: let other threads run).
#[inline]
pub fn spin_hint() {
    #[cfg(loom)]
    if crate::raw::shadow::in_model() {
        loom::thread::yield_now();
        return;
    }
    std::hint::spin_loop();
}

/// Gives up the rest of the time slice (in a loom model: lets other threads run).
#[inline]
pub fn yield_now() {
    #[cfg(loom)]
    if crate::raw::shadow::in_model() {
        loom::thread::yield_now();
        return;
    }
    std::thread::yield_now();
}

/// The std atomic under a facade `AtomicU32` (for futex system calls, which work on the
/// real memory).
#[inline]
pub(crate) fn as_std_u32(word: &AtomicU32) -> &std::sync::atomic::AtomicU32 {
    #[cfg(loom)]
    return word.as_std();
    #[cfg(not(loom))]
    word
}

/// The wrappers of a loom build (see the module docs).
#[cfg(loom)]
mod shadowed {
    use crate::raw::shadow;
    use std::sync::atomic::Ordering;

    /// A failure ordering that is valid with `success` (for exchanges that always succeed).
    fn failure_for(success: Ordering) -> Ordering {
        match success {
            Ordering::Release => Ordering::Relaxed,
            Ordering::AcqRel => Ordering::Acquire,
            other => other,
        }
    }

    /// An atomic fence (loom's inside a model execution).
    pub fn fence(order: Ordering) {
        if shadow::in_model() {
            loom::sync::atomic::fence(order);
        } else {
            std::sync::atomic::fence(order);
        }
    }

    macro_rules! shadowed_int {
        ($name:ident, $int:ty) => {
            #[doc = concat!("`std::sync::atomic::", stringify!($name), "`, model-checked by loom inside a model execution.")]
            #[repr(transparent)]
            #[derive(Debug, Default, zerocopy::FromBytes, zerocopy::KnownLayout)]
            pub struct $name(std::sync::atomic::$name);

            impl $name {
                /// A new atomic.
                pub const fn new(v: $int) -> Self {
                    Self(std::sync::atomic::$name::new(v))
                }

                /// The std atomic underneath (its real memory).
                pub fn as_std(&self) -> &std::sync::atomic::$name {
                    &self.0
                }

                fn update(
                    &self,
                    success: Ordering,
                    failure: Ordering,
                    mut f: impl FnMut($int) -> Option<$int>,
                ) -> Result<$int, $int> {
                    shadow::rmw(&self.0, success, failure, |old| {
                        f(old as $int).map(|new| new as u64)
                    })
                    .map(|v| v as $int)
                    .map_err(|v| v as $int)
                }

                fn always(&self, order: Ordering, f: impl Fn($int) -> $int) -> $int {
                    match self.update(order, failure_for(order), |old| Some(f(old))) {
                        Ok(old) | Err(old) => old,
                    }
                }

                /// See std.
                pub fn load(&self, order: Ordering) -> $int {
                    if shadow::routed(&self.0) {
                        shadow::load(&self.0, order) as $int
                    } else {
                        self.0.load(order)
                    }
                }

                /// See std.
                pub fn store(&self, v: $int, order: Ordering) {
                    if shadow::routed_write(&self.0) {
                        shadow::store(&self.0, v as u64, order)
                    } else {
                        self.0.store(v, order)
                    }
                }

                /// See std.
                pub fn swap(&self, v: $int, order: Ordering) -> $int {
                    if shadow::routed_write(&self.0) {
                        self.always(order, |_| v)
                    } else {
                        self.0.swap(v, order)
                    }
                }

                /// See std.
                pub fn compare_exchange(
                    &self,
                    current: $int,
                    new: $int,
                    success: Ordering,
                    failure: Ordering,
                ) -> Result<$int, $int> {
                    if shadow::routed_write(&self.0) {
                        self.update(success, failure, |old| (old == current).then_some(new))
                    } else {
                        self.0.compare_exchange(current, new, success, failure)
                    }
                }

                /// See std (never fails spuriously in a model).
                pub fn compare_exchange_weak(
                    &self,
                    current: $int,
                    new: $int,
                    success: Ordering,
                    failure: Ordering,
                ) -> Result<$int, $int> {
                    if shadow::routed_write(&self.0) {
                        self.update(success, failure, |old| (old == current).then_some(new))
                    } else {
                        self.0.compare_exchange_weak(current, new, success, failure)
                    }
                }

                /// See std.
                pub fn fetch_update(
                    &self,
                    set_order: Ordering,
                    fetch_order: Ordering,
                    f: impl FnMut($int) -> Option<$int>,
                ) -> Result<$int, $int> {
                    if shadow::routed_write(&self.0) {
                        self.update(set_order, fetch_order, f)
                    } else {
                        self.0.fetch_update(set_order, fetch_order, f)
                    }
                }

                /// See std.
                pub fn fetch_add(&self, v: $int, order: Ordering) -> $int {
                    if shadow::routed_write(&self.0) {
                        self.always(order, |old| old.wrapping_add(v))
                    } else {
                        self.0.fetch_add(v, order)
                    }
                }

                /// See std.
                pub fn fetch_sub(&self, v: $int, order: Ordering) -> $int {
                    if shadow::routed_write(&self.0) {
                        self.always(order, |old| old.wrapping_sub(v))
                    } else {
                        self.0.fetch_sub(v, order)
                    }
                }

                /// See std.
                pub fn fetch_and(&self, v: $int, order: Ordering) -> $int {
                    if shadow::routed_write(&self.0) {
                        self.always(order, |old| old & v)
                    } else {
                        self.0.fetch_and(v, order)
                    }
                }

                /// See std.
                pub fn fetch_or(&self, v: $int, order: Ordering) -> $int {
                    if shadow::routed_write(&self.0) {
                        self.always(order, |old| old | v)
                    } else {
                        self.0.fetch_or(v, order)
                    }
                }

                /// See std.
                pub fn fetch_xor(&self, v: $int, order: Ordering) -> $int {
                    if shadow::routed_write(&self.0) {
                        self.always(order, |old| old ^ v)
                    } else {
                        self.0.fetch_xor(v, order)
                    }
                }

                /// See std.
                pub fn fetch_max(&self, v: $int, order: Ordering) -> $int {
                    if shadow::routed_write(&self.0) {
                        self.always(order, |old| old.max(v))
                    } else {
                        self.0.fetch_max(v, order)
                    }
                }

                /// See std.
                pub fn fetch_min(&self, v: $int, order: Ordering) -> $int {
                    if shadow::routed_write(&self.0) {
                        self.always(order, |old| old.min(v))
                    } else {
                        self.0.fetch_min(v, order)
                    }
                }
            }
        };
    }

    shadowed_int!(AtomicU32, u32);
    shadowed_int!(AtomicU64, u64);

    /// `std::sync::atomic::AtomicBool`, model-checked by loom inside a model execution.
    #[repr(transparent)]
    #[derive(Debug, Default, zerocopy::TryFromBytes, zerocopy::KnownLayout)]
    pub struct AtomicBool(std::sync::atomic::AtomicBool);

    impl AtomicBool {
        /// A new atomic.
        pub const fn new(v: bool) -> Self {
            Self(std::sync::atomic::AtomicBool::new(v))
        }

        fn always(&self, order: Ordering, f: impl Fn(bool) -> bool) -> bool {
            match shadow::rmw(&self.0, order, failure_for(order), |old| {
                Some(f(old != 0) as u64)
            }) {
                Ok(old) | Err(old) => old != 0,
            }
        }

        /// See std.
        pub fn load(&self, order: Ordering) -> bool {
            if shadow::routed(&self.0) {
                shadow::load(&self.0, order) != 0
            } else {
                self.0.load(order)
            }
        }

        /// See std.
        pub fn store(&self, v: bool, order: Ordering) {
            if shadow::routed_write(&self.0) {
                shadow::store(&self.0, v as u64, order)
            } else {
                self.0.store(v, order)
            }
        }

        /// See std.
        pub fn swap(&self, v: bool, order: Ordering) -> bool {
            if shadow::routed_write(&self.0) {
                self.always(order, |_| v)
            } else {
                self.0.swap(v, order)
            }
        }

        /// See std.
        pub fn compare_exchange(
            &self,
            current: bool,
            new: bool,
            success: Ordering,
            failure: Ordering,
        ) -> Result<bool, bool> {
            if shadow::routed_write(&self.0) {
                shadow::rmw(&self.0, success, failure, |old| {
                    (old == current as u64).then_some(new as u64)
                })
                .map(|v| v != 0)
                .map_err(|v| v != 0)
            } else {
                self.0.compare_exchange(current, new, success, failure)
            }
        }
    }
}
