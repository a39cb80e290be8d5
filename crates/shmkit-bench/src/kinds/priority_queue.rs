//! The priority queue's section: push + pop pairs on a shmkit `PriorityQueue` holding
//! `--keys` items (1M by default), in 1, 2, … worker processes on one queue, next to the same
//! loop on a `std::collections::BinaryHeap` ordered the same way (key, then push order) in
//! one thread of the coordinator.
//!
//! Keys are 16 bytes: 8 random bytes (which decide the order, as the heap's inline prefix
//! does) and the item's number; the value is the number's `--value-size`-byte value
//! (`data::fill_value`). Every popped value must be its key's, and after each phase the
//! queue must hold exactly the items it was filled with (every pop matched a push).
//!
//! ```text
//! $ shmkit bench --kind priority_queue --duration 1
//! ```

use super::Kind;
use crate::BenchError;
use crate::data::{Rng, fill_value};
use crate::harness::{CHECK_EVERY, Ctx, Outcome, Progress};
use crate::report::{Row, Section};
use crate::worker::{PhaseCommand, PhaseRunner, WorkerArgs};
use shmkit::{PriorityQueue, Store};
use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// The phases, in order.
const PHASES: &[&str] = &["push_pop"];
/// Items pushed per fill call.
const FILL_BATCH: usize = 1024;

/// The priority queue's section (`priority_queue`).
pub struct PriorityQueueKind;

/// The key of item `n` with random bits `r`: `r` then `n`, both big-endian.
fn key(r: u64, n: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&r.to_be_bytes());
    k[8..].copy_from_slice(&n.to_be_bytes());
    k
}

/// The item number a key names.
fn number(key: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(key.get(8..16)?.try_into().ok()?))
}

/// A popped (key, value).
type Item = (Vec<u8>, Vec<u8>);
/// What the baseline heap holds: key, push number (ties pop in push order), value.
type StdEntry = Reverse<(Vec<u8>, u64, Vec<u8>)>;

/// A queue of (key, value) items popped smallest key first.
trait Queue {
    fn push(&mut self, key: &[u8], value: &[u8]) -> Result<(), String>;
    /// The smallest item, or `None`.
    fn pop(&mut self) -> Result<Option<Item>, String>;
}

/// The baseline: `BinaryHeap` of (key, push number, value), smallest first.
#[derive(Default)]
struct StdQueue {
    heap: BinaryHeap<StdEntry>,
    seq: u64,
}

impl Queue for StdQueue {
    fn push(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        self.seq += 1;
        self.heap
            .push(Reverse((key.to_vec(), self.seq, value.to_vec())));
        Ok(())
    }
    fn pop(&mut self) -> Result<Option<Item>, String> {
        Ok(self.heap.pop().map(|Reverse((k, _, v))| (k, v)))
    }
}

impl Queue for PriorityQueue {
    fn push(&mut self, key: &[u8], value: &[u8]) -> Result<(), String> {
        PriorityQueue::push(self, key, value).map_err(|e| e.to_string())
    }
    fn pop(&mut self) -> Result<Option<Item>, String> {
        PriorityQueue::pop(self).map_err(|e| e.to_string())
    }
}

/// Pushes a new item and pops the smallest, for `duration`; every popped value must be its
/// key's. Item numbers start at `first`.
fn push_pop(
    q: &mut impl Queue,
    rng: &mut Rng,
    first: u64,
    size: usize,
    duration: std::time::Duration,
    progress: Progress<'_>,
) -> Result<Outcome, String> {
    let start = Instant::now();
    let mut out = Outcome::default();
    let (mut value, mut expected) = (Vec::new(), Vec::new());
    loop {
        let n = first + out.ops;
        fill_value(&mut value, n, 0, size);
        q.push(&key(rng.next_u64(), n), &value)?;
        match q.pop()? {
            Some((k, v)) => {
                let ok = number(&k).is_some_and(|m| {
                    fill_value(&mut expected, m, 0, size);
                    v == expected
                });
                if !ok {
                    out.error(|| format!("popped {k:?}: its value is not the key's"));
                }
            }
            None => out.error(|| "the queue was empty after a push".to_string()),
        }
        out.ops += 1;
        if out.ops % CHECK_EVERY == 0 && (start.elapsed() >= duration || !progress(out.ops)) {
            break;
        }
    }
    out.nanos = start.elapsed().as_nanos() as u64;
    Ok(out)
}

/// The `count` items a queue is filled with before the phase, numbered from `1 << 62`
/// (out of the workers' ranges): the same ones for every queue.
fn fill_items(count: u64, size: usize) -> impl Iterator<Item = ([u8; 16], Vec<u8>)> {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    (0..count).map(move |n| {
        let mut value = Vec::new();
        fill_value(&mut value, (1 << 62) + n, 0, size);
        (key(rng.next_u64(), (1 << 62) + n), value)
    })
}

/// Fills `q` with [`fill_items`], one push at a time.
fn fill(q: &mut impl Queue, count: u64, size: usize) -> Result<(), String> {
    fill_items(count, size).try_for_each(|(k, v)| q.push(&k, &v))
}

impl PriorityQueueKind {
    fn row(section: &mut Section, p: Option<usize>, outcomes: &[Outcome], who: &str) {
        for o in outcomes {
            let first = o.first_error.as_ref().map(|e| format!("{who}: {e}"));
            section.tally(o.ops, o.errors, first);
        }
        section.rows.push(Row {
            phase: "push_pop",
            processes: p,
            ops: outcomes.iter().map(|o| o.ops).sum(),
            seconds: outcomes.iter().map(|o| o.nanos).max().unwrap_or(0) as f64 / 1e9,
        });
    }
}

impl Kind for PriorityQueueKind {
    fn name(&self) -> &'static str {
        "priority_queue"
    }

    fn run(&self, ctx: &Ctx<'_>) -> Result<Section, BenchError> {
        let (keys, size) = (ctx.params.keys, ctx.params.value_size);
        let mut section = Section::new(
            self.name(),
            format!(
                "shmkit PriorityQueue holding {keys} items (16-byte keys, {size}-byte values): \
                 push + pop pairs in 1, 2, ... processes on one queue vs std BinaryHeap in 1 thread"
            ),
            "std BinaryHeap",
            PHASES,
            "every popped value, and the item count after each phase",
        );
        let mut heap = StdQueue::default();
        fill(&mut heap, keys, size).map_err(BenchError::failed)?;
        let o = ctx.local_phase("std BinaryHeap push_pop", true, |progress| {
            push_pop(
                &mut heap,
                &mut Rng::new(7),
                0,
                size,
                ctx.params.duration,
                progress,
            )
        })?;
        Self::row(&mut section, None, &[o], "std baseline");
        for &p in &ctx.params.process_counts {
            ctx.check_interrupted()?;
            let name = format!("{}-{p}p", self.name());
            let failed = |e: String| BenchError::failed(format!("{name}: {e}"));
            let q = ctx
                .store
                .priority_queue(&name)
                .map_err(|e| failed(e.to_string()))?;
            // Filled in batches: the fill is setup, not measured.
            let mut items = fill_items(keys, size).peekable();
            while items.peek().is_some() {
                let batch: Vec<_> = items.by_ref().take(FILL_BATCH).collect();
                q.push_many(&batch).map_err(|e| failed(e.to_string()))?;
            }
            let mut workers = ctx.spawn_workers(self, &name, p)?;
            let label = format!("shmkit {p} proc{} push_pop", if p == 1 { "" } else { "s" });
            let outcomes = ctx.remote_phase(&mut workers, &label, "push_pop", true, p as u64)?;
            workers.finish();
            Self::row(&mut section, Some(p), &outcomes, &format!("{p} processes"));
            let len = q.len();
            section.tally(
                1,
                u64::from(len != keys),
                (len != keys).then(|| format!("{p} processes: {len} items left, {keys} expected")),
            );
            q.clear().map_err(|e| failed(e.to_string()))?;
        }
        if let (Some(std), Some(one)) = (
            section.rate_of("push_pop", None),
            section.rate_of("push_pop", Some(1)),
        ) {
            section.notes.push(format!(
                "push_pop: 1 process {:.2}M pairs/s with {keys} items queued (target: at least \
                 2M), std BinaryHeap {:.2}M/s: {:.2}x",
                one / 1e6,
                std / 1e6,
                one / std
            ));
        }
        Ok(section)
    }

    fn worker(&self, store: &Store, args: &WorkerArgs) -> Result<Box<dyn PhaseRunner>, BenchError> {
        let queue = store
            .open_priority_queue(&args.object)
            .map_err(|e| BenchError::failed(format!("{}: {e}", args.object)))?;
        Ok(Box::new(Worker {
            queue,
            worker: args.worker,
            size: args.value_size,
            done: 0,
        }))
    }
}

/// A worker's queue and the item numbers it has used.
struct Worker {
    queue: PriorityQueue,
    worker: u64,
    size: usize,
    done: u64,
}

impl PhaseRunner for Worker {
    fn run(&mut self, c: &PhaseCommand, progress: Progress<'_>) -> Result<Outcome, String> {
        match c.phase.as_str() {
            "push_pop" => {
                let mut rng = Rng::new(c.seed);
                let first = (self.worker << 40) + self.done;
                let o = push_pop(
                    &mut self.queue,
                    &mut rng,
                    first,
                    self.size,
                    c.duration,
                    progress,
                )?;
                self.done += o.ops;
                Ok(o)
            }
            other => Err(format!("no phase {other:?} for priority queues")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_as_the_cli_names_the_kind() {
        assert_eq!(
            PriorityQueueKind.name(),
            shmkit::ObjectKind::PriorityQueue.name()
        );
    }

    #[test]
    fn the_baseline_checks_every_popped_value() {
        let mut q = StdQueue::default();
        fill(&mut q, 100, 32).unwrap();
        let mut go = |_| true;
        let o = push_pop(
            &mut q,
            &mut Rng::new(3),
            0,
            32,
            std::time::Duration::from_millis(10),
            &mut go,
        )
        .unwrap();
        assert!(o.ops >= CHECK_EVERY);
        assert_eq!(o.errors, 0);
        assert_eq!(q.heap.len(), 100);
        // A value that is not its key's is counted.
        q.push(&key(0, 5), b"wrong").unwrap();
        let o = push_pop(
            &mut q,
            &mut Rng::new(3),
            1 << 20,
            32,
            std::time::Duration::from_millis(1),
            &mut go,
        )
        .unwrap();
        assert!(o.errors >= 1);
    }
}
