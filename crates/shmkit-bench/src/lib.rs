//! shmkit's benchmarks, in one place: the sections `shmkit bench` runs (one per kind of
//! object, [`kinds`]), the harness they share ([`harness`]: worker processes, phases,
//! progress, interruption), and the report ([`report`]: one table per section, each row's
//! ratio to a baseline measured in the same run). The standalone programs
//! (`src/bin/bench_hash_map.rs`, `examples/bench_store.rs`) and `python/bench_python.py` give
//! the figures of `docs/BENCHMARKS.md` that take longer than a `shmkit bench` run.
//!
//! This crate is not published and the library never depends on it: comparisons with other
//! libraries belong here, so their dependencies stay out of `shmkit`.
//!
//! Invariants: the benchmark store is removed on every exit path but SIGKILL of the
//! coordinator (workers are killed first); every value a section reads is checked, and a
//! wrong one fails the run ([`BenchError::WrongValues`], after the report is printed).
//!
//! ```no_run
//! use shmkit_bench::{Options, WorkerCommand};
//! // The worker command must end up in `shmkit_bench::worker_main`: the `shmkit` binary
//! // passes itself with its hidden `bench-worker` subcommand.
//! let worker = WorkerCommand {
//!     program: std::env::current_exe()?,
//!     args: vec!["bench-worker".into()],
//! };
//! let mut options = Options::new(worker);
//! options.keys = 100_000;
//! shmkit_bench::run(&options, &mut std::io::stdout())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]

pub mod data;
pub mod harness;
pub mod kinds;
pub mod procs;
pub mod report;
pub mod worker;

pub use harness::{Options, WorkerCommand, run};
pub use kinds::{KINDS, Kind};
pub use worker::worker_main;

use shmkit::{CreateError, MapError, OpenError};

/// Why a benchmark run (or one of its worker processes) failed.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Bad parameters (the CLI's "bad command line").
    #[error("{0}")]
    Usage(String),
    /// The benchmark store could not be created.
    #[error("cannot create store {store}: {error}")]
    Create {
        /// Store name.
        store: String,
        /// What the library said.
        error: CreateError,
    },
    /// A worker could not open the benchmark store.
    #[error("cannot open store {store}: {error}")]
    Open {
        /// Store path.
        store: String,
        /// What the library said.
        error: OpenError,
    },
    /// A hash map of the benchmark store could not be created or opened.
    #[error("store {store}: {error}")]
    Map {
        /// Store path.
        store: String,
        /// What the library said.
        error: MapError,
    },
    /// A section found values that are not what was written (the report is printed first).
    #[error("benchmark found {count} wrong values (first: {first})")]
    WrongValues {
        /// How many.
        count: u64,
        /// The first one, described.
        first: String,
    },
    /// SIGINT, SIGTERM or SIGHUP arrived; workers were killed and the store removed.
    #[error("interrupted; the benchmark store was removed")]
    Interrupted,
    /// Anything else: a worker failed or stalled, an operation failed.
    #[error("{0}")]
    Failed(String),
    /// Writing the report failed.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl BenchError {
    /// A [`BenchError::Failed`] with this message.
    pub fn failed(message: impl Into<String>) -> BenchError {
        BenchError::Failed(message.into())
    }
}
