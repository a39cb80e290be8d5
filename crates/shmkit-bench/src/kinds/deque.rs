//! The deque's section: items of `--value-size` bytes (64 by default) through a shmkit
//! `Deque` from a producer process to a consumer process, one at a time and in batches of
//! 100, and pushed and popped by one process; next to `std::sync::mpsc::sync_channel`
//! between two threads of the coordinator (the in-process ceiling) and `VecDeque` in one
//! thread.
//!
//! Phases: `push_pop` (one process pushes an item at the back and pops it from the front,
//! over and over), `transfer` (worker 0 pushes numbered items for the timed duration, worker
//! 1 pops them; the deque is bounded to 4096 items, so the producer waits when it is ahead),
//! `transfer_batch` (the same with `push_back_many`/`pop_many` of 100). The rate of a
//! transfer is the items the consumer received per second of its time.
//!
//! The transfers need two processes: with `--processes 1` only `push_pop` runs.
//!
//! Invariants: every item popped must be the next number the consumer expects (whole:
//! every byte is derived from its number); after a transfer the items the consumer
//! received plus those left in the deque must be exactly the items the producer pushed.
//!
//! ```text
//! $ shmkit bench --kind deque --duration 1
//! ```

use super::Kind;
use crate::BenchError;
use crate::harness::{CHECK_EVERY, Ctx, Outcome, Progress};
use crate::report::{Row, Section};
use crate::worker::{PhaseCommand, PhaseRunner, WorkerArgs};
use shmkit::{Deque, DequeOptions, End, Store};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The phases, in order.
const PHASES: &[&str] = &["push_pop", "transfer", "transfer_batch"];
/// Items per batch in `transfer_batch`.
pub const BATCH: usize = 100;
/// The transfer deque's bound (items).
const MAXLEN: u64 = 4096;
/// How long one blocking call waits before the loop looks at the clock again.
const SLICE: Duration = Duration::from_millis(10);
/// How long a consumer goes on after the phase's duration while items still come.
const GRACE: Duration = Duration::from_secs(5);

/// The deque's section (`deque`).
pub struct DequeKind;

/// Item `seq` of `size` bytes (at least 8): the number, then bytes derived from it.
pub fn item(seq: u64, size: usize, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&seq.to_le_bytes());
    out.resize(size.max(8), (seq % 251) as u8);
}

/// Whether `v` is item `seq` of `size` bytes.
pub fn is_item(v: &[u8], seq: u64, size: usize) -> bool {
    v.len() == size.max(8)
        && v[..8] == seq.to_le_bytes()
        && v[8..].iter().all(|b| *b == (seq % 251) as u8)
}

/// Pushes and pops `item`s in one loop for `duration` (`push`/`pop` are the container's).
fn push_pop(
    size: usize,
    duration: Duration,
    progress: Progress<'_>,
    mut push: impl FnMut(&[u8]) -> Result<(), String>,
    mut pop: impl FnMut(&mut Vec<u8>) -> Result<bool, String>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let (mut buf, mut got) = (Vec::new(), Vec::new());
    loop {
        item(out.ops, size, &mut buf);
        push(&buf)?;
        if !pop(&mut got)? || !is_item(&got, out.ops, size) {
            let seq = out.ops;
            out.error(|| format!("push_pop: item {seq} did not come back whole"));
        }
        out.ops += 1;
        if out.ops % CHECK_EVERY == 0 && (start.elapsed() >= duration || !progress(out.ops)) {
            break;
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    Ok(out)
}

/// The producer of a transfer: pushes items 0, 1, … (in batches of `batch`) for `duration`;
/// `written` is how many it pushed.
fn produce(
    deque: &Deque,
    size: usize,
    batch: usize,
    duration: Duration,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut items: Vec<Vec<u8>> = (0..batch).map(|_| Vec::new()).collect();
    let mut next_check = CHECK_EVERY;
    while start.elapsed() < duration {
        for (i, v) in items.iter_mut().enumerate() {
            item(out.ops + i as u64, size, v);
        }
        let mut done = 0;
        while done < batch && start.elapsed() < duration {
            done += if batch == 1 {
                match deque.push_back_timeout(&items[0], Some(SLICE)) {
                    Ok(()) => 1,
                    Err(shmkit::DequeError::Full { .. }) => 0,
                    Err(e) => return Err(e.to_string()),
                }
            } else {
                deque
                    .push_back_many(&items[done..], Some(SLICE))
                    .map_err(|e| e.to_string())?
            };
        }
        out.ops += done as u64;
        if done < batch {
            // Out of time with part of a batch pushed: number the rest from there next time
            // (there is no next time: the loop ends).
            break;
        }
        if out.ops >= next_check {
            next_check = out.ops + CHECK_EVERY;
            if !progress(out.ops) {
                break;
            }
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    out.written = out.ops;
    Ok(out)
}

/// The consumer of a transfer: pops (in batches of up to `batch`) until the phase is over
/// and no item came for one wait; checks every item is the next number. `written` is how
/// many it received.
fn consume(
    deque: &Deque,
    size: usize,
    batch: usize,
    duration: Duration,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut buf = Vec::new();
    let mut lens = Vec::new();
    let mut next_check = CHECK_EVERY;
    let mut last_item = start;
    loop {
        let got = if batch == 1 {
            if deque
                .pop_into(End::Front, &mut buf, Some(SLICE))
                .map_err(|e| e.to_string())?
            {
                check(&mut out, &buf, size);
                1
            } else {
                0
            }
        } else {
            buf.clear();
            lens.clear();
            let n = deque
                .pop_many_into(End::Front, batch, Some(SLICE), &mut buf, &mut lens)
                .map_err(|e| e.to_string())?;
            let mut at = 0;
            for len in &lens {
                check(&mut out, &buf[at..at + len], size);
                at += len;
            }
            n
        };
        let now = Instant::now();
        if got > 0 {
            last_item = now;
        } else if now - start >= duration || now - last_item >= GRACE {
            // The producer stopped (its phase is over) or is gone.
            out.nanos = (last_item - start).as_nanos() as u64;
            break;
        }
        if out.ops >= next_check {
            next_check = out.ops + CHECK_EVERY;
            if !progress(out.ops) {
                out.nanos = start.elapsed().as_nanos() as u64;
                break;
            }
        }
    }
    out.written = out.ops;
    Ok(out)
}

/// Counts one received item, which must be number `out.ops`.
fn check(out: &mut Outcome, v: &[u8], size: usize) {
    let seq = out.ops;
    if !is_item(v, seq, size) {
        out.error(|| format!("transfer: item {seq} was not the next item, whole"));
    }
    out.ops += 1;
}

impl DequeKind {
    /// The baselines, in this process: `VecDeque` in one thread, `mpsc::sync_channel`
    /// between two threads.
    fn baseline(&self, ctx: &Ctx<'_>, section: &mut Section) -> Result<(), BenchError> {
        let size = ctx.params.value_size;
        let duration = ctx.params.duration;
        let q = std::cell::RefCell::new(VecDeque::<Vec<u8>>::new());
        let o = ctx.local_phase("std VecDeque push_pop", true, |progress| {
            push_pop(
                size,
                duration,
                progress,
                |v| {
                    q.borrow_mut().push_back(v.to_vec());
                    Ok(())
                },
                |out| Ok(q.borrow_mut().pop_front().map(|v| *out = v).is_some()),
            )
        })?;
        self.row(section, "push_pop", None, &o);
        for (phase, batch) in [("transfer", 1), ("transfer_batch", BATCH)] {
            let o = ctx.local_phase(&format!("std mpsc {phase}"), true, |progress| {
                mpsc_transfer(size, batch, duration, progress)
            })?;
            self.row(section, phase, None, &o);
        }
        Ok(())
    }

    fn row(&self, section: &mut Section, phase: &'static str, p: Option<usize>, o: &Outcome) {
        let first = o.first_error.as_ref().map(|e| format!("{phase}: {e}"));
        section.tally(o.ops, o.errors, first);
        section.rows.push(Row {
            phase,
            processes: p,
            ops: o.ops,
            seconds: o.nanos as f64 / 1e9,
        });
    }

    /// `push_pop` in one worker process, then the transfers from one process to another.
    fn processes(&self, ctx: &Ctx<'_>, section: &mut Section) -> Result<(), BenchError> {
        let name = format!("{}-1p", self.name());
        let fail = |e: shmkit::DequeError| BenchError::failed(format!("{name}: {e}"));
        ctx.store.deque(&name).map_err(fail)?;
        let mut workers = ctx.spawn_workers(self, &name, 1)?;
        let o = ctx.remote_phase(&mut workers, "shmkit push_pop", "push_pop", true, 1)?;
        workers.finish();
        if let Some(o) = o.first() {
            self.row(section, "push_pop", Some(1), o);
        }
        if !ctx.params.process_counts.iter().any(|&p| p >= 2) {
            // `--processes 1`: no second process for the transfers.
            return Ok(());
        }
        let name = format!("{}-2p", self.name());
        let fail = |e: shmkit::DequeError| BenchError::failed(format!("{name}: {e}"));
        let options = DequeOptions {
            maxlen: Some(MAXLEN),
            ..DequeOptions::default()
        };
        let deque = ctx.store.deque_with(&name, &options).map_err(fail)?;
        let mut workers = ctx.spawn_workers(self, &name, 2)?;
        for (n, phase) in ["transfer", "transfer_batch"].into_iter().enumerate() {
            let outcomes = ctx.remote_phase(
                &mut workers,
                &format!("shmkit 2 procs {phase}"),
                phase,
                true,
                10 + n as u64,
            )?;
            let [producer, consumer] = outcomes.as_slice() else {
                return Err(BenchError::failed(format!(
                    "{name}: {} outcomes",
                    outcomes.len()
                )));
            };
            self.row(section, phase, Some(2), consumer);
            // Whatever the consumer did not take is still queued: drain and count it.
            let left = deque
                .pop_many(End::Front, usize::MAX, Some(Duration::ZERO))
                .map_err(fail)?;
            let received = consumer.written + left.len() as u64;
            let wrong = u64::from(received != producer.written);
            let first = (wrong > 0).then(|| {
                format!(
                    "{phase}: {} items pushed, {} received and {} left",
                    producer.written,
                    consumer.written,
                    left.len()
                )
            });
            section.tally(1, wrong, first);
        }
        workers.finish();
        Ok(())
    }

    /// The notes under the table: the targets' figures.
    fn notes(section: &Section) -> Vec<String> {
        let mut notes = Vec::new();
        for (phase, target) in [
            ("transfer", "target: at least 5M items/s between processes"),
            (
                "transfer_batch",
                "target: at least 50M items/s between processes",
            ),
        ] {
            if let (Some(std), Some(shm)) = (
                section.rate_of(phase, None),
                section.rate_of(phase, Some(2)),
            ) {
                notes.push(format!(
                    "{phase}: {:.2}M items/s from one process to another ({target}); std mpsc \
                     between two threads {:.2}M/s: {:.2}x",
                    shm / 1e6,
                    std / 1e6,
                    shm / std
                ));
            }
        }
        notes
    }
}

/// A transfer through `mpsc::sync_channel` from a producer thread to this thread (batches
/// of `batch` items sent as one `Vec`), checked as the shmkit consumer checks.
fn mpsc_transfer(
    size: usize,
    batch: usize,
    duration: Duration,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    let capacity = (MAXLEN as usize / batch).max(1);
    let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Vec<u8>>>(capacity);
    let producer = std::thread::spawn(move || {
        let start = Instant::now();
        let mut seq = 0u64;
        while start.elapsed() < duration {
            let items: Vec<Vec<u8>> = (0..batch as u64)
                .map(|i| {
                    let mut v = Vec::new();
                    item(seq + i, size, &mut v);
                    v
                })
                .collect();
            if tx.send(items).is_err() {
                break;
            }
            seq += batch as u64;
        }
        seq
    });
    let start = Instant::now();
    let mut out = Outcome::default();
    let mut next_check = CHECK_EVERY;
    let mut stopped = false;
    for items in rx.iter() {
        for v in &items {
            check(&mut out, v, size);
        }
        if !stopped && out.ops >= next_check {
            next_check = out.ops + CHECK_EVERY;
            stopped = !progress(out.ops);
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    let pushed = producer.join().map_err(|_| "the mpsc producer panicked")?;
    if pushed != out.ops {
        let received = out.ops;
        out.error(|| format!("mpsc: {pushed} items sent, {received} received"));
    }
    out.written = out.ops;
    Ok(out)
}

impl Kind for DequeKind {
    fn name(&self) -> &'static str {
        "deque"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Result<Section, BenchError> {
        let mut section = Section::new(
            self.name(),
            format!(
                "shmkit Deque, {}-byte items: push+pop in 1 process, producer process -> \
                 consumer process (one by one, batches of {BATCH}) vs std VecDeque in 1 \
                 thread and std mpsc::sync_channel between 2 threads",
                ctx.params.value_size.max(8)
            ),
            "std",
            PHASES,
            "every item received (its number and every byte), and that received + left = pushed",
        );
        section.info.push((
            "item_bytes",
            serde_json::Value::from(ctx.params.value_size.max(8)),
        ));
        self.baseline(ctx, &mut section)?;
        ctx.check_interrupted()?;
        self.processes(ctx, &mut section)?;
        section.notes = Self::notes(&section);
        Ok(section)
    }

    fn worker(&self, store: &Store, args: &WorkerArgs) -> Result<Box<dyn PhaseRunner>, BenchError> {
        let deque = store
            .open_deque(&args.object)
            .map_err(|e| BenchError::failed(format!("{}: {e}", args.object)))?;
        Ok(Box::new(Worker {
            deque,
            worker: args.worker,
            size: args.value_size,
        }))
    }
}

/// A worker's deque and role (worker 0 pushes, worker 1 pops).
struct Worker {
    deque: Deque,
    worker: u64,
    size: usize,
}

impl PhaseRunner for Worker {
    fn run(&mut self, c: &PhaseCommand, progress: Progress<'_>) -> Result<Outcome, String> {
        let d = &self.deque;
        let batch = if c.phase == "transfer_batch" {
            BATCH
        } else {
            1
        };
        match (c.phase.as_str(), self.worker) {
            ("push_pop", _) => push_pop(
                self.size,
                c.duration,
                progress,
                |v| d.push_back(v).map_err(|e| e.to_string()),
                |out| {
                    d.pop_into(End::Front, out, Some(Duration::ZERO))
                        .map_err(|e| e.to_string())
                },
            ),
            ("transfer" | "transfer_batch", 0) => {
                produce(d, self.size, batch, c.duration, progress)
            }
            ("transfer" | "transfer_batch", _) => {
                consume(d, self.size, batch, c.duration, progress)
            }
            (other, _) => Err(format!("no phase {other:?} for deques")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_as_the_cli_names_the_kind() {
        assert_eq!(DequeKind.name(), shmkit::ObjectKind::Deque.name());
    }

    #[test]
    fn items_are_recognised_only_whole() {
        let mut v = Vec::new();
        item(300, 64, &mut v);
        assert!(is_item(&v, 300, 64));
        assert!(!is_item(&v, 301, 64));
        v[40] ^= 1;
        assert!(!is_item(&v, 300, 64));
    }

    #[test]
    fn the_mpsc_baseline_checks_every_item() {
        let mut go = |_| true;
        let o = mpsc_transfer(64, 10, Duration::from_millis(20), &mut go).unwrap();
        assert!(o.ops > 0);
        assert_eq!(o.errors, 0);
    }
}
