//! The atomic vector's section: uncontended `fetch_add` and `load` on a shmkit
//! `AtomicVector` in 1, 2, 4, … worker processes, next to the same loop on a
//! `Vec<std::sync::atomic::AtomicI64>` in one thread of the coordinator.
//!
//! Phases: fetch_add (each worker adds 1 to its own element, for the timed duration), load
//! (each worker reads its own element, for the timed duration), and the same two through the
//! element resolved once before the loop (`fetch_add_ref`, `load_ref`:
//! `AtomicVector::element_ref`, the hot-loop form; on the std side the same reference). Worker `w` owns element
//! `w × STRIDE`: 128 bytes apart, so no two workers' elements share a cache line (nor an
//! adjacent-line prefetch pair), and the workers do not slow each other down through the
//! memory system; what two processes add over one is the machine's second core.
//!
//! Invariants: every value `fetch_add` returns must be the worker's own count so far (the
//! element starts at 0 and nobody else writes it), every load must return the worker's
//! final count, and after each phase the coordinator checks every element of the vector:
//! each worker's holds exactly the number of its `fetch_add`s, every other one 0. The vector
//! of `p` processes is the store's object `atomic_vector-<p>p`, created for that run.
//!
//! Under the table the section notes the figures its targets are stated in: one process's time
//! per operation over std's (target: within 1.5x), and the operations per second of `p`
//! processes over one (target for 2: at least 1.8x).
//!
//! ```text
//! $ shmkit bench --kind atomic_vector --duration 1
//! ```

use super::Kind;
use crate::BenchError;
use crate::harness::{CHECK_EVERY, Ctx, Outcome, Progress};
use crate::report::{Row, Section};
use crate::worker::{PhaseCommand, PhaseRunner, WorkerArgs};
use shmkit::Store;
use std::hint::black_box;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

/// The phases, in order.
const PHASES: &[&str] = &["fetch_add", "load", "fetch_add_ref", "load_ref"];

/// Elements between two workers' elements: 16 × 8 bytes = 128 bytes.
pub const STRIDE: u64 = 16;

/// The atomic vector's section (`atomic_vector`).
pub struct AtomicVectorKind;

/// Elements of `i64` the loops run on.
pub trait Counters {
    /// Adds `delta`; returns the previous value.
    fn fetch_add(&self, index: u64, delta: i64) -> Result<i64, String>;
    /// The element's value.
    fn load(&self, index: u64) -> Result<i64, String>;
    /// The element itself, resolved once (`AtomicVector::element_ref`).
    fn resolve(&self, index: u64) -> Result<&AtomicI64, String>;
}

/// One element resolved before the loop: the `_ref` phases.
struct Resolved<'a>(&'a AtomicI64);

impl Counters for Resolved<'_> {
    #[inline]
    fn fetch_add(&self, _index: u64, delta: i64) -> Result<i64, String> {
        Ok(black_box(self.0).fetch_add(delta, Ordering::SeqCst))
    }
    #[inline]
    fn load(&self, _index: u64) -> Result<i64, String> {
        Ok(black_box(self.0).load(Ordering::SeqCst))
    }
    fn resolve(&self, _index: u64) -> Result<&AtomicI64, String> {
        Ok(self.0)
    }
}

impl Counters for shmkit::AtomicVector {
    #[inline]
    fn fetch_add(&self, index: u64, delta: i64) -> Result<i64, String> {
        shmkit::AtomicVector::fetch_add(self, index, delta).map_err(|e| e.to_string())
    }
    #[inline]
    fn load(&self, index: u64) -> Result<i64, String> {
        shmkit::AtomicVector::load(self, index).map_err(|e| e.to_string())
    }
    fn resolve(&self, index: u64) -> Result<&AtomicI64, String> {
        self.element_ref(index).map_err(|e| e.to_string())
    }
}

/// The baseline: std atomics in this process's memory, with the same bounds check and the
/// same (sequentially consistent) ordering as the shmkit operations.
pub struct StdCounters(pub Vec<AtomicI64>);

impl Counters for StdCounters {
    #[inline]
    fn fetch_add(&self, index: u64, delta: i64) -> Result<i64, String> {
        let e = self.0.get(index as usize).ok_or("index out of range")?;
        // black_box: the compiler may not fold the loop's additions into one.
        Ok(black_box(e).fetch_add(delta, Ordering::SeqCst))
    }
    #[inline]
    fn load(&self, index: u64) -> Result<i64, String> {
        let e = self.0.get(index as usize).ok_or("index out of range")?;
        Ok(black_box(e).load(Ordering::SeqCst))
    }
    fn resolve(&self, index: u64) -> Result<&AtomicI64, String> {
        Ok(self.0.get(index as usize).ok_or("index out of range")?)
    }
}

/// Adds 1 to element `index` for `duration`; the element holds `count` at the start and
/// nobody else writes it, so every previous value is known. `written` of the outcome is the
/// element's count at the end.
pub fn fetch_add(
    c: &impl Counters,
    index: u64,
    count: i64,
    duration: Duration,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut expected = count;
    loop {
        let previous = c.fetch_add(index, 1)?;
        if previous != expected {
            out.error(|| {
                format!("element {index}: fetch_add returned {previous}, expected {expected}")
            });
        }
        expected = previous.wrapping_add(1);
        out.ops += 1;
        if out.ops % CHECK_EVERY == 0 && (start.elapsed() >= duration || !progress(out.ops)) {
            break;
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    out.written = expected as u64;
    Ok(out)
}

/// Reads element `index`, which must hold `count`, for `duration`.
pub fn load(
    c: &impl Counters,
    index: u64,
    count: i64,
    duration: Duration,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    loop {
        let value = c.load(index)?;
        if value != count {
            out.error(|| format!("element {index}: loaded {value}, expected {count}"));
        }
        out.ops += 1;
        if out.ops % CHECK_EVERY == 0 && (start.elapsed() >= duration || !progress(out.ops)) {
            break;
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    out.written = count as u64;
    Ok(out)
}

/// Checks every element of `values` (`len` of them): element `w × STRIDE` must hold
/// `counts[w]`, every other 0. Returns (checked, wrong, first wrong).
pub fn verify_all(values: &[i64], counts: &[i64]) -> (u64, u64, Option<String>) {
    let (mut wrong, mut first) = (0u64, None);
    for (i, &value) in values.iter().enumerate() {
        let i = i as u64;
        let expected = if i % STRIDE == 0 {
            counts.get((i / STRIDE) as usize).copied().unwrap_or(0)
        } else {
            0
        };
        if value != expected {
            wrong += 1;
            if first.is_none() {
                first = Some(format!("element {i}: {value}, expected {expected}"));
            }
        }
    }
    (values.len() as u64, wrong, first)
}

/// Length of the vector `workers` workers use.
fn vector_len(workers: usize) -> u64 {
    workers as u64 * STRIDE
}

fn run_phase(
    c: &impl Counters,
    phase: &str,
    index: u64,
    count: i64,
    duration: Duration,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    match phase {
        "fetch_add" => fetch_add(c, index, count, duration, progress),
        "load" => load(c, index, count, duration, progress),
        "fetch_add_ref" => fetch_add(
            &Resolved(c.resolve(index)?),
            index,
            count,
            duration,
            progress,
        ),
        "load_ref" => load(
            &Resolved(c.resolve(index)?),
            index,
            count,
            duration,
            progress,
        ),
        other => Err(format!("no phase {other:?} for atomic vectors")),
    }
}

impl AtomicVectorKind {
    /// The std baseline, in this thread: element 0 of a `Vec<AtomicI64>` of one worker's
    /// length.
    fn baseline(&self, ctx: &Ctx<'_>, section: &mut Section) -> Result<(), BenchError> {
        let counters = StdCounters((0..vector_len(1)).map(|_| AtomicI64::new(0)).collect());
        let mut count = 0i64;
        for &phase in PHASES {
            let label = format!("std AtomicI64 {phase}");
            let o = ctx.local_phase(&label, true, |progress| {
                run_phase(&counters, phase, 0, count, ctx.params.duration, progress)
            })?;
            count = o.written as i64;
            let first = o.first_error.map(|e| format!("std baseline: {e}"));
            section.tally(o.ops, o.errors, first);
            section.rows.push(Row {
                phase,
                processes: None,
                ops: o.ops,
                seconds: o.nanos as f64 / 1e9,
            });
            let values: Vec<i64> = counters
                .0
                .iter()
                .map(|e| e.load(Ordering::SeqCst))
                .collect();
            let (checked, wrong, first) = verify_all(&values, &[count]);
            section.tally(checked, wrong, first.map(|f| format!("std baseline: {f}")));
        }
        Ok(())
    }

    /// One run of the phases with `p` worker processes on a fresh vector.
    fn processes(&self, ctx: &Ctx<'_>, p: usize, section: &mut Section) -> Result<(), BenchError> {
        let name = format!("{}-{p}p", self.name());
        let failed = |e: shmkit::VectorError| BenchError::failed(format!("{name}: {e}"));
        let vector = ctx
            .store
            .atomic_vector(&name, vector_len(p))
            .map_err(failed)?;
        let mut workers = ctx.spawn_workers(self, &name, p)?;
        let label = format!("shmkit {p} proc{}", if p == 1 { "" } else { "s" });
        let who = format!("{p} processes");
        for (n, &phase) in PHASES.iter().enumerate() {
            let seed = (1000 * p + n) as u64;
            let outcomes =
                ctx.remote_phase(&mut workers, &format!("{label} {phase}"), phase, true, seed)?;
            for o in &outcomes {
                let first = o.first_error.as_ref().map(|e| format!("{who}: {e}"));
                section.tally(o.ops, o.errors, first);
            }
            section.rows.push(Row {
                phase,
                processes: Some(p),
                ops: outcomes.iter().map(|o| o.ops).sum(),
                seconds: outcomes.iter().map(|o| o.nanos).max().unwrap_or(0) as f64 / 1e9,
            });
            // Each worker's count is the number of fetch_adds it reported, all phases long.
            let counts: Vec<i64> = outcomes.iter().map(|o| o.written as i64).collect();
            let values = vector.load_range(0, vector.len()).map_err(failed)?;
            let (checked, wrong, first) = verify_all(&values, &counts);
            section.tally(checked, wrong, first.map(|f| format!("{who}: {f}")));
            if phase == "fetch_add" {
                let ops: Vec<i64> = outcomes.iter().map(|o| o.ops as i64).collect();
                if ops != counts {
                    section.tally(
                        0,
                        1,
                        Some(format!("{who}: counts {counts:?} after {ops:?} fetch_adds")),
                    );
                }
            }
        }
        workers.finish();
        Ok(())
    }

    /// The notes under the table: the targets' figures.
    fn notes(section: &Section, process_counts: &[usize]) -> Vec<String> {
        let mut notes = Vec::new();
        for &phase in PHASES {
            let std = section.rate_of(phase, None);
            if let (Some(std), Some(one)) =
                (std, section.rate_of(phase, Some(1)).filter(|r| *r > 0.0))
            {
                notes.push(format!(
                    "{phase}: 1 process {:.1} ns per op, std {:.1} ns: {:.2}x std's time \
                     (target: within 1.5x)",
                    1e9 / one,
                    1e9 / std,
                    std / one
                ));
            }
        }
        for &phase in PHASES {
            let Some(one) = section.rate_of(phase, Some(1)).filter(|r| *r > 0.0) else {
                continue;
            };
            for &p in process_counts.iter().filter(|&&p| p > 1) {
                if let Some(rate) = section.rate_of(phase, Some(p)) {
                    let target = if p == 2 {
                        " (target: at least 1.8x)"
                    } else {
                        ""
                    };
                    notes.push(format!(
                        "{phase}: {p} processes {:.2}x the ops/s of 1{target}",
                        rate / one
                    ));
                }
            }
        }
        notes
    }
}

impl Kind for AtomicVectorKind {
    fn name(&self) -> &'static str {
        "atomic_vector"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Result<Section, BenchError> {
        let counts: Vec<String> = ctx
            .params
            .process_counts
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut section = Section::new(
            self.name(),
            format!(
                "shmkit AtomicVector, one element per process, in {} processes vs \
                 std::sync::atomic::AtomicI64 in 1 thread",
                counts.join(", ")
            ),
            "std AtomicI64",
            PHASES,
            "every value fetch_add and load returned, and every element after each phase",
        );
        section
            .info
            .push(("element_stride_bytes", serde_json::Value::from(STRIDE * 8)));
        self.baseline(ctx, &mut section)?;
        for &p in &ctx.params.process_counts {
            ctx.check_interrupted()?;
            self.processes(ctx, p, &mut section)?;
        }
        section.notes = Self::notes(&section, &ctx.params.process_counts);
        Ok(section)
    }

    fn worker(&self, store: &Store, args: &WorkerArgs) -> Result<Box<dyn PhaseRunner>, BenchError> {
        let vector = store
            .open_atomic_vector(&args.object)
            .map_err(|e| BenchError::failed(format!("{}: {e}", args.object)))?;
        Ok(Box::new(Worker {
            vector,
            index: args.worker * STRIDE,
            count: 0,
        }))
    }
}

/// A worker's vector, its element and what the element must hold.
struct Worker {
    vector: shmkit::AtomicVector,
    index: u64,
    count: i64,
}

impl PhaseRunner for Worker {
    fn run(&mut self, c: &PhaseCommand, progress: Progress<'_>) -> Result<Outcome, String> {
        let o = run_phase(
            &self.vector,
            &c.phase,
            self.index,
            self.count,
            c.duration,
            progress,
        )?;
        self.count = o.written as i64;
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_as_the_cli_names_the_kind() {
        assert_eq!(
            AtomicVectorKind.name(),
            shmkit::ObjectKind::AtomicVector.name()
        );
    }

    #[test]
    fn phases_on_the_baseline_check_every_value() {
        let c = StdCounters((0..vector_len(2)).map(|_| AtomicI64::new(0)).collect());
        let mut go = |_| true;
        let d = Duration::from_millis(20);
        let a = fetch_add(&c, STRIDE, 0, d, &mut go).unwrap();
        assert!(a.ops >= CHECK_EVERY);
        assert_eq!((a.errors, a.written), (0, a.ops));
        let l = load(&c, STRIDE, a.ops as i64, d, &mut go).unwrap();
        assert_eq!((l.errors, l.written), (0, a.ops));
        assert_eq!(
            verify_all(&values_of(&c), &[0, a.ops as i64]),
            (32, 0, None)
        );
        // Wrong values are noticed: a count that is off, a write to another element.
        let off = fetch_add(&c, STRIDE, 0, d, &mut go).unwrap();
        assert_eq!(off.errors, 1, "only the first value is off");
        assert!(load(&c, STRIDE, 0, d, &mut go).unwrap().errors > 0);
        c.0[3].store(1, Ordering::SeqCst);
        let (_, wrong, first) = verify_all(&values_of(&c), &[0, (a.ops + off.ops) as i64]);
        assert_eq!(wrong, 1);
        assert_eq!(first.unwrap(), "element 3: 1, expected 0");
    }

    fn values_of(c: &StdCounters) -> Vec<i64> {
        c.0.iter().map(|e| e.load(Ordering::SeqCst)).collect()
    }
}
