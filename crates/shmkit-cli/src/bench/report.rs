//! The benchmark's results: one row per phase and process count (and the std baseline),
//! printed as a table or as JSON.
//!
//! Invariant: the "vs std" ratio of a row is its ops/s divided by the baseline's ops/s for
//! the same phase, both measured in this run; the baseline is one thread of this process.
//!
//! ```text
//! PHASE   PROCESSES      OPS      SECONDS  OPS/S     VS STD HASHMAP
//! read    std (1 thread) 9.1 M    2.00     4.55 M/s  1.00x
//! read    2              6.0 M    2.00     3.01 M/s  0.66x
//! ```

use crate::format::{Align, Table};
use crate::json::{self, Json};

/// One measured phase.
#[derive(Clone, Debug)]
pub struct Row {
    /// `load`, `read`, `mixed` or `delete`.
    pub phase: &'static str,
    /// Worker processes; `None` for the std baseline.
    pub processes: Option<usize>,
    /// Operations done in all processes.
    pub ops: u64,
    /// Wall time: the slowest process's.
    pub seconds: f64,
}

impl Row {
    /// Operations per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.ops as f64 / self.seconds
        } else {
            0.0
        }
    }
}

/// Every row plus what the run checked.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Measured rows, in run order.
    pub rows: Vec<Row>,
    /// Values compared with what they must be (reads plus the final verification).
    pub values_checked: u64,
    /// Of those, wrong or missing ones (and deletes that found nothing).
    pub wrong: u64,
    /// The first wrong value, described.
    pub first_wrong: Option<String>,
}

impl Report {
    fn baseline(&self, phase: &str) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.phase == phase && r.processes.is_none())
            .map(Row::rate)
    }

    fn ratio(&self, row: &Row) -> Option<f64> {
        self.baseline(row.phase)
            .filter(|b| *b > 0.0)
            .map(|b| row.rate() / b)
    }

    /// The results table, grouped by phase.
    pub fn table(&self) -> String {
        let mut t = Table::new(&[
            ("PHASE", Align::Left),
            ("PROCESSES", Align::Left),
            ("OPS", Align::Right),
            ("SECONDS", Align::Right),
            ("OPS/S", Align::Right),
            ("VS STD HASHMAP", Align::Right),
        ]);
        for phase in ["load", "read", "mixed", "delete"] {
            for row in self.rows.iter().filter(|r| r.phase == phase) {
                t.row(vec![
                    row.phase.to_string(),
                    row.processes
                        .map_or_else(|| "std (1 thread)".to_string(), |p| p.to_string()),
                    row.ops.to_string(),
                    format!("{:.2}", row.seconds),
                    crate::format::rate(row.rate()),
                    self.ratio(row)
                        .map(|r| format!("{r:.2}x"))
                        .unwrap_or_default(),
                ]);
            }
        }
        t.render("")
    }

    /// The rows as JSON objects.
    pub fn rows_json(&self) -> Json {
        Json::Array(
            self.rows
                .iter()
                .map(|r| {
                    json::obj([
                        ("phase", Json::from(r.phase)),
                        (
                            "processes",
                            r.processes
                                .map_or(Json::from("std"), |p| Json::from(p as u64)),
                        ),
                        ("ops", Json::from(r.ops)),
                        ("seconds", Json::from(r.seconds)),
                        ("ops_per_sec", Json::from(r.rate())),
                        ("vs_std", Json::from(self.ratio(r))),
                    ])
                })
                .collect(),
        )
    }
}
