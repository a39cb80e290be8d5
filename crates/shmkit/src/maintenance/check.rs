//! The check and the repair of a whole store: allocator and directory, every object, every
//! lock, and the used blocks no structure reaches. What `shmkit check [--repair]`, `shmkit
//! gc`, Python's `Store.check()`/`repair()` and C's `shmkit_store_check` all run.
//!
//! Invariants:
//! - [`Store::check`] changes nothing except what any taker of a lock does after a dead
//!   owner (a hash-map shard is recovered when its lock is taken; reported as a note);
//! - every lock is taken with a timeout ([`MAINTENANCE_LOCK_WAIT`]); what a live process
//!   holds longer is reported [`Severity::Busy`] and not checked, and the leaked-block
//!   analysis, which needs every lock, is then skipped: neither call hangs behind a stopped
//!   process;
//! - [`Store::repair`] repairs in this order: dead processes' registry slots and the
//!   allocator, every object, the all-or-nothing locks, and last the used blocks no
//!   structure reaches — freed only while this process holds *exclusive use* of the store
//!   (its "attached" lock converted to exclusive: no other process is attached, and none can
//!   attach until the sweep ends), so no process can have allocated a block it has not
//!   published yet; collection writes of the calling process are waited for and held back
//!   (`store::sweep_gate`). Raw `Store::alloc`/`free` by other threads are not: a block kept
//!   only in a program's own data looks leaked. A second repair changes nothing.
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-check-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! store.hash_map("m").unwrap().set(b"k", b"v").unwrap();
//! let report = store.check();
//! assert!(report.is_clean(), "{report:?}");
//! let repair = store.repair();
//! assert!(repair.after.is_clean(), "{:?}", repair.after);
//! assert!(repair.repaired.is_empty()); // nothing to do
//! Store::remove(&name).unwrap();
//! ```

use super::reach::LeakReport;
use crate::collections::any::open_any;
use crate::collections::object::{CheckMode, ObjectReport};
use crate::store::directory::ObjectInfo;
use crate::store::locks::{LockRole, LockState};
use crate::store::verify::{MAINTENANCE_LOCK_WAIT, Problem, VerifyReport};
use crate::store::{ExclusiveUse, Store, SweepRefused};
use std::fmt;

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// Damage: part of the store is unusable or wrong.
    Problem,
    /// State a killed process left that [`Store::repair`] fixes.
    NeedsRepair,
    /// Not checked: a live process held the lock too long.
    Busy,
    /// Worth knowing, not wrong.
    Note,
}

impl Severity {
    /// Stable lowercase name (`problem`, `needs_repair`, `busy`, `note`).
    pub fn name(self) -> &'static str {
        match self {
            Severity::Problem => "problem",
            Severity::NeedsRepair => "needs_repair",
            Severity::Busy => "busy",
            Severity::Note => "note",
        }
    }
}

/// What happened to unreachable used blocks, or why nothing may be done about them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unreachable {
    /// Leaked by a killed process: a repair frees them.
    Leaked,
    /// Other processes are attached: they may be allocations about to be published.
    OthersAttached,
    /// Some objects' blocks could not be listed: they may be in use.
    Incomplete(Vec<String>),
}

/// One finding of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Finding {
    /// A lock held by a dead process or waiting for its repair.
    AbandonedLock(LockState),
    /// Damage in the allocator or directory.
    Allocator(Problem),
    /// The allocator could not be checked at all.
    AllocatorUnreadable(String),
    /// Blocks tagged free but on no free list.
    LeakedFreeBlocks {
        /// How many.
        blocks: u64,
        /// Their bytes.
        bytes: u64,
    },
    /// Allocator locks taken over from a dead process and not yet repaired.
    AllocatorLocksNeedRepair(u64),
    /// The directory could not be read.
    DirectoryUnreadable(String),
    /// Damage in one object.
    Object {
        /// Which object.
        object: ObjectInfo,
        /// What.
        problem: String,
    },
    /// A part whose lock a live process held too long.
    Busy {
        /// `None` for the allocator, else the object.
        object: Option<ObjectInfo>,
        /// What was not checked.
        what: String,
    },
    /// The check recovered part of an object after a dead writer (as any lock taker does).
    RecoveredWhileChecking {
        /// Which object.
        object: ObjectInfo,
        /// What was done.
        what: String,
    },
    /// An object of a kind this build cannot check.
    UnknownKind(ObjectInfo),
    /// Used blocks no structure reaches.
    UnreachableBlocks {
        /// How many.
        blocks: u64,
        /// Their bytes, headers included.
        bytes: u64,
        /// Whether they are leaked.
        status: Unreachable,
    },
    /// The leaked-block analysis was not run.
    LeakAnalysisSkipped(&'static str),
    /// The heap walk of the leaked-block analysis failed.
    HeapWalkFailed(String),
    /// The store file shrank under this process (truncated): nothing here can be checked.
    FileShrank {
        /// The first page found missing.
        offset: u64,
    },
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn object_label(o: &ObjectInfo) -> String {
    format!("{} {:?}", o.kind.name(), o.name)
}

impl Finding {
    /// How much it matters.
    pub fn severity(&self) -> Severity {
        match self {
            Finding::AbandonedLock(l) => match l.role {
                LockRole::AllOrNothing => Severity::NeedsRepair,
                // Counted by the allocator check, or recovered by the object's own check.
                LockRole::SizeClass | LockRole::Object => Severity::Note,
            },
            Finding::Allocator(_)
            | Finding::AllocatorUnreadable(_)
            | Finding::DirectoryUnreadable(_)
            | Finding::Object { .. }
            | Finding::HeapWalkFailed(_)
            | Finding::FileShrank { .. } => Severity::Problem,
            Finding::LeakedFreeBlocks { .. } | Finding::AllocatorLocksNeedRepair(_) => {
                Severity::NeedsRepair
            }
            Finding::Busy { .. } => Severity::Busy,
            Finding::RecoveredWhileChecking { .. }
            | Finding::UnknownKind(_)
            | Finding::LeakAnalysisSkipped(_) => Severity::Note,
            Finding::UnreachableBlocks { status, .. } => match status {
                Unreachable::Leaked => Severity::NeedsRepair,
                _ => Severity::Note,
            },
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Finding::AbandonedLock(l) if l.role == LockRole::Object => write!(
                f,
                "{}; recovered by this check (as by any next taker of the lock)",
                l.describe()
            ),
            Finding::AbandonedLock(l) => write!(f, "{}", l.describe()),
            Finding::Allocator(p) => write!(f, "offset {}: {}", p.offset, p.what),
            Finding::AllocatorUnreadable(e) => write!(f, "allocator check failed: {e}"),
            Finding::LeakedFreeBlocks { blocks, bytes } => write!(
                f,
                "{} ({bytes} bytes) tagged free but on no free list (left by a killed process)",
                plural(*blocks, "block", "blocks")
            ),
            Finding::AllocatorLocksNeedRepair(n) => write!(
                f,
                "{} taken over from a dead process and not yet repaired",
                plural(*n, "allocator lock", "allocator locks")
            ),
            Finding::DirectoryUnreadable(e) => write!(f, "directory unreadable: {e}"),
            Finding::Object { object, problem } => {
                write!(f, "{}: {problem}", object_label(object))
            }
            Finding::Busy { object: None, what } => write!(f, "{what}"),
            Finding::Busy {
                object: Some(o),
                what,
            } => write!(f, "{}: {what}", object_label(o)),
            Finding::RecoveredWhileChecking { object, what } => write!(
                f,
                "{}: recovered while checking (a writer had died): {what}",
                object_label(object)
            ),
            Finding::UnknownKind(o) => write!(
                f,
                "{} not checked: this build has no check for its kind",
                object_label(o)
            ),
            Finding::UnreachableBlocks {
                blocks,
                bytes,
                status,
            } => {
                let what = format!(
                    "{} ({bytes} bytes) reachable from no structure",
                    plural(*blocks, "allocated block", "allocated blocks")
                );
                match status {
                    Unreachable::Leaked => write!(f, "{what} (leaked by a killed process)"),
                    Unreachable::OthersAttached => write!(
                        f,
                        "{what}; other processes are attached, so these may be allocations about to be published"
                    ),
                    Unreachable::Incomplete(why) => write!(
                        f,
                        "{what}, but the analysis is incomplete ({}), so they may be in use",
                        why.join("; ")
                    ),
                }
            }
            Finding::LeakAnalysisSkipped(why) => {
                write!(f, "leaked-block analysis skipped: {why}")
            }
            Finding::HeapWalkFailed(e) => write!(f, "heap walk failed: {e}"),
            Finding::FileShrank { offset } => write!(
                f,
                "the store file shrank under this process (first missing page at offset {offset}); check it from a new process, or remove it"
            ),
        }
    }
}

/// How checking one object went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjectOutcome {
    /// Checked; its report.
    Checked(ObjectReport),
    /// It could not be opened (a damaged root).
    CannotOpen(String),
    /// Its check failed.
    CheckFailed(String),
    /// A kind this build cannot check.
    UnknownKind,
}

/// One object and how its check went.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectCheck {
    /// The object.
    pub info: ObjectInfo,
    /// Its result.
    pub outcome: ObjectOutcome,
}

impl ObjectCheck {
    /// `consistent`, `damaged` or `not_checked` (a kind this build cannot check): the one
    /// wording of an object's state that the CLI's JSON and Python's report share.
    pub fn state(&self) -> &'static str {
        match &self.outcome {
            ObjectOutcome::Checked(c) if c.problems.is_empty() => "consistent",
            ObjectOutcome::Checked(_)
            | ObjectOutcome::CannotOpen(_)
            | ObjectOutcome::CheckFailed(_) => "damaged",
            ObjectOutcome::UnknownKind => "not_checked",
        }
    }

    /// Items the check counted, if it counted any.
    pub fn item_count(&self) -> Option<u64> {
        match &self.outcome {
            ObjectOutcome::Checked(c) => c.item_count,
            _ => None,
        }
    }
}

/// The result of [`Store::check`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StoreReport {
    /// The allocator and directory check (`None` if it failed; a finding says why).
    pub allocator: Option<VerifyReport>,
    /// Every object of the directory.
    pub objects: Vec<ObjectCheck>,
    /// The leaked-block analysis, if it ran.
    pub leaks: Option<LeakReport>,
    /// Everything found, in the order found.
    pub findings: Vec<Finding>,
}

impl StoreReport {
    /// True when everything was checked and nothing needs a repair.
    pub fn is_clean(&self) -> bool {
        self.findings.iter().all(|f| f.severity() == Severity::Note)
    }

    /// The findings of one severity.
    pub fn with_severity(&self, severity: Severity) -> impl Iterator<Item = &Finding> {
        self.findings
            .iter()
            .filter(move |f| f.severity() == severity)
    }

    /// How many findings have `severity`.
    pub fn count(&self, severity: Severity) -> usize {
        self.with_severity(severity).count()
    }
}

/// Why a part was not repaired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotRepairedBecause {
    /// A live process held its lock too long.
    Busy,
    /// The repair failed.
    Failed,
    /// Skipped on purpose (the reason is in the text).
    Skipped,
}

/// A part [`Store::repair`] did not repair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotRepaired {
    /// Why.
    pub because: NotRepairedBecause,
    /// What.
    pub what: String,
}

impl NotRepaired {
    fn new(because: NotRepairedBecause, what: impl Into<String>) -> NotRepaired {
        NotRepaired {
            because,
            what: what.into(),
        }
    }
}

impl fmt::Display for NotRepaired {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.because {
            NotRepairedBecause::Busy => write!(f, "busy: {}; not repaired", self.what),
            NotRepairedBecause::Failed => write!(f, "could not repair {}", self.what),
            NotRepairedBecause::Skipped => write!(f, "skipped {}", self.what),
        }
    }
}

/// The result of [`Store::repair`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RepairReport {
    /// What was repaired (empty if nothing needed it).
    pub repaired: Vec<String>,
    /// What was not repaired, and why (busy locks, other processes attached, failures).
    pub not_repaired: Vec<NotRepaired>,
    /// A fresh check after the repair.
    pub after: StoreReport,
}

impl Store {
    /// Checks the whole store without repairing it (see the module docs).
    pub fn check(&self) -> StoreReport {
        let mut r = StoreReport::default();
        if let Some(offset) = self.faulted_at() {
            r.findings.push(Finding::FileShrank { offset });
            return r;
        }
        for lock in self.lock_states() {
            if lock.is_abandoned() && lock.role != LockRole::SizeClass {
                r.findings.push(Finding::AbandonedLock(lock));
            }
        }
        match self.verify_allocator() {
            Ok(v) => {
                r.findings.extend(v.busy.iter().map(|b| Finding::Busy {
                    object: None,
                    what: b.clone(),
                }));
                r.findings
                    .extend(v.problems.iter().cloned().map(Finding::Allocator));
                if v.leaked_free_blocks > 0 {
                    r.findings.push(Finding::LeakedFreeBlocks {
                        blocks: v.leaked_free_blocks,
                        bytes: v.leaked_free_bytes,
                    });
                }
                if v.locks_needing_repair > 0 {
                    r.findings
                        .push(Finding::AllocatorLocksNeedRepair(v.locks_needing_repair));
                }
                r.allocator = Some(v);
            }
            Err(e) => r.findings.push(Finding::AllocatorUnreadable(e.to_string())),
        }
        let infos = match self.objects() {
            Ok(o) => o,
            Err(e) => {
                r.findings.push(Finding::DirectoryUnreadable(e.to_string()));
                return r;
            }
        };
        for info in infos {
            let outcome = check_object(self, &info, CheckMode::Verify);
            if let ObjectOutcome::Checked(c) = &outcome {
                r.findings
                    .extend(c.problems.iter().map(|p| Finding::Object {
                        object: info.clone(),
                        problem: format!("offset {}: {}", p.offset, p.what),
                    }));
                r.findings.extend(c.busy.iter().map(|b| Finding::Busy {
                    object: Some(info.clone()),
                    what: b.clone(),
                }));
                r.findings.extend(
                    c.repaired
                        .iter()
                        .map(|what| Finding::RecoveredWhileChecking {
                            object: info.clone(),
                            what: what.clone(),
                        }),
                );
            }
            match &outcome {
                ObjectOutcome::CannotOpen(e) | ObjectOutcome::CheckFailed(e) => {
                    r.findings.push(Finding::Object {
                        object: info.clone(),
                        problem: e.clone(),
                    })
                }
                ObjectOutcome::UnknownKind => r.findings.push(Finding::UnknownKind(info.clone())),
                ObjectOutcome::Checked(_) => {}
            }
            r.objects.push(ObjectCheck { info, outcome });
        }
        if r.count(Severity::Problem) > 0 {
            r.findings
                .push(Finding::LeakAnalysisSkipped("fix the problems above first"));
            return r;
        }
        if r.count(Severity::Busy) > 0 {
            r.findings.push(Finding::LeakAnalysisSkipped(
                "it needs every lock, and some are busy",
            ));
            return r;
        }
        match self.find_unreachable() {
            Ok(leaks) => {
                if !leaks.unreachable.is_empty() {
                    let status = if !leaks.complete {
                        Unreachable::Incomplete(leaks.incomplete_because.clone())
                    } else if self.others_attached() {
                        Unreachable::OthersAttached
                    } else {
                        Unreachable::Leaked
                    };
                    r.findings.push(Finding::UnreachableBlocks {
                        blocks: leaks.unreachable.len() as u64,
                        bytes: leaks.unreachable_bytes,
                        status,
                    });
                }
                r.leaks = Some(leaks);
            }
            Err(e) => r.findings.push(Finding::HeapWalkFailed(e)),
        }
        r
    }

    /// Repairs what can be repaired, then checks again (see the module docs for the order
    /// and for when leaked blocks are freed).
    pub fn repair(&self) -> RepairReport {
        let mut out = RepairReport::default();
        if self.faulted_at().is_some() {
            out.not_repaired.push(NotRepaired::new(
                NotRepairedBecause::Failed,
                "anything: the store file shrank under this process",
            ));
            out.after = self.check();
            return out;
        }
        let mut busy = false;
        match self.repair_allocator() {
            Ok(r) => {
                out.repaired.extend(r.repaired);
                busy |= !r.busy.is_empty();
                out.not_repaired.extend(
                    r.busy
                        .into_iter()
                        .map(|b| NotRepaired::new(NotRepairedBecause::Busy, b)),
                );
            }
            Err(e) => out.not_repaired.push(NotRepaired::new(
                NotRepairedBecause::Failed,
                format!("the allocator: {e}"),
            )),
        }
        let mut failed = false;
        for info in self.objects().unwrap_or_default() {
            let label = object_label(&info);
            match check_object(self, &info, CheckMode::Repair) {
                ObjectOutcome::Checked(c) => {
                    out.repaired
                        .extend(c.repaired.into_iter().map(|r| format!("{label}: {r}")));
                    busy |= !c.busy.is_empty();
                    out.not_repaired.extend(c.busy.into_iter().map(|b| {
                        NotRepaired::new(NotRepairedBecause::Busy, format!("{label}: {b}"))
                    }));
                }
                ObjectOutcome::CannotOpen(e) | ObjectOutcome::CheckFailed(e) => {
                    out.not_repaired.push(NotRepaired::new(
                        NotRepairedBecause::Failed,
                        format!("{label}: {e}"),
                    ))
                }
                ObjectOutcome::UnknownKind => {}
            }
        }
        let (cleared, stuck) = self.recover_abandoned_locks(MAINTENANCE_LOCK_WAIT);
        out.repaired.extend(cleared);
        busy |= !stuck.is_empty();
        out.not_repaired.extend(
            stuck
                .into_iter()
                .map(|s| NotRepaired::new(NotRepairedBecause::Busy, s)),
        );
        failed |= out
            .not_repaired
            .iter()
            .any(|n| n.because == NotRepairedBecause::Failed);
        if failed {
            out.not_repaired.push(NotRepaired::new(
                NotRepairedBecause::Skipped,
                "freeing unreachable blocks: a repair above failed",
            ));
        } else if busy {
            out.not_repaired.push(NotRepaired::new(
                NotRepairedBecause::Skipped,
                "freeing unreachable blocks: some locks are busy",
            ));
        } else {
            self.free_unreachable(&mut out);
        }
        out.after = self.check();
        out
    }

    /// The leak sweep of [`Store::repair`], under exclusive use of the store.
    fn free_unreachable(&self, out: &mut RepairReport) {
        let skip = |out: &mut RepairReport, why: String| {
            out.not_repaired.push(NotRepaired::new(
                NotRepairedBecause::Skipped,
                format!("freeing unreachable blocks: {why}"),
            ))
        };
        let lease = match self.inner.begin_exclusive_use(MAINTENANCE_LOCK_WAIT) {
            Ok(ExclusiveUse::Granted) => SweepLease(self),
            Ok(ExclusiveUse::OthersAttached) => {
                return skip(out, "other processes are attached".into());
            }
            Ok(ExclusiveUse::Refused(SweepRefused::AnotherSweep)) => {
                return skip(out, "another repair of this process is sweeping".into());
            }
            Ok(ExclusiveUse::Refused(SweepRefused::Writers)) => {
                return skip(out, "writes of this process kept running".into());
            }
            Err(e) => return skip(out, e.to_string()),
        };
        match self.find_unreachable() {
            Ok(leaks) if leaks.complete && !leaks.unreachable.is_empty() => {
                let mut freed = 0u64;
                for payload in &leaks.unreachable {
                    match self.free_within(*payload, MAINTENANCE_LOCK_WAIT) {
                        Ok(()) => freed += 1,
                        Err(e) => out.not_repaired.push(NotRepaired::new(
                            NotRepairedBecause::Failed,
                            format!("block {payload} (freeing it): {e}"),
                        )),
                    }
                }
                out.repaired.push(format!(
                    "freed {} ({} bytes) that no structure reached",
                    plural(freed, "leaked block", "leaked blocks"),
                    leaks.unreachable_bytes
                ));
            }
            Ok(leaks) if !leaks.unreachable.is_empty() => out.not_repaired.push(NotRepaired::new(
                NotRepairedBecause::Skipped,
                format!(
                    "freeing unreachable blocks: {}",
                    leaks.incomplete_because.join("; ")
                ),
            )),
            Ok(_) => {}
            Err(e) => out.not_repaired.push(NotRepaired::new(
                NotRepairedBecause::Skipped,
                format!("freeing unreachable blocks: {e}"),
            )),
        }
        if let Err(e) = lease.end() {
            out.not_repaired.push(NotRepaired::new(
                NotRepairedBecause::Failed,
                format!("the shared use of the store after the sweep: {e}"),
            ));
        }
    }
}

/// Exclusive use of a store by this process's sweep; shared use again when ended or dropped.
struct SweepLease<'a>(&'a Store);

impl SweepLease<'_> {
    fn end(self) -> std::io::Result<()> {
        let result = self.0.inner.end_exclusive_use();
        std::mem::forget(self);
        result
    }
}

impl Drop for SweepLease<'_> {
    fn drop(&mut self) {
        let _ = self.0.inner.end_exclusive_use();
    }
}

fn check_object(store: &Store, info: &ObjectInfo, mode: CheckMode) -> ObjectOutcome {
    match open_any(store, info) {
        Ok(Some(object)) => match object.check(mode) {
            Ok(report) => ObjectOutcome::Checked(report),
            Err(e) => ObjectOutcome::CheckFailed(e.to_string()),
        },
        Ok(None) => ObjectOutcome::UnknownKind,
        Err(e) => ObjectOutcome::CannotOpen(format!("cannot open: {e}")),
    }
}
