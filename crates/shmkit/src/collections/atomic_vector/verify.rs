//! Consistency check, repair, statistics and block ownership of an atomic vector.
//!
//! A dead `expand` leaves nothing to repair (see the module docs of `atomic_vector`): taking
//! its lock over only marks it consistent. The check confirms what `expand` guarantees:
//! published segments form a prefix of the table, each is an allocated block large enough
//! for its elements, and `len` is within what they hold. A repair clears segment entries
//! after a hole or past the segments a vector of `MAX_LEN` elements uses, cuts the table at
//! the first segment that is not an allocated block large enough for it (clearing it and
//! every later entry), and lowers a `len` larger than the remaining segments hold; the leak
//! sweep then frees the real blocks among the cleared entries. Published segments beyond
//! `len`'s reach are not damage and are kept: the next `expand` reuses them.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-vector-verify-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! let v = store.atomic_vector("v", 8).unwrap();
//! v.expand(9).unwrap(); // a second segment
//! let report = v.verify().unwrap();
//! assert!(report.is_clean(), "{report:?}");
//! assert_eq!(report.len, 9);
//! let mut blocks = 0;
//! shmkit::collections::object::SharedObject::owned_blocks(&v, &mut |_| blocks += 1).unwrap();
//! assert_eq!(blocks, 1 + 2); // root, two segments
//! Store::remove(&name).unwrap();
//! ```

use super::layout::{MAX_LEN, ROOT_LEN, SEGMENTS, capacity, max_segments, segment_block_len};
use super::{VecInner, VectorError};
use crate::store::verify::{MAINTENANCE_LOCK_WAIT, Problem};
use crate::sync::LockError;
use crate::sync::atomic::Ordering;

/// The result of [`super::AtomicVector::verify`] and [`super::AtomicVector::repair`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VectorReport {
    /// Damage found (after any repair); empty when clean.
    pub problems: Vec<Problem>,
    /// Elements (the length).
    pub len: u64,
    /// What was repaired (or recovered after a dead process's `expand`).
    pub repaired: Vec<String>,
    /// Not checked because a live process held the expand lock longer than
    /// [`MAINTENANCE_LOCK_WAIT`].
    pub busy: Vec<String>,
}

impl VectorReport {
    /// True when the vector was checked and no problems were found.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty() && self.busy.is_empty()
    }
}

/// Counts and sizes of a vector ([`super::AtomicVector::stats`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VectorStats {
    /// Elements.
    pub len: u64,
    /// Elements the published segments hold.
    pub capacity: u64,
    /// Published segments.
    pub segments: u64,
    /// Bytes of the root and the segments' blocks.
    pub bytes_used: u64,
    /// `expand` calls that grew the vector.
    pub expands: u64,
    /// Processes in `wait` on it now.
    pub waiters: u64,
}

impl VecInner {
    /// Published segments: the prefix of nonzero entries, at most [`max_segments`] (a
    /// nonzero entry past them is damage, never published by `expand`).
    pub(crate) fn published(&self) -> Result<usize, VectorError> {
        let root = self.root_ref()?;
        Ok(root
            .segments
            .iter()
            .take(max_segments(self.base_shift))
            .take_while(|s| s.load(Ordering::Acquire) != 0)
            .count())
    }

    pub(crate) fn verify(&self, repair: bool) -> Result<VectorReport, VectorError> {
        let mut report = VectorReport::default();
        let root = self.root_ref()?;
        let (_guard, recovered) = match self.lock_expand(Some(MAINTENANCE_LOCK_WAIT)) {
            Ok(g) => g,
            Err(VectorError::Lock(LockError::Timeout(_))) => {
                report.busy.push("expand lock".into());
                report.len = root.len.load(Ordering::Acquire);
                return Ok(report);
            }
            Err(e) => return Err(e),
        };
        if recovered {
            report
                .repaired
                .push("expand lock taken over from a dead process (nothing to repair)".into());
        }
        let published = self.published()?;
        let max = max_segments(self.base_shift);
        for (i, entry) in root.segments.iter().enumerate().skip(published) {
            let block = entry.load(Ordering::Acquire);
            if block == 0 {
                continue;
            }
            let why = if i >= max {
                "beyond the segments a vector of the maximum length uses"
            } else {
                "after a missing segment"
            };
            if repair {
                entry.store(0, Ordering::Release);
                report.repaired.push(format!(
                    "cleared segment {i} (at {block}), published {why}; the leak sweep frees it"
                ));
            } else {
                report.problems.push(Problem {
                    offset: self.root,
                    what: format!("segment {i} is published {why}"),
                });
            }
        }
        // Every published segment must be an allocated block large enough for its elements.
        // A repair cuts the table at the first one that is not (so the blocks the vector
        // names, which the leak sweep trusts, are all real), lowering `len` to match.
        let mut kept = published;
        let mut cut = None;
        for (i, entry) in root.segments.iter().enumerate().take(published) {
            let block = entry.load(Ordering::Acquire);
            let damage = match segment_block_len(self.base_shift, i) {
                None => Some(format!("segment {i} has an impossible size")),
                Some(need) => match self.store.block_capacity(block) {
                    Ok(have) if have >= need => None,
                    Ok(have) => Some(format!(
                        "segment {i} block at {block} holds {have} bytes, needs {need}"
                    )),
                    Err(e) => Some(format!(
                        "segment {i} at {block} is not an allocated block: {e}"
                    )),
                },
            };
            let Some(what) = damage else { continue };
            if repair {
                kept = i;
                cut = Some(what);
                break;
            }
            report.problems.push(Problem {
                offset: block,
                what,
            });
        }
        let cap = capacity(self.base_shift, kept).min(MAX_LEN);
        let len = root.len.load(Ordering::Acquire);
        if len > cap {
            if repair {
                // Lowered before any entry is cleared: an index below `len` keeps its segment.
                root.len.store(cap, Ordering::Release);
                report.repaired.push(format!(
                    "length {len} lowered to {cap}, what the usable segments hold"
                ));
            } else {
                report.problems.push(Problem {
                    offset: self.root,
                    what: format!("length {len} is more than the segments hold ({cap})"),
                });
            }
        }
        if let Some(what) = cut {
            // From the end, so the published entries stay a prefix throughout.
            for entry in root.segments[kept..published].iter().rev() {
                entry.store(0, Ordering::Release);
            }
            report.repaired.push(format!(
                "{what}: cut the segment table there (cleared segments {kept}..{published}; \
                 the leak sweep frees the real blocks among them)"
            ));
        }
        report.len = root.len.load(Ordering::Acquire);
        Ok(report)
    }

    pub(crate) fn owned_blocks(&self, f: &mut dyn FnMut(u64)) -> Result<(), VectorError> {
        let root = self.root_ref()?;
        // Under the expand lock, so a segment being published is not missed.
        let _guard = self.lock_expand(Some(MAINTENANCE_LOCK_WAIT))?;
        f(self.root);
        for entry in root.segments.iter().take(self.published()?) {
            f(entry.load(Ordering::Acquire));
        }
        Ok(())
    }

    pub(crate) fn stats(&self) -> Result<VectorStats, VectorError> {
        let root = self.root_ref()?;
        let segments = self.published()?;
        let bytes = (0..segments)
            .map(|i| segment_block_len(self.base_shift, i).unwrap_or(u64::MAX))
            .fold(0, u64::saturating_add);
        debug_assert!(segments <= SEGMENTS);
        Ok(VectorStats {
            len: root.len.load(Ordering::Acquire),
            capacity: capacity(self.base_shift, segments),
            segments: segments as u64,
            bytes_used: ROOT_LEN.saturating_add(bytes),
            expands: root.expands.load(Ordering::Relaxed),
            waiters: root.waiters.load(Ordering::Relaxed),
        })
    }
}
