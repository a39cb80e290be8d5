//! `shmkit bench`: the command line of the benchmark; the benchmark itself (one section per
//! kind of object, worker processes, baselines, report) is the `shmkit-bench` crate. This
//! module turns the options into `shmkit_bench::Options`, starts workers as this binary's
//! hidden `bench-worker` subcommand, and words failures as exit codes.
//!
//! Invariants: the benchmark store is removed on every exit path but SIGKILL (see
//! `shmkit_bench::harness`); a wrong value fails the run (exit code 10) after the report.
//!
//! ```text
//! $ shmkit bench --keys 100000 --duration 1
//! $ shmkit bench --kind hash_map --json
//! ```

use crate::error::{CliError, CliResult, exit};
use shmkit_bench::{BenchError, Options, WorkerCommand};
use std::io::Write;

/// Options of `shmkit bench`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Runs one section per kind of object (--kind to choose; by default every kind but
ordered_map, in about a minute with the defaults). Each section runs the shmkit object in N
worker processes (1, 2, 4, ... up to --processes) next to the std collection of the same kind
in one thread of this process, the baseline of the 'vs std' ratios; every value read is
checked.

hash_map: four phases, load (insert every key), read (random keys), mixed (90% reads, 10%
overwrites), delete; after the mixed phase every value is verified. Keys are 16 bytes.

atomic_vector: two phases, fetch_add and load, each process on its own element (128 bytes
apart), against std::sync::atomic::AtomicI64; every returned value and, after each phase,
every element is checked. --keys and --value-size do not apply.

ordered_map (only when named: it adds about 20 s): insert every key into an empty map, get
(random keys, in 1, 2, ... processes), full scans, 1000-key range scans from random keys,
remove every key, against std::collections::BTreeMap; every value and every scanned entry
(in order) is checked, and the entry count after insert and remove.

The benchmark store is created in the store directory and removed at the end, also on
failure or Ctrl-C. Progress bars are shown only when stderr is a terminal.")]
pub struct BenchArgs {
    /// Kind of object to benchmark (repeatable; default: every kind but ordered_map).
    #[arg(long = "kind", value_name = "KIND", value_parser = kind_names())]
    pub kinds: Vec<String>,
    /// Number of keys.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000_000))]
    pub keys: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(0..=1 << 20))]
    pub value_size: u64,
    /// Most worker processes (default: the number of cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub processes: Option<u64>,
    /// Seconds each timed phase (hash_map: read, mixed; atomic_vector: all; ordered_map: get,
    /// scan, range) runs.
    #[arg(long, default_value_t = 2.0)]
    pub duration: f64,
    /// Name of the benchmark store (default: bench-PID); it must not exist.
    #[arg(long)]
    pub store: Option<String>,
    /// Print the results as JSON instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `shmkit bench-worker`, passed on to `shmkit_bench::worker_main`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The worker's arguments, as the benchmark wrote them.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

fn kind_names() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(shmkit_bench::KINDS.iter().map(|k| k.name()))
}

/// Runs `shmkit bench`.
pub fn run(args: &BenchArgs, out: &mut impl Write) -> CliResult {
    let program = std::env::current_exe().map_err(|e| {
        CliError::failure(format!(
            "cannot find the shmkit binary to start workers: {e}"
        ))
    })?;
    let mut options = Options::new(WorkerCommand {
        program,
        args: vec!["bench-worker".into()],
    });
    options.kinds.clone_from(&args.kinds);
    options.keys = args.keys;
    options.value_size = args.value_size as usize;
    options.processes = args.processes.map(|p| p as usize);
    options.duration = args.duration;
    options.store.clone_from(&args.store);
    options.json = args.json;
    shmkit_bench::run(&options, out).map_err(cli_error)?;
    Ok(exit::OK)
}

/// Runs one worker process of `shmkit bench`.
pub fn worker(args: &WorkerArgs) -> CliResult {
    match shmkit_bench::worker_main(&args.args).map_err(cli_error)? {
        true => Ok(exit::OK),
        false => Ok(exit::FAILURE),
    }
}

fn cli_error(e: BenchError) -> CliError {
    match e {
        BenchError::Usage(m) => CliError::usage(m),
        BenchError::Create { store, error } => CliError::create(&store, error),
        BenchError::Open { store, error } => CliError::open(&store, error),
        BenchError::Map { store, error } => CliError::map(&store, error),
        BenchError::Interrupted => CliError::new(exit::INTERRUPTED, e.to_string()),
        BenchError::Io(io) => io.into(),
        e @ (BenchError::WrongValues { .. } | BenchError::Failed(_)) => {
            CliError::failure(e.to_string())
        }
    }
}
