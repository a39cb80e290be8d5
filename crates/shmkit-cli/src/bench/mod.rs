//! `shmkit bench`: a multi-process benchmark of the shmkit HashMap against an in-process
//! `std::collections::HashMap`, on a fresh store that is removed afterwards.
//!
//! For each process count (1, 2, 4, … up to `--processes`, default the number of cores),
//! worker processes run the phases of [`workload`] on one map: load (insert every key),
//! read (random keys, for `--duration`), mixed (90 % reads, 10 % overwrites), then the
//! coordinator verifies every value, then delete. The same phases run on a std HashMap in
//! one thread of this process first: the baseline of the ratios.
//!
//! Invariants: the store is removed on every exit path (success, failure, Ctrl-C/SIGTERM:
//! workers are killed first; only SIGKILL of this process can leave it, and `shmkit gc
//! --remove-unused` then finds it unused); every value read is checked, and any wrong value
//! fails the benchmark (exit code 10); progress bars are drawn only on a terminal (stderr).
//!
//! ```text
//! $ shmkit bench --keys 100000 --duration 1
//! ```

mod procs;
mod report;
pub mod worker;
pub mod workload;

use crate::error::{CliError, CliResult, exit};
use crate::json::{self, Json};
use indicatif::{ProgressBar, ProgressStyle};
use procs::{Msg, Workers};
use report::{Report, Row};
use shmkit::{Store, StoreOptions};
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use workload::{Outcome, Spec, StdMap};

/// A phase with no message from any worker for this long has failed.
const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Options of `shmkit bench`.
#[derive(Debug, clap::Args)]
#[command(after_help = "\
Runs the shmkit HashMap in N worker processes (1, 2, 4, ... up to --processes) through four
phases: load (insert every key), read (random keys), mixed (90% reads, 10% overwrites),
delete. Every value read is checked; after the mixed phase every value is verified. A std
HashMap in one thread of this process runs the same phases first, as the baseline of the
'vs std' ratios. Keys are 16 bytes.

The benchmark store is created in the store directory and removed at the end, also on
failure or Ctrl-C. Progress bars are shown only when stderr is a terminal.")]
pub struct BenchArgs {
    /// Number of keys.
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000_000))]
    pub keys: u64,
    /// Bytes per value.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(0..=1 << 20))]
    pub value_size: u64,
    /// Most worker processes (default: the number of cores).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub processes: Option<u64>,
    /// Seconds each timed phase (read, mixed) runs.
    #[arg(long, default_value_t = 2.0)]
    pub duration: f64,
    /// Name of the benchmark store (default: bench-PID); it must not exist.
    #[arg(long)]
    pub store: Option<String>,
    /// Print the results as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Removes the benchmark store when dropped.
struct StoreGuard(String);

impl Drop for StoreGuard {
    fn drop(&mut self) {
        let _ = Store::remove(&self.0);
    }
}

/// 1, 2, 4, ... below `max`, then `max`.
fn process_counts(max: usize) -> Vec<usize> {
    let mut counts: Vec<usize> = std::iter::successors(Some(1usize), |n| n.checked_mul(2))
        .take_while(|&n| n < max)
        .collect();
    counts.push(max);
    counts
}

/// A progress bar on stderr, or nothing when stderr is not a terminal.
fn bar(prefix: String, timed: bool, duration: Duration, keys: u64) -> ProgressBar {
    // A timed phase counts milliseconds, the others keys.
    let len = if timed {
        duration.as_millis() as u64
    } else {
        keys
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
    let b = ProgressBar::new(len).with_style(style).with_prefix(prefix);
    b.enable_steady_tick(Duration::from_millis(100));
    b
}

fn interrupted() -> CliError {
    CliError::new(
        exit::INTERRUPTED,
        "interrupted; the benchmark store was removed",
    )
}

/// Runs `shmkit bench`.
pub fn run(args: &BenchArgs, out: &mut impl Write) -> CliResult {
    if !(args.duration > 0.0 && args.duration <= 3600.0) {
        return Err(CliError::usage(
            "--duration must be between 0 and 3600 seconds",
        ));
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(sig, Arc::clone(&stop))
            .map_err(|e| CliError::failure(format!("cannot handle signals: {e}")))?;
    }
    let max = args.processes.map(|p| p as usize).unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let name = args
        .store
        .clone()
        .unwrap_or_else(|| format!("bench-{}", std::process::id()));
    let store =
        Store::create(&name, &StoreOptions::default()).map_err(|e| CliError::create(&name, e))?;
    let _guard = StoreGuard(name.clone());
    let path = store.path().to_string_lossy().into_owned();
    let duration = Duration::from_secs_f64(args.duration);
    let value_size = args.value_size as usize;
    let counts = process_counts(max);
    if !args.json {
        writeln!(
            out,
            "shmkit bench: {} keys of {} bytes, {value_size}-byte values, processes {:?}, {} s per timed phase",
            args.keys,
            workload::KEY_LEN,
            counts,
            args.duration
        )?;
        writeln!(out, "store {path} (removed at the end)")?;
        out.flush()?;
    }
    let mut report = Report::default();
    baseline(args.keys, value_size, duration, &stop, &mut report)?;
    for &p in &counts {
        shmkit_run(
            &store,
            &path,
            p,
            args.keys,
            value_size,
            duration,
            &stop,
            &mut report,
        )?;
    }
    if args.json {
        let doc = json::obj([
            ("keys", Json::from(args.keys)),
            ("key_size", Json::from(workload::KEY_LEN as u64)),
            ("value_size", Json::from(args.value_size)),
            (
                "processes",
                Json::from(counts.iter().map(|&c| c as u64).collect::<Vec<_>>()),
            ),
            ("duration_secs", Json::from(args.duration)),
            ("results", report.rows_json()),
            ("values_checked", Json::from(report.values_checked)),
            ("wrong_values", Json::from(report.wrong)),
            ("ok", Json::from(report.wrong == 0)),
        ]);
        writeln!(out, "{doc}")?;
    } else {
        writeln!(out)?;
        write!(out, "{}", report.table())?;
        writeln!(
            out,
            "\nchecked {} values (every read, and every key after each mixed phase): {} wrong",
            report.values_checked, report.wrong
        )?;
    }
    if report.wrong > 0 {
        return Err(CliError::failure(format!(
            "benchmark found {} wrong values (first: {})",
            report.wrong,
            report.first_wrong.unwrap_or_default()
        )));
    }
    Ok(exit::OK)
}

fn add_checked(report: &mut Report, phase: &str, outcomes: &[Outcome]) {
    for o in outcomes {
        if phase == "read" || phase == "mixed" {
            // Mixed: about 90 % of the operations are reads.
            report.values_checked += if phase == "read" {
                o.ops
            } else {
                o.ops * (100 - workload::MIXED_WRITE_PERCENT) / 100
            };
        }
        report.wrong += o.errors;
        if report.first_wrong.is_none() {
            report.first_wrong.clone_from(&o.first_error);
        }
    }
}

/// The std HashMap baseline, in this thread.
fn baseline(
    keys: u64,
    value_size: usize,
    duration: Duration,
    stop: &AtomicBool,
    report: &mut Report,
) -> Result<(), CliError> {
    let mut map = StdMap::default();
    let spec = Spec {
        keys,
        value_size,
        worker: 0,
        workers: 1,
    };
    let label = "std HashMap".to_string();
    let failed = |e: String| CliError::failure(format!("baseline: {e}"));
    for phase in ["load", "read", "mixed", "delete"] {
        let timed = matches!(phase, "read" | "mixed");
        let b = bar(format!("{label} {phase}"), timed, duration, keys);
        let start = Instant::now();
        let mut progress = |ops: u64| {
            if timed {
                b.set_position(start.elapsed().as_millis() as u64);
                b.set_message(format!("{ops} ops"));
            } else {
                b.set_position(ops);
            }
            !stop.load(Ordering::Relaxed)
        };
        let o = match phase {
            "load" => workload::load(&mut map, &spec, &mut progress),
            "read" => workload::read(&mut map, &spec, duration, 1, &mut progress),
            "mixed" => workload::mixed(&mut map, &spec, duration, 2, &mut progress),
            _ => workload::delete(&mut map, &spec, &mut progress),
        }
        .map_err(failed)?;
        b.finish_and_clear();
        if stop.load(Ordering::Relaxed) {
            return Err(interrupted());
        }
        add_checked(report, phase, std::slice::from_ref(&o));
        report.rows.push(Row {
            phase,
            processes: None,
            ops: o.ops,
            seconds: o.nanos as f64 / 1e9,
        });
        if phase == "mixed" {
            let (checked, wrong, first) =
                workload::verify_all(&mut map, keys, value_size, &[o.written]).map_err(failed)?;
            report.values_checked += checked;
            report.wrong += wrong;
            if report.first_wrong.is_none() {
                report.first_wrong = first.map(|f| format!("std baseline: {f}"));
            }
        }
    }
    Ok(())
}

/// One run of the phases with `p` worker processes on a fresh map.
#[allow(clippy::too_many_arguments)]
fn shmkit_run(
    store: &Store,
    path: &str,
    p: usize,
    keys: u64,
    value_size: usize,
    duration: Duration,
    stop: &AtomicBool,
    report: &mut Report,
) -> Result<(), CliError> {
    let map_name = format!("bench-{p}p");
    let map = store
        .hash_map(&map_name)
        .map_err(|e| CliError::map(path, e))?;
    let mut workers = Workers::spawn(path, &map_name, p, keys, value_size)?;
    workers.wait_ready(Duration::from_secs(30))?;
    let label = format!("shmkit {p} proc{}", if p == 1 { "" } else { "s" });
    for (n, phase) in ["load", "read", "mixed", "delete"].into_iter().enumerate() {
        let timed = matches!(phase, "read" | "mixed");
        let command = if timed {
            format!("{phase} {} {}", duration.as_secs_f64(), 1000 * p + n)
        } else {
            phase.to_string()
        };
        let b = bar(format!("{label} {phase}"), timed, duration, keys);
        let outcomes = run_phase(&mut workers, &command, &b, timed, stop);
        b.finish_and_clear();
        let outcomes = outcomes?;
        add_checked(report, phase, &outcomes);
        let ops = outcomes.iter().map(|o| o.ops).sum();
        let nanos = outcomes.iter().map(|o| o.nanos).max().unwrap_or(0);
        report.rows.push(Row {
            phase,
            processes: Some(p),
            ops,
            seconds: nanos as f64 / 1e9,
        });
        if phase == "mixed" {
            let written: Vec<u64> = outcomes.iter().map(|o| o.written).collect();
            let mut m = map.clone();
            let (checked, wrong, first) = workload::verify_all(&mut m, keys, value_size, &written)
                .map_err(|e| CliError::failure(format!("verification: {e}")))?;
            report.values_checked += checked;
            report.wrong += wrong;
            if report.first_wrong.is_none() {
                report.first_wrong = first.map(|f| format!("{p} processes: {f}"));
            }
            if map.len() != keys {
                report.wrong += 1;
                report.first_wrong.get_or_insert_with(|| {
                    format!(
                        "{p} processes: map has {} entries, expected {keys}",
                        map.len()
                    )
                });
            }
        }
    }
    if !map.is_empty() {
        report.wrong += 1;
        report.first_wrong.get_or_insert_with(|| {
            format!("{p} processes: {} entries left after delete", map.len())
        });
    }
    workers.finish();
    Ok(())
}

/// Sends `command` to every worker and collects their outcomes, driving the progress bar.
fn run_phase(
    workers: &mut Workers,
    command: &str,
    b: &ProgressBar,
    timed: bool,
    stop: &AtomicBool,
) -> Result<Vec<Outcome>, CliError> {
    let n = workers.len();
    let mut done: Vec<Option<Outcome>> = vec![None; n];
    let mut notes: Vec<Option<String>> = vec![None; n];
    let mut progress = vec![0u64; n];
    let start = Instant::now();
    let mut last_heard = Instant::now();
    workers.send_all(command)?;
    while done.iter().any(Option::is_none) {
        if stop.load(Ordering::Relaxed) {
            return Err(interrupted()); // dropping `workers` kills them
        }
        if let Some(ev) = workers.recv(Duration::from_millis(50)) {
            last_heard = Instant::now();
            match ev.msg {
                Msg::Progress(ops) => progress[ev.worker] = ops,
                Msg::Note(text) => notes[ev.worker] = Some(text),
                Msg::Done(mut o) => {
                    o.first_error = notes[ev.worker].take();
                    progress[ev.worker] = o.ops;
                    done[ev.worker] = Some(o);
                }
                Msg::Fatal(text) => {
                    return Err(CliError::failure(format!(
                        "worker {} failed: {text}",
                        ev.worker
                    )));
                }
                Msg::Gone => {
                    // Ctrl-C on a terminal reaches the workers too, and they may die before
                    // this process notices its own signal: give the flag a moment.
                    std::thread::sleep(Duration::from_millis(200));
                    if stop.load(Ordering::Relaxed) {
                        return Err(interrupted());
                    }
                    return Err(CliError::failure(format!(
                        "worker {} exited unexpectedly",
                        ev.worker
                    )));
                }
                Msg::Ready => {}
            }
        } else if last_heard.elapsed() > STALL_TIMEOUT {
            return Err(CliError::failure(format!(
                "no word from the workers for {} s",
                STALL_TIMEOUT.as_secs()
            )));
        }
        let total: u64 = progress.iter().sum();
        if timed {
            b.set_position(start.elapsed().as_millis() as u64);
            b.set_message(format!("{total} ops"));
        } else {
            b.set_position(total);
        }
    }
    Ok(done.into_iter().flatten().collect())
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
}
