//! The hash map's section: the shmkit `HashMap` driven by 1, 2, 4, … worker processes
//! through four phases, next to a `std::collections::HashMap<Vec<u8>, Vec<u8>>` running the
//! very same loop ([`workload`]) in one thread of the coordinator.
//!
//! Phases: load (each worker inserts its share of the keys into an empty map with default
//! options, so every incremental resize counts), read (random keys, for the timed duration),
//! mixed (90 % random reads, 10 % overwrites of the worker's own keys), delete (each worker
//! deletes its share; every delete must find its key). After the mixed phase the coordinator
//! checks every key's value, and after delete that the map is empty.
//!
//! Invariants: every value read is compared with the exact value it must have; the map of
//! `p` processes is the store's object `hash_map-<p>p`, created empty for that run.
//!
//! ```text
//! $ shmkit bench --kind hash_map --keys 100000 --duration 1
//! ```

pub mod workload;

use super::Kind;
use crate::BenchError;
use crate::data::KEY_LEN;
use crate::harness::{Ctx, Outcome, Progress};
use crate::report::{Row, Section};
use crate::worker::{PhaseCommand, PhaseRunner, WorkerArgs};
use shmkit::Store;
use workload::{MIXED_WRITE_PERCENT, Spec, StdMap};

/// The phases, in order.
const PHASES: &[&str] = &["load", "read", "mixed", "delete"];

/// The hash map's section (`hash_map`).
pub struct HashMapKind;

/// Counts the values a phase's reads checked, and its errors.
fn tally(section: &mut Section, phase: &str, outcomes: &[Outcome], label: &str) {
    for o in outcomes {
        let reads = match phase {
            "read" => o.ops,
            // About 90 % of the mixed phase's operations are reads.
            "mixed" => o.ops * (100 - MIXED_WRITE_PERCENT) / 100,
            _ => 0,
        };
        section.tally(
            reads,
            o.errors,
            o.first_error.as_ref().map(|e| format!("{label}: {e}")),
        );
    }
}

fn is_timed(phase: &str) -> bool {
    matches!(phase, "read" | "mixed")
}

impl HashMapKind {
    /// The std HashMap baseline, in this thread.
    fn baseline(&self, ctx: &Ctx<'_>, section: &mut Section) -> Result<(), BenchError> {
        let (keys, value_size, duration) =
            (ctx.params.keys, ctx.params.value_size, ctx.params.duration);
        let mut map = StdMap::default();
        let spec = Spec {
            keys,
            value_size,
            worker: 0,
            workers: 1,
        };
        for &phase in PHASES {
            let label = format!("std HashMap {phase}");
            let o = ctx.local_phase(&label, is_timed(phase), |progress| match phase {
                "load" => workload::load(&mut map, &spec, progress),
                "read" => workload::read(&mut map, &spec, duration, 1, progress),
                "mixed" => workload::mixed(&mut map, &spec, duration, 2, progress),
                _ => workload::delete(&mut map, &spec, progress),
            })?;
            tally(section, phase, std::slice::from_ref(&o), "std baseline");
            section.rows.push(Row {
                phase,
                processes: None,
                ops: o.ops,
                seconds: o.nanos as f64 / 1e9,
            });
            if phase == "mixed" {
                let (checked, wrong, first) =
                    workload::verify_all(&mut map, keys, value_size, &[o.written])
                        .map_err(|e| BenchError::failed(format!("baseline: {e}")))?;
                section.tally(checked, wrong, first.map(|f| format!("std baseline: {f}")));
            }
        }
        Ok(())
    }

    /// One run of the phases with `p` worker processes on a fresh map.
    fn processes(&self, ctx: &Ctx<'_>, p: usize, section: &mut Section) -> Result<(), BenchError> {
        let (keys, value_size) = (ctx.params.keys, ctx.params.value_size);
        let name = format!("{}-{p}p", self.name());
        let map = ctx.store.hash_map(&name).map_err(|error| BenchError::Map {
            store: ctx.path.to_string(),
            error,
        })?;
        let mut workers = ctx.spawn_workers(self, &name, p)?;
        let label = format!("shmkit {p} proc{}", if p == 1 { "" } else { "s" });
        let who = format!("{p} processes");
        for (n, &phase) in PHASES.iter().enumerate() {
            let seed = (1000 * p + n) as u64;
            let outcomes = ctx.remote_phase(
                &mut workers,
                &format!("{label} {phase}"),
                phase,
                is_timed(phase),
                seed,
            )?;
            tally(section, phase, &outcomes, &who);
            section.rows.push(Row {
                phase,
                processes: Some(p),
                ops: outcomes.iter().map(|o| o.ops).sum(),
                seconds: outcomes.iter().map(|o| o.nanos).max().unwrap_or(0) as f64 / 1e9,
            });
            if phase == "mixed" {
                let written: Vec<u64> = outcomes.iter().map(|o| o.written).collect();
                let mut m = map.clone();
                let (checked, wrong, first) =
                    workload::verify_all(&mut m, keys, value_size, &written)
                        .map_err(|e| BenchError::failed(format!("verification: {e}")))?;
                section.tally(checked, wrong, first.map(|f| format!("{who}: {f}")));
                if map.len() != keys {
                    let len = map.len();
                    section.tally(
                        0,
                        1,
                        Some(format!("{who}: map has {len} entries, expected {keys}")),
                    );
                }
            }
        }
        if !map.is_empty() {
            let len = map.len();
            section.tally(
                0,
                1,
                Some(format!("{who}: {len} entries left after delete")),
            );
        }
        workers.finish();
        Ok(())
    }
}

impl Kind for HashMapKind {
    fn name(&self) -> &'static str {
        "hash_map"
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
                "shmkit HashMap in {} processes vs std::collections::HashMap in 1 thread",
                counts.join(", ")
            ),
            "std HashMap",
            PHASES,
            "every read, and every key after each mixed phase",
        );
        section
            .info
            .push(("key_size", serde_json::Value::from(KEY_LEN as u64)));
        self.baseline(ctx, &mut section)?;
        for &p in &ctx.params.process_counts {
            ctx.check_interrupted()?;
            self.processes(ctx, p, &mut section)?;
        }
        Ok(section)
    }

    fn worker(&self, store: &Store, args: &WorkerArgs) -> Result<Box<dyn PhaseRunner>, BenchError> {
        let map = store
            .open_hash_map(&args.object)
            .map_err(|error| BenchError::Map {
                store: args.store.clone(),
                error,
            })?;
        let spec = Spec {
            keys: args.keys,
            value_size: args.value_size,
            worker: args.worker,
            workers: args.workers,
        };
        Ok(Box::new(Worker { map, spec }))
    }
}

/// A worker's map and share of the keys.
struct Worker {
    map: shmkit::HashMap,
    spec: Spec,
}

impl PhaseRunner for Worker {
    fn run(&mut self, c: &PhaseCommand, progress: Progress<'_>) -> Result<Outcome, String> {
        let (map, spec) = (&mut self.map, &self.spec);
        match c.phase.as_str() {
            "load" => workload::load(map, spec, progress),
            "read" => workload::read(map, spec, c.duration, c.seed, progress),
            "mixed" => workload::mixed(map, spec, c.duration, c.seed, progress),
            "delete" => workload::delete(map, spec, progress),
            other => Err(format!("no phase {other:?} for hash maps")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_as_the_cli_names_the_kind() {
        assert_eq!(HashMapKind.name(), shmkit::ObjectKind::HashMap.name());
    }
}
