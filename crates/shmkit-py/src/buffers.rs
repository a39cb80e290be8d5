//! Reused byte buffers for encoding keys and values and receiving values, so the hot paths
//! (`m[k]`, `m[k] = v`, `k in m`) allocate nothing once warm.
//!
//! Invariants: each thread owns one pair of scratch buffers, reached with a single
//! thread-local access per operation. A re-entrant use on the same thread (a key whose
//! pickling calls back into a map) gets fresh buffers instead, never a borrowed one.
//! Buffers that grew past [`KEEP_LIMIT`] are released after the operation.
//!
//! ```ignore
//! let n = with_scratch(|key, value| { key.push(1); key.len() });
//! ```

use std::cell::RefCell;

/// Largest buffer kept for reuse.
const KEEP_LIMIT: usize = 1 << 20;

#[derive(Default)]
struct Scratch {
    key: Vec<u8>,
    value: Vec<u8>,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        key: Vec::with_capacity(256),
        value: Vec::with_capacity(1024),
    });
}

/// Runs `f` with two empty buffers (this thread's scratch pair when it is free; `f` runs
/// exactly once).
#[inline]
pub fn with_scratch<R>(mut f: impl FnMut(&mut Vec<u8>, &mut Vec<u8>) -> R) -> R {
    let pooled = SCRATCH.try_with(|cell| {
        let mut scratch = cell.try_borrow_mut().ok()?;
        let Scratch { key, value } = &mut *scratch;
        key.clear();
        value.clear();
        let r = f(key, value);
        if key.capacity() > KEEP_LIMIT {
            *key = Vec::new();
        }
        if value.capacity() > KEEP_LIMIT {
            *value = Vec::new();
        }
        Some(r)
    });
    match pooled {
        Ok(Some(r)) => r,
        _ => f(&mut Vec::new(), &mut Vec::new()),
    }
}
