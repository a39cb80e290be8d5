//! Reused byte buffers for encoding keys and receiving values, so the hot paths (`m[k]`,
//! `m[k] = v`) allocate nothing once warm.
//!
//! Invariants: each thread keeps a small pool; a buffer is taken for one operation and given
//! back on drop. Re-entrant use (a key whose pickling calls back into a map on the same
//! thread) simply takes another buffer, never a borrowed one. Buffers that grew past
//! [`KEEP_LIMIT`] are freed instead of pooled.
//!
//! ```ignore
//! let mut key = Buffer::take();
//! key.extend_from_slice(b"k");
//! ```

use std::cell::RefCell;
use std::ops::{Deref, DerefMut};

/// Largest buffer kept for reuse.
const KEEP_LIMIT: usize = 1 << 20;
/// Buffers kept per thread.
const POOL_SIZE: usize = 8;

thread_local! {
    static POOL: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
}

/// A buffer from this thread's pool, returned to it on drop.
pub struct Buffer(Vec<u8>);

impl Buffer {
    /// An empty buffer (reused if one is pooled).
    pub fn take() -> Buffer {
        let pooled = POOL
            .try_with(|p| p.try_borrow_mut().ok().and_then(|mut p| p.pop()))
            .ok()
            .flatten();
        Buffer(pooled.unwrap_or_else(|| Vec::with_capacity(64)))
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        if self.0.capacity() > KEEP_LIMIT {
            return;
        }
        let mut v = std::mem::take(&mut self.0);
        v.clear();
        let _ = POOL.try_with(|p| {
            if let Ok(mut p) = p.try_borrow_mut()
                && p.len() < POOL_SIZE
            {
                p.push(v);
            }
        });
    }
}

impl Deref for Buffer {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for Buffer {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}
