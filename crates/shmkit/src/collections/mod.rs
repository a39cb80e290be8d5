//! Collections that live in a store: safe code only, built on [`crate::store`] and
//! the crate's robust locks and seqlocks (`sync`).
//!
//! Every kind of object implements [`object::Collection`]; [`any::open_any`] opens any
//! object found in a store's directory as an [`object::SharedObject`].
//!
//! Invariants shared by every collection here:
//! - all shared state is reached through the store's bounds-checked accessors, so a corrupt
//!   or concurrently rewritten offset yields an error, never a wild read;
//! - every mutation is published with one atomic store under the collection's robust lock,
//!   and whoever takes over a dead writer's lock repairs before going on.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-collections-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let map = store.hash_map("users").unwrap();
//! map.set(b"ada", b"lovelace").unwrap();
//! assert_eq!(map.get(b"ada").unwrap().as_deref(), Some(&b"lovelace"[..]));
//! Store::remove(&name).unwrap();
//! ```

pub mod any;
pub mod array;
pub mod atomic_vector;
internal! { mod checked_block; }
pub mod deque;
pub mod hash_map;
pub mod object;
pub mod ordered_map;
pub mod priority_queue;
mod waiting;
