//! What the blocking operations of the queue kinds share: how long a call may wait, and
//! what one step of a pop loop did.
//!
//! ```
//! // A zero timeout does not wait; `None` waits for ever (see `Wait::from_timeout`).
//! use shmkit::{Store, StoreOptions};
//! use std::time::Duration;
//! let name = format!("doc-waiting-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let d = store.deque("d").unwrap();
//! assert_eq!(d.pop_front_timeout(Some(Duration::ZERO)).unwrap(), None);
//! Store::remove(&name).unwrap();
//! ```

use std::time::{Duration, Instant};

/// How long an operation may wait for items or room.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Wait {
    /// Not at all.
    No,
    /// Until the deadline (`None`: for ever).
    Until(Option<Instant>),
}

impl Wait {
    /// `Some(ZERO)`: not at all; `None`: for ever (as is a deadline past `Instant`'s range).
    pub(crate) fn from_timeout(timeout: Option<Duration>) -> Wait {
        match timeout {
            Some(t) if t.is_zero() => Wait::No,
            Some(t) => Wait::Until(Instant::now().checked_add(t)),
            None => Wait::Until(None),
        }
    }
}

/// What one step of a pop loop did.
pub(crate) enum Took {
    /// Popped an item.
    Item,
    /// Found the queue empty (the loop may wait).
    Empty,
    /// Must not go on (the loop returns at once).
    Stop,
}

impl From<bool> for Took {
    fn from(popped: bool) -> Took {
        if popped { Took::Item } else { Took::Empty }
    }
}
