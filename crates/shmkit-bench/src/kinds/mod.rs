//! One module per kind of object, each a section of `shmkit bench`, and the registry of them.
//!
//! A kind's section measures its shmkit object in worker processes against the std
//! collection of the same kind in this process, every value checked. Adding a kind's
//! section is one file here (its phases, the baseline, the worker side: see [`hash_map`])
//! and one line in [`KINDS`]; `shmkit bench` then runs it by default (unless its
//! [`Kind::in_default_run`] says no) and with `--kind <name>`.
//!
//! ```
//! let names: Vec<&str> = shmkit_bench::KINDS.iter().map(|k| k.name()).collect();
//! assert_eq!(names, ["hash_map", "atomic_vector", "deque", "priority_queue", "ordered_map"]);
//! let default: Vec<&str> = shmkit_bench::KINDS
//!     .iter()
//!     .filter(|k| k.in_default_run())
//!     .map(|k| k.name())
//!     .collect();
//! assert_eq!(default, ["hash_map", "atomic_vector", "deque", "priority_queue"]);
//! ```

pub mod atomic_vector;
pub mod deque;
pub mod hash_map;
pub mod ordered_map;
pub mod priority_queue;

use crate::BenchError;
use crate::harness::Ctx;
use crate::report::Section;
use crate::worker::{PhaseRunner, WorkerArgs};
use shmkit::Store;

/// A kind of object's benchmark section.
pub trait Kind: Sync {
    /// The kind's name as the CLI shows kinds (`shmkit::ObjectKind::name`): `hash_map`.
    fn name(&self) -> &'static str;

    /// Whether `shmkit bench` without `--kind` runs this section. A section whose default
    /// run would push the run of every kind well past about a minute says false and runs
    /// only when named.
    fn in_default_run(&self) -> bool {
        true
    }

    /// Runs the section in the coordinator: the baseline here (`ctx.local_phase`), then
    /// shmkit in each of `ctx.params.process_counts` worker processes (`ctx.spawn_workers`,
    /// `ctx.remote_phase`), verifying the object between phases. Objects are created in
    /// `ctx.store` under names starting with the kind's name.
    fn run(&self, ctx: &Ctx<'_>) -> Result<Section, BenchError>;

    /// In a worker process: opens the object `args.object` of `store` and returns what runs
    /// the phases the coordinator sends.
    fn worker(&self, store: &Store, args: &WorkerArgs) -> Result<Box<dyn PhaseRunner>, BenchError>;
}

/// Every kind's section, in the order `shmkit bench` runs them (without `--kind`: those
/// [`Kind::in_default_run`]).
pub static KINDS: &[&dyn Kind] = &[
    &hash_map::HashMapKind,
    &atomic_vector::AtomicVectorKind,
    &deque::DequeKind,
    &priority_queue::PriorityQueueKind,
    &ordered_map::OrderedMapKind,
];

/// The kind named `name`.
pub fn find(name: &str) -> Option<&'static dyn Kind> {
    KINDS.iter().copied().find(|k| k.name() == name)
}
