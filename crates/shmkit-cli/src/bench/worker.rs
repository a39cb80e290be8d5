//! `shmkit bench-worker` (hidden): one benchmark process. The coordinator starts it by
//! re-executing the `shmkit` binary, and drives it over stdin/stdout with one line per
//! message, so phases start together in every process and results come back exactly.
//!
//! Protocol (worker → coordinator after attaching: `ready`):
//!
//! ```text
//! > load | delete | read SECS SEED | mixed SECS SEED | quit
//! < progress OPS             (every ~100 ms while a phase runs)
//! < note TEXT                (the first wrong value seen, if any)
//! < done OPS ERRORS WRITTEN NANOS
//! < fatal TEXT               (the map failed; the worker exits)
//! ```
//!
//! Invariants: the worker never draws on the terminal and never outlives a closed stdin (EOF
//! means the coordinator is gone: it exits).

use super::workload::{self, Outcome, Spec};
use crate::error::{CliError, CliResult, exit};
use shmkit::Store;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

/// Arguments of `shmkit bench-worker`.
#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// Store path.
    #[arg(long)]
    pub store: String,
    /// Hash map name.
    #[arg(long)]
    pub map: String,
    /// This worker's index.
    #[arg(long)]
    pub worker: u64,
    /// Number of workers.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub workers: u64,
    /// Keys in the map.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub keys: u64,
    /// Bytes per value.
    #[arg(long)]
    pub value_size: usize,
}

fn say(line: &str) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// Runs a worker until `quit` or EOF.
pub fn run(args: &WorkerArgs) -> CliResult {
    let store = Store::open(&args.store).map_err(|e| CliError::open(&args.store, e))?;
    let mut map = store
        .open_hash_map(&args.map)
        .map_err(|e| CliError::map(&args.store, e))?;
    let spec = Spec {
        keys: args.keys,
        value_size: args.value_size,
        worker: args.worker,
        workers: args.workers,
    };
    say("ready")?;
    let mut last = Instant::now();
    let mut progress = |ops: u64| {
        if last.elapsed() >= Duration::from_millis(100) {
            last = Instant::now();
            let _ = say(&format!("progress {ops}"));
        }
        true
    };
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let words: Vec<&str> = line.split_whitespace().collect();
        let secs = || {
            words
                .get(1)
                .and_then(|s| s.parse::<f64>().ok())
                .map(Duration::from_secs_f64)
        };
        // Every worker draws its own key sequence from the phase's seed.
        let seed = || {
            let phase = words
                .get(2)
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(1);
            phase ^ (args.worker + 1).wrapping_mul(0xA24B_AED4_963E_E407)
        };
        let result: Result<Outcome, String> = match (words.first().copied(), secs()) {
            (Some("load"), _) => workload::load(&mut map, &spec, &mut progress),
            (Some("delete"), _) => workload::delete(&mut map, &spec, &mut progress),
            (Some("read"), Some(d)) => workload::read(&mut map, &spec, d, seed(), &mut progress),
            (Some("mixed"), Some(d)) => workload::mixed(&mut map, &spec, d, seed(), &mut progress),
            (Some("quit"), _) => return Ok(exit::OK),
            _ => Err(format!("unknown command {line:?}")),
        };
        match result {
            Ok(o) => {
                if let Some(e) = &o.first_error {
                    say(&format!("note {e}"))?;
                }
                say(&format!(
                    "done {} {} {} {}",
                    o.ops, o.errors, o.written, o.nanos
                ))?;
            }
            Err(e) => {
                say(&format!("fatal {e}"))?;
                return Ok(exit::FAILURE);
            }
        }
    }
    Ok(exit::OK)
}
