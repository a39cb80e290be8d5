//! A section's results: one row per phase and process count, plus the baseline's rows,
//! printed as a table or as JSON.
//!
//! Invariant: the "vs" ratio of a row is its ops/s divided by the baseline's ops/s for the
//! same phase, both measured in this run (the baseline in one thread of the coordinator).
//!
//! ```text
//! PHASE   PROCESSES      OPS      SECONDS  OPS/S     VS STD HASHMAP
//! read    std (1 thread) 9.1 M    2.00     4.55 M/s  1.00x
//! read    2              6.0 M    2.00     3.01 M/s  0.66x
//! ```

use serde_json::{Map, Value as Json};

/// Label of the baseline's rows in the table.
const BASELINE_ROW: &str = "std (1 thread)";

/// One measured phase.
#[derive(Clone, Debug)]
pub struct Row {
    /// The phase (one of the section's `phases`).
    pub phase: &'static str,
    /// Worker processes; `None` for the baseline.
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

/// The results of one kind's section.
#[derive(Clone, Debug)]
pub struct Section {
    /// The kind ([`crate::Kind::name`]).
    pub kind: &'static str,
    /// What is measured against what, one line.
    pub about: String,
    /// The baseline's short name (`std HashMap`): the ratio column is `VS <NAME>`.
    pub baseline: &'static str,
    /// Phases in table order.
    pub phases: &'static [&'static str],
    /// What was checked, for the summary line ("every read, and every key after ...").
    pub checks: &'static str,
    /// Kind-specific parameters, added to the section's JSON summary (`key_size`).
    pub info: Vec<(&'static str, Json)>,
    /// Derived figures, one line each, printed under the table and listed in the JSON
    /// summary (`fetch_add: 2 processes 1.95x the ops/s of 1`).
    pub notes: Vec<String>,
    /// Measured rows, in run order.
    pub rows: Vec<Row>,
    /// Values compared with what they must be.
    pub values_checked: u64,
    /// Of those, wrong or missing ones (and operations that did not find what they must).
    pub wrong: u64,
    /// The first wrong value, described.
    pub first_wrong: Option<String>,
    /// Wall time of the whole section (set by the harness).
    pub seconds: f64,
}

impl Section {
    /// An empty section.
    pub fn new(
        kind: &'static str,
        about: String,
        baseline: &'static str,
        phases: &'static [&'static str],
        checks: &'static str,
    ) -> Section {
        Section {
            kind,
            about,
            baseline,
            phases,
            checks,
            info: Vec::new(),
            notes: Vec::new(),
            rows: Vec::new(),
            values_checked: 0,
            wrong: 0,
            first_wrong: None,
            seconds: 0.0,
        }
    }

    /// Adds checked values, of which `wrong` were wrong; `first` describes the first one
    /// (kept if it is the section's first).
    pub fn tally(&mut self, checked: u64, wrong: u64, first: Option<String>) {
        self.values_checked += checked;
        self.wrong += wrong;
        if self.first_wrong.is_none() {
            self.first_wrong = first;
        }
    }

    /// Ops/s of `phase` with `processes` worker processes (`None`: the baseline).
    pub fn rate_of(&self, phase: &str, processes: Option<usize>) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.phase == phase && r.processes == processes)
            .map(Row::rate)
    }

    fn baseline_rate(&self, phase: &str) -> Option<f64> {
        self.rate_of(phase, None)
    }

    /// A row's ops/s over the baseline's for the same phase.
    pub fn ratio(&self, row: &Row) -> Option<f64> {
        self.baseline_rate(row.phase)
            .filter(|b| *b > 0.0)
            .map(|b| row.rate() / b)
    }

    /// The section as text: a title line, the table grouped by phase, the check summary.
    pub fn text(&self) -> String {
        let mut table = vec![vec![
            "PHASE".to_string(),
            "PROCESSES".to_string(),
            "OPS".to_string(),
            "SECONDS".to_string(),
            "OPS/S".to_string(),
            format!("VS {}", self.baseline.to_uppercase()),
        ]];
        for &phase in self.phases {
            for row in self.rows.iter().filter(|r| r.phase == phase) {
                table.push(vec![
                    row.phase.to_string(),
                    row.processes
                        .map_or_else(|| BASELINE_ROW.to_string(), |p| p.to_string()),
                    row.ops.to_string(),
                    format!("{:.2}", row.seconds),
                    rate(row.rate()),
                    self.ratio(row)
                        .map(|r| format!("{r:.2}x"))
                        .unwrap_or_default(),
                ]);
            }
        }
        let notes: String = self.notes.iter().map(|n| format!("{n}\n")).collect();
        format!(
            "{}: {} ({:.1} s)\n{}\n{notes}checked {} values ({}): {} wrong\n",
            self.kind,
            self.about,
            self.seconds,
            render(&table),
            self.values_checked,
            self.checks,
            self.wrong
        )
    }

    /// The rows as JSON objects (each names its kind).
    pub fn rows_json(&self) -> Vec<Json> {
        self.rows
            .iter()
            .map(|r| {
                let mut o = Map::new();
                o.insert("kind".into(), Json::from(self.kind));
                o.insert("phase".into(), Json::from(r.phase));
                o.insert(
                    "processes".into(),
                    r.processes
                        .map_or(Json::from("std"), |p| Json::from(p as u64)),
                );
                o.insert("ops".into(), Json::from(r.ops));
                o.insert("seconds".into(), Json::from(r.seconds));
                o.insert("ops_per_sec".into(), Json::from(r.rate()));
                o.insert("vs_std".into(), Json::from(self.ratio(r)));
                Json::Object(o)
            })
            .collect()
    }

    /// The section's summary as a JSON object (its rows are in the run's `results`).
    pub fn summary_json(&self) -> Json {
        let mut o = Map::new();
        o.insert("kind".into(), Json::from(self.kind));
        o.insert("about".into(), Json::from(self.about.clone()));
        o.insert("baseline".into(), Json::from(self.baseline));
        for (k, v) in &self.info {
            o.insert((*k).into(), v.clone());
        }
        if !self.notes.is_empty() {
            o.insert("notes".into(), Json::from(self.notes.clone()));
        }
        o.insert("seconds".into(), Json::from(self.seconds));
        o.insert("values_checked".into(), Json::from(self.values_checked));
        o.insert("wrong_values".into(), Json::from(self.wrong));
        o.insert("ok".into(), Json::from(self.wrong == 0));
        Json::Object(o)
    }
}

/// Operations per second with a metric prefix (`2.50 M/s`).
pub fn rate(ops_per_sec: f64) -> String {
    if ops_per_sec >= 1e9 {
        format!("{:.2} G/s", ops_per_sec / 1e9)
    } else if ops_per_sec >= 1e6 {
        format!("{:.2} M/s", ops_per_sec / 1e6)
    } else if ops_per_sec >= 1e3 {
        format!("{:.1} k/s", ops_per_sec / 1e3)
    } else {
        format!("{ops_per_sec:.0} /s")
    }
}

/// Lines of cells padded to each column's widest, two spaces apart; the first two columns
/// flush left, the others right (numbers).
fn render(lines: &[Vec<String>]) -> String {
    let cols = lines.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            lines
                .iter()
                .filter_map(|l| l.get(c))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for line in lines {
        let mut text = String::new();
        for (c, &w) in widths.iter().enumerate() {
            let cell = line.get(c).map(String::as_str).unwrap_or("");
            let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
            if c > 0 {
                text.push_str("  ");
            }
            if c < 2 {
                text.push_str(cell);
                text.push_str(&pad);
            } else {
                text.push_str(&pad);
                text.push_str(cell);
            }
        }
        out.push_str(text.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_divide_by_the_same_phase_of_the_baseline() {
        let mut s = Section::new("k", "a vs b".into(), "std Thing", &["load"], "all");
        s.rows.push(Row {
            phase: "load",
            processes: None,
            ops: 100,
            seconds: 1.0,
        });
        s.rows.push(Row {
            phase: "load",
            processes: Some(2),
            ops: 300,
            seconds: 1.0,
        });
        assert_eq!(s.ratio(&s.rows[1]), Some(3.0));
        let text = s.text();
        assert!(text.contains("VS STD THING"), "{text}");
        assert!(text.contains("load   std (1 thread)  100"), "{text}");
        assert!(text.contains("300 /s"), "{text}");
        assert!(
            text.ends_with("checked 0 values (all): 0 wrong\n"),
            "{text}"
        );
        s.notes.push("load: 3x".into());
        assert!(
            s.text()
                .ends_with("\nload: 3x\nchecked 0 values (all): 0 wrong\n"),
            "{}",
            s.text()
        );
        assert_eq!(s.summary_json()["notes"][0], "load: 3x");
        assert_eq!(s.rate_of("load", Some(2)), Some(300.0));
        assert_eq!(s.rows_json()[1]["vs_std"], 3.0);
        assert_eq!(rate(2_500_000.0), "2.50 M/s");
    }
}
