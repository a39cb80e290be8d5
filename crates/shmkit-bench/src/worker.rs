//! One benchmark worker process. The coordinator starts it through the
//! [`WorkerCommand`](crate::WorkerCommand) (`shmkit bench-worker ARGS`, which calls
//! [`worker_main`] with ARGS) and drives it over stdin/stdout with one line per message, so
//! phases start together in every process and results come back exactly. The kind named in
//! the arguments opens its object and runs each phase ([`Kind::worker`]).
//!
//! Arguments: `--kind K --store PATH --object NAME --worker W --workers N --keys K
//! --value-size B`. Protocol (worker → coordinator after opening the object: `ready`):
//!
//! ```text
//! > PHASE SECS SEED          (run a phase: timed ones for SECS; SEED picks random keys)
//! > quit
//! < progress OPS             (every ~100 ms while a phase runs)
//! < note TEXT                (the first wrong value seen, if any)
//! < done OPS ERRORS WRITTEN NANOS
//! < fatal TEXT               (the phase failed; the worker exits)
//! ```
//!
//! Invariants: the worker never draws on the terminal and never outlives a closed stdin (EOF
//! means the coordinator is gone: it exits).

use crate::BenchError;
use crate::harness::{Outcome, Progress};
use crate::kinds::{self, Kind};
use shmkit::Store;
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

/// A worker's arguments.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkerArgs {
    /// Kind name ([`Kind::name`]).
    pub kind: String,
    /// Store path.
    pub store: String,
    /// Object name.
    pub object: String,
    /// This worker's index.
    pub worker: u64,
    /// Number of workers.
    pub workers: u64,
    /// Keys (items) of the section.
    pub keys: u64,
    /// Bytes per value.
    pub value_size: usize,
}

impl WorkerArgs {
    /// As command-line arguments ([`WorkerArgs::parse`] reads them back).
    pub fn to_args(&self) -> Vec<String> {
        [
            ("--kind", self.kind.clone()),
            ("--store", self.store.clone()),
            ("--object", self.object.clone()),
            ("--worker", self.worker.to_string()),
            ("--workers", self.workers.to_string()),
            ("--keys", self.keys.to_string()),
            ("--value-size", self.value_size.to_string()),
        ]
        .into_iter()
        .flat_map(|(k, v)| [k.to_string(), v])
        .collect()
    }

    /// Reads the arguments [`WorkerArgs::to_args`] wrote.
    pub fn parse(args: &[String]) -> Result<WorkerArgs, BenchError> {
        let value = |name: &str| -> Result<&str, BenchError> {
            args.iter()
                .position(|a| a == name)
                .and_then(|i| args.get(i + 1))
                .map(String::as_str)
                .ok_or_else(|| BenchError::Usage(format!("bench worker: missing {name}")))
        };
        let number = |name: &str| -> Result<u64, BenchError> {
            value(name)?
                .parse()
                .map_err(|_| BenchError::Usage(format!("bench worker: bad {name}")))
        };
        let parsed = WorkerArgs {
            kind: value("--kind")?.to_string(),
            store: value("--store")?.to_string(),
            object: value("--object")?.to_string(),
            worker: number("--worker")?,
            workers: number("--workers")?,
            keys: number("--keys")?,
            value_size: number("--value-size")? as usize,
        };
        if parsed.workers == 0 || parsed.keys == 0 || parsed.worker >= parsed.workers {
            return Err(BenchError::Usage(format!(
                "bench worker: bad arguments {args:?}"
            )));
        }
        Ok(parsed)
    }
}

/// One phase command from the coordinator.
#[derive(Clone, Debug, PartialEq)]
pub struct PhaseCommand {
    /// The phase's name (the kind's own: `load`, `read`, ...).
    pub phase: String,
    /// How long a timed phase runs.
    pub duration: Duration,
    /// Seed of this worker's random sequence (the phase's seed mixed with the worker index).
    pub seed: u64,
}

/// A worker's side of a kind: runs each phase on the object it opened.
pub trait PhaseRunner {
    /// Runs one phase; an `Err` is fatal (the object failed), wrong values are counted in
    /// the [`Outcome`].
    fn run(&mut self, command: &PhaseCommand, progress: Progress<'_>) -> Result<Outcome, String>;
}

fn say(line: &str) -> Result<(), BenchError> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// Runs a worker until `quit` or EOF on stdin. `Ok(false)` when a phase failed (reported to
/// the coordinator, which fails the run); an `Err` when the worker could not start.
pub fn worker_main(args: &[String]) -> Result<bool, BenchError> {
    let args = WorkerArgs::parse(args)?;
    let kind: &dyn Kind = kinds::find(&args.kind)
        .ok_or_else(|| BenchError::Usage(format!("bench worker: unknown kind {:?}", args.kind)))?;
    let store = Store::open(&args.store).map_err(|error| BenchError::Open {
        store: args.store.clone(),
        error,
    })?;
    let mut runner = kind.worker(&store, &args)?;
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
        let result = match words.as_slice() {
            ["quit"] => return Ok(true),
            [phase, secs, seed] => match (secs.parse::<f64>(), seed.parse::<u64>()) {
                (Ok(secs), Ok(seed)) if secs.is_finite() && secs >= 0.0 => {
                    let command = PhaseCommand {
                        phase: phase.to_string(),
                        duration: Duration::from_secs_f64(secs),
                        // Every worker draws its own key sequence from the phase's seed.
                        seed: seed ^ (args.worker + 1).wrapping_mul(0xA24B_AED4_963E_E407),
                    };
                    runner.run(&command, &mut progress)
                }
                _ => Err(format!("bad command {line:?}")),
            },
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
                return Ok(false);
            }
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_round_trip() {
        let a = WorkerArgs {
            kind: "hash_map".into(),
            store: "/dev/shm/shmkit.x".into(),
            object: "hash_map-2p".into(),
            worker: 1,
            workers: 2,
            keys: 10,
            value_size: 0,
        };
        assert_eq!(WorkerArgs::parse(&a.to_args()).unwrap(), a);
        let mut bad = a.to_args();
        bad[7] = "2".into(); // --worker 2 of 2
        assert!(WorkerArgs::parse(&bad).is_err());
        assert!(WorkerArgs::parse(&[]).is_err());
    }
}
