//! What every section shares: the run ([`run`]: one store, one section per selected kind,
//! the report), and the context a section works with ([`Ctx`]: parameters, worker processes
//! driven phase by phase, local phases for the baseline, progress bars, interruption).
//!
//! A section measures its baseline (a std collection of the same kind) in this process and
//! shmkit in 1, 2, 4, … up to `processes` worker processes. Workers are this program started
//! again through [`WorkerCommand`], which must reach [`crate::worker_main`]; the coordinator
//! sends each phase to all of them at once and collects their [`Outcome`]s.
//!
//! Invariants: the store is removed on every exit path (success, failure, SIGINT, SIGTERM,
//! SIGHUP: workers are killed first; only SIGKILL of this process can leave it, and
//! `shmkit gc --remove-unused` then finds it unused); a phase with no word from any worker
//! for [`STALL_TIMEOUT`] fails; progress bars are drawn only when stderr is a terminal.
//!
//! ```text
//! run(options) ─ for each kind ─ kind.run(ctx) ─ ctx.local_phase(..)      baseline, here
//!                                              └ ctx.spawn_workers(..)    N processes
//!                                                ctx.remote_phase(..)     per phase
//! ```

use crate::BenchError;
use crate::kinds::{self, Kind};
use crate::procs::Workers;
use crate::report::Section;
use crate::worker::WorkerArgs;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Map, Value as Json};
use shmkit::{Store, StoreOptions};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// A phase with no message from any worker for this long has failed.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);
/// How often (in operations) phase loops look at the clock and report progress.
pub const CHECK_EVERY: u64 = 1024;

/// How to start a worker process: `program args... <worker arguments>`, which must end up
/// in [`crate::worker_main`] with the worker arguments.
#[derive(Clone, Debug)]
pub struct WorkerCommand {
    /// The executable (the `shmkit` binary passes itself).
    pub program: PathBuf,
    /// Arguments before the worker's own (`["bench-worker"]` for `shmkit`).
    pub args: Vec<String>,
}

/// What to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Kinds to benchmark, by name ([`Kind::name`]); empty: every kind in [`kinds::KINDS`]
    /// that runs by default ([`Kind::in_default_run`]).
    pub kinds: Vec<String>,
    /// Keys (items) per section.
    pub keys: u64,
    /// Bytes per value.
    pub value_size: usize,
    /// Most worker processes (default: the number of cores).
    pub processes: Option<usize>,
    /// Seconds each timed phase runs.
    pub duration: f64,
    /// Name of the benchmark store (default `bench-PID`); it must not exist.
    pub store: Option<String>,
    /// Print one JSON document instead of tables.
    pub json: bool,
    /// How to start workers.
    pub worker: WorkerCommand,
}

impl Options {
    /// The defaults of `shmkit bench`: every kind, 1,000,000 keys, 32-byte values, up to one
    /// process per core, 2 s per timed phase.
    pub fn new(worker: WorkerCommand) -> Options {
        Options {
            kinds: Vec::new(),
            keys: 1_000_000,
            value_size: 32,
            processes: None,
            duration: 2.0,
            store: None,
            json: false,
            worker,
        }
    }
}

/// The parameters every section runs with.
#[derive(Clone, Debug)]
pub struct Params {
    /// Keys (items) per section.
    pub keys: u64,
    /// Bytes per value.
    pub value_size: usize,
    /// How long each timed phase runs.
    pub duration: Duration,
    /// Worker process counts, in order: 1, 2, 4, … up to the maximum.
    pub process_counts: Vec<usize>,
}

/// What the operations of one phase in one process did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Operations done.
    pub ops: u64,
    /// Wrong values read, or operations that did not find what they must.
    pub errors: u64,
    /// A figure the kind needs besides the operations (hash map: how many of its own keys,
    /// from the first, the worker overwrote in the mixed phase, to verify the map
    /// afterwards; ordered map, `get`: the CPU time the worker ran, in nanoseconds).
    pub written: u64,
    /// Wall time of the phase in this process.
    pub nanos: u64,
    /// The first error, described.
    pub first_error: Option<String>,
}

impl Outcome {
    /// Counts one error, keeping the first description.
    pub fn error(&mut self, what: impl FnOnce() -> String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }
}

/// Progress callback of a phase loop: called with the operations done so far (every
/// [`CHECK_EVERY`]); returns false to stop early.
pub type Progress<'a> = &'a mut dyn FnMut(u64) -> bool;

/// Removes the benchmark store when dropped.
struct StoreGuard(String);

impl Drop for StoreGuard {
    fn drop(&mut self) {
        let _ = Store::remove(&self.0);
    }
}

/// 1, 2, 4, ... below `max`, then `max`.
pub fn process_counts(max: usize) -> Vec<usize> {
    let mut counts: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|&n| n < max)
        .collect();
    counts.push(max);
    counts
}

/// The kinds `names` selects (when empty: every kind that runs by default), in registry
/// order.
pub fn select_kinds(names: &[String]) -> Result<Vec<&'static dyn Kind>, BenchError> {
    if let Some(unknown) = names.iter().find(|n| kinds::find(n).is_none()) {
        let known: Vec<&str> = kinds::KINDS.iter().map(|k| k.name()).collect();
        return Err(BenchError::Usage(format!(
            "no benchmark for kind {unknown:?} (kinds: {})",
            known.join(", ")
        )));
    }
    Ok(kinds::KINDS
        .iter()
        .copied()
        .filter(|k| {
            if names.is_empty() {
                k.in_default_run()
            } else {
                names.iter().any(|n| n == k.name())
            }
        })
        .collect())
}

/// Runs the selected sections on a fresh store and writes the report to `out`: each
/// section's table as it finishes, or one JSON document at the end. Installs handlers for
/// SIGINT, SIGTERM and SIGHUP that stop the run (and remove the store).
pub fn run(options: &Options, out: &mut impl Write) -> Result<(), BenchError> {
    if !(options.duration > 0.0 && options.duration <= 3600.0) {
        return Err(BenchError::Usage(
            "--duration must be between 0 and 3600 seconds".into(),
        ));
    }
    if options.keys == 0 {
        return Err(BenchError::Usage("--keys must be at least 1".into()));
    }
    let kinds = select_kinds(&options.kinds)?;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| BenchError::failed(format!("cannot handle signals: {e}")))?;
    }
    let max = options.processes.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let params = Params {
        keys: options.keys,
        value_size: options.value_size,
        duration: Duration::from_secs_f64(options.duration),
        process_counts: process_counts(max.max(1)),
    };
    let name = options
        .store
        .clone()
        .unwrap_or_else(|| format!("bench-{}", std::process::id()));
    let store =
        Store::create(&name, &StoreOptions::default()).map_err(|error| BenchError::Create {
            store: name.clone(),
            error,
        })?;
    let _guard = StoreGuard(name.clone());
    let path = store.path().to_string_lossy().into_owned();
    if !options.json {
        writeln!(
            out,
            "shmkit bench: {} keys of {} bytes, {}-byte values, processes {:?}, {} s per timed phase",
            params.keys,
            crate::data::KEY_LEN,
            params.value_size,
            params.process_counts,
            options.duration
        )?;
        writeln!(out, "store {path} (removed at the end)")?;
        out.flush()?;
    }
    let ctx = Ctx {
        store: &store,
        path: &path,
        params: &params,
        stop: &stop,
        worker: &options.worker,
    };
    let started = Instant::now();
    let mut sections = Vec::new();
    for kind in kinds {
        let t = Instant::now();
        let mut section = kind.run(&ctx)?;
        section.seconds = t.elapsed().as_secs_f64();
        if !options.json {
            write!(out, "\n{}", section.text())?;
            out.flush()?;
        }
        sections.push(section);
    }
    let values_checked: u64 = sections.iter().map(|s| s.values_checked).sum();
    let wrong: u64 = sections.iter().map(|s| s.wrong).sum();
    if options.json {
        let mut doc = Map::new();
        doc.insert("keys".into(), Json::from(params.keys));
        doc.insert("value_size".into(), Json::from(params.value_size as u64));
        doc.insert(
            "processes".into(),
            Json::from(
                params
                    .process_counts
                    .iter()
                    .map(|&c| c as u64)
                    .collect::<Vec<_>>(),
            ),
        );
        doc.insert("duration_secs".into(), Json::from(options.duration));
        doc.insert(
            "kinds".into(),
            Json::from(sections.iter().map(|s| s.kind).collect::<Vec<_>>()),
        );
        doc.insert(
            "sections".into(),
            Json::Array(sections.iter().map(Section::summary_json).collect()),
        );
        doc.insert(
            "results".into(),
            Json::Array(sections.iter().flat_map(Section::rows_json).collect()),
        );
        doc.insert("values_checked".into(), Json::from(values_checked));
        doc.insert("wrong_values".into(), Json::from(wrong));
        doc.insert(
            "seconds".into(),
            Json::from(started.elapsed().as_secs_f64()),
        );
        doc.insert("ok".into(), Json::from(wrong == 0));
        writeln!(out, "{}", Json::Object(doc))?;
    } else if sections.len() > 1 {
        writeln!(
            out,
            "\n{} kinds in {:.1} s: {values_checked} values checked, {wrong} wrong",
            sections.len(),
            started.elapsed().as_secs_f64()
        )?;
    }
    out.flush()?;
    if wrong > 0 {
        let first = sections
            .iter()
            .find_map(|s| s.first_wrong.as_ref().map(|f| format!("{}: {f}", s.kind)))
            .unwrap_or_default();
        return Err(BenchError::WrongValues {
            count: wrong,
            first,
        });
    }
    Ok(())
}

/// What a section works with.
pub struct Ctx<'a> {
    /// The benchmark store (every section creates its own objects in it).
    pub store: &'a Store,
    /// Its path, as workers open it.
    pub path: &'a str,
    /// The run's parameters.
    pub params: &'a Params,
    stop: &'a AtomicBool,
    worker: &'a WorkerCommand,
}

impl Ctx<'_> {
    /// Fails with [`BenchError::Interrupted`] once a stop signal arrived.
    pub fn check_interrupted(&self) -> Result<(), BenchError> {
        if self.stop.load(Ordering::Relaxed) {
            Err(BenchError::Interrupted)
        } else {
            Ok(())
        }
    }

    /// Runs one phase in this process (a baseline), with a progress bar labelled `label`:
    /// `f` gets the progress callback to call every [`CHECK_EVERY`] operations. A timed
    /// phase's bar counts time, any other's the operations out of `params.keys`.
    pub fn local_phase(
        &self,
        label: &str,
        timed: bool,
        f: impl FnOnce(Progress<'_>) -> Result<Outcome, String>,
    ) -> Result<Outcome, BenchError> {
        let b = self.bar(label, timed);
        let start = Instant::now();
        let mut progress = |ops: u64| {
            if timed {
                b.set_position(start.elapsed().as_millis() as u64);
                b.set_message(format!("{ops} ops"));
            } else {
                b.set_position(ops);
            }
            !self.stop.load(Ordering::Relaxed)
        };
        let outcome = f(&mut progress).map_err(|e| BenchError::failed(format!("{label}: {e}")));
        b.finish_and_clear();
        self.check_interrupted()?;
        outcome
    }

    /// Starts `count` workers of `kind` on object `object` of the store and waits until
    /// each has opened it. Dropping the result kills them; [`Workers::finish`] lets them quit.
    pub fn spawn_workers(
        &self,
        kind: &dyn Kind,
        object: &str,
        count: usize,
    ) -> Result<Workers, BenchError> {
        let args = WorkerArgs {
            kind: kind.name().to_string(),
            store: self.path.to_string(),
            object: object.to_string(),
            worker: 0,
            workers: count as u64,
            keys: self.params.keys,
            value_size: self.params.value_size,
        };
        let workers = Workers::spawn(self.worker, &args, count)?;
        workers.wait_ready(Duration::from_secs(30))?;
        Ok(workers)
    }

    /// Runs `phase` in every worker at once (timed phases for `params.duration`; each worker
    /// draws its own random sequence from `seed`) and returns their outcomes in worker order,
    /// with a progress bar labelled `label`.
    pub fn remote_phase(
        &self,
        workers: &mut Workers,
        label: &str,
        phase: &str,
        timed: bool,
        seed: u64,
    ) -> Result<Vec<Outcome>, BenchError> {
        let command = format!("{phase} {} {seed}", self.params.duration.as_secs_f64());
        let b = self.bar(label, timed);
        let outcomes = workers.run_phase(&command, &b, timed, self.stop);
        b.finish_and_clear();
        outcomes
    }

    /// A progress bar on stderr, or nothing when stderr is not a terminal.
    fn bar(&self, prefix: &str, timed: bool) -> ProgressBar {
        // A timed phase counts milliseconds, the others keys.
        let len = if timed {
            self.params.duration.as_millis() as u64
        } else {
            self.params.keys
        };
        if !std::io::stderr().is_terminal() {
            return ProgressBar::hidden();
        }
        let template = if timed {
            "{prefix:>18} [{bar:30}] {elapsed:>3} {msg}"
        } else {
            "{prefix:>18} [{bar:30}] {pos}/{len} keys {msg}"
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        let b = ProgressBar::new(len)
            .with_style(style)
            .with_prefix(prefix.to_string());
        b.enable_steady_tick(Duration::from_millis(100));
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn process_counts_double_up_to_the_maximum() {
        assert_eq!(process_counts(1), vec![1]);
        assert_eq!(process_counts(2), vec![1, 2]);
        assert_eq!(process_counts(6), vec![1, 2, 4, 6]);
        assert_eq!(process_counts(8), vec![1, 2, 4, 8]);
    }

    #[test]
    fn kinds_are_selected_by_name() {
        let all = select_kinds(&[]).unwrap();
        assert_eq!(all.len(), kinds::KINDS.len() - 1);
        assert!(
            all.iter().all(|k| k.in_default_run()),
            "ordered_map runs when named"
        );
        let om = select_kinds(&["ordered_map".to_string()]).unwrap();
        assert_eq!(
            om.iter().map(|k| k.name()).collect::<Vec<_>>(),
            ["ordered_map"]
        );
        let one = select_kinds(&["hash_map".to_string()]).unwrap();
        assert_eq!(
            one.iter().map(|k| k.name()).collect::<Vec<_>>(),
            ["hash_map"]
        );
        assert!(matches!(
            select_kinds(&["hash-map".to_string()]),
            Err(BenchError::Usage(_))
        ));
    }
}
