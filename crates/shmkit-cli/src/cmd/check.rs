//! `shmkit check STORE [--repair]`: walks every structure and reports precisely; exit code 0
//! only when the store is clean.
//!
//! The check and the repair are the core's (`Store::check`, `Store::repair`, see
//! `shmkit::maintenance::check`): header, registry, locks, allocator and directory, every
//! object with its own check, and allocated blocks no structure reaches. This module words
//! the findings: *problems* (damage) and *things to repair* (state a killed process left)
//! make the exit code 1; *busy* parts (a live process held their lock too long: not checked)
//! alone make it 6 (in use). `--repair` repairs, then checks again from scratch; the exit
//! code reflects that second check. `--json` prints one JSON document instead.
//!
//! ```text
//! $ shmkit check cache
//! checking store cache (/dev/shm/shmkit.cache)
//!   allocator: 12 blocks in use, 2030 free
//! needs repair: 3 allocated blocks (1.2 KiB) are reachable from no structure
//! result: 0 problems, 1 thing to repair: run `shmkit check --repair cache`
//! ```

use crate::cli::CheckArgs;
use crate::discover;
use crate::error::{CliError, CliResult, exit};
use crate::format::plural;
use crate::probe::probe;
use serde_json::{Value, json};
use shmkit::OpenError;
use shmkit::maintenance::check::{ObjectOutcome, Severity, StoreReport};
use std::io::Write;

fn heading(out: &mut impl Write, args: &CheckArgs, path: &std::path::Path) -> std::io::Result<()> {
    writeln!(out, "checking store {} ({})", args.store, path.display())
}

/// Runs `shmkit check`.
pub fn run(args: &CheckArgs, out: &mut impl Write) -> CliResult {
    let file = discover::from_arg(&args.store);
    let p = probe(&file.path);
    if let Some(e) = &p.open_error {
        let open_err = match e.kind() {
            std::io::ErrorKind::NotFound => OpenError::NotFound {
                path: file.path.clone(),
            },
            std::io::ErrorKind::PermissionDenied => OpenError::PermissionDenied {
                path: file.path.clone(),
            },
            _ => return Err(CliError::failure(format!("{}: {e}", file.path.display()))),
        };
        return Err(CliError::open(&args.store, open_err));
    }
    if !p.has_magic {
        return Err(CliError::new(
            exit::BAD_STORE,
            format!(
                "{} is not a shmkit store (no shmkit header)",
                file.path.display()
            ),
        ));
    }
    let store = match discover::open_for_maintenance(&args.store) {
        Ok(s) => s,
        Err(
            e @ (OpenError::Truncated { .. }
            | OpenError::HeaderChecksum { .. }
            | OpenError::CorruptHeader { .. }),
        ) => {
            if args.json {
                let doc = json!({
                    "store": args.store,
                    "path": file.path.display().to_string(),
                    "clean": false,
                    "header_error": e.to_string(),
                });
                writeln!(out, "{doc}")?;
            } else {
                heading(out, args, &file.path)?;
                writeln!(out, "problem: {e}")?;
                writeln!(
                    out,
                    "result: the header is damaged; the store cannot be opened or repaired, only removed (`shmkit rm {}`)",
                    args.store
                )?;
            }
            return Ok(exit::NEGATIVE);
        }
        Err(e) => return Err(CliError::open(&args.store, e)),
    };
    let dead = p.dead_slots().count();
    let reclaimed_note = (dead > 0).then(|| {
        format!(
            "{} of dead processes reclaimed on attach",
            plural(dead, "registry slot", "registry slots")
        )
    });
    let first = store.check();
    let repair = args.repair.then(|| store.repair());
    let last = repair.as_ref().map_or(&first, |r| &r.after);
    let code = exit_code(last);
    if args.json {
        let mut doc = json!({
            "store": args.store,
            "path": file.path.display().to_string(),
            "clean": last.is_clean(),
            "notes": reclaimed_note.iter().collect::<Vec<_>>(),
        });
        match &repair {
            None => doc["report"] = report_json(&first),
            Some(r) => {
                doc["before"] = report_json(&first);
                doc["repaired"] = json!(r.repaired);
                doc["not_repaired"] = json!(
                    r.not_repaired
                        .iter()
                        .map(|n| n.to_string())
                        .collect::<Vec<_>>()
                );
                doc["after"] = report_json(&r.after);
            }
        }
        writeln!(out, "{doc}")?;
        return Ok(code);
    }
    heading(out, args, &file.path)?;
    let Some(r) = &repair else {
        print_report(out, &first, reclaimed_note.as_deref(), true)?;
        return finish(out, &first, &args.store, false, code);
    };
    print_report(out, &first, None, false)?;
    for line in &r.repaired {
        writeln!(out, "repaired: {line}")?;
    }
    if r.repaired.is_empty() {
        writeln!(out, "repaired: nothing needed repair")?;
    }
    for line in &r.not_repaired {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "checking again")?;
    print_report(out, &r.after, reclaimed_note.as_deref(), true)?;
    finish(out, &r.after, &args.store, true, code)
}

/// 0 clean, 6 when only busy parts kept it from being checked, 1 otherwise.
fn exit_code(r: &StoreReport) -> u8 {
    if r.is_clean() {
        exit::OK
    } else if r.count(Severity::Problem) + r.count(Severity::NeedsRepair) == 0 {
        exit::IN_USE
    } else {
        exit::NEGATIVE
    }
}

/// What was examined, one line each.
fn info_lines(r: &StoreReport) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(a) = &r.allocator {
        lines.push(format!(
            "allocator: {} in use, {} free",
            plural(a.used_blocks as usize, "block", "blocks"),
            a.free_blocks
        ));
    }
    if r.objects.is_empty() && r.count(Severity::Problem) > 0 {
        return lines;
    }
    lines.push(format!(
        "directory: {}",
        plural(r.objects.len(), "object", "objects")
    ));
    for o in &r.objects {
        let (summary, damaged) = match &o.outcome {
            ObjectOutcome::Checked(c) => (
                match c.item_count {
                    Some(n) => format!("{n} entries"),
                    None => "checked".into(),
                },
                !c.problems.is_empty(),
            ),
            ObjectOutcome::CannotOpen(_) => ("unreadable".into(), true),
            ObjectOutcome::CheckFailed(_) => ("check failed".into(), true),
            ObjectOutcome::UnknownKind => continue,
        };
        let state = if damaged { "DAMAGED" } else { "consistent" };
        lines.push(format!(
            "{} {:?}: {summary}, {state}",
            o.info.kind.name(),
            o.info.name
        ));
    }
    lines
}

fn print_report(
    out: &mut impl Write,
    r: &StoreReport,
    extra_note: Option<&str>,
    with_notes: bool,
) -> Result<(), CliError> {
    for line in info_lines(r) {
        writeln!(out, "  {line}")?;
    }
    for (severity, label) in [
        (Severity::Problem, "problem"),
        (Severity::NeedsRepair, "needs repair"),
    ] {
        for f in r.with_severity(severity) {
            writeln!(out, "{label}: {f}")?;
        }
    }
    if !with_notes {
        return Ok(());
    }
    for f in r.with_severity(Severity::Note) {
        writeln!(out, "note: {f}")?;
    }
    if let Some(n) = extra_note {
        writeln!(out, "note: {n}")?;
    }
    for f in r.with_severity(Severity::Busy) {
        writeln!(out, "busy: {f}; not checked")?;
    }
    Ok(())
}

fn report_json(r: &StoreReport) -> Value {
    json!({
        "clean": r.is_clean(),
        "allocator": r.allocator.as_ref().map(|a| json!({
            "used_blocks": a.used_blocks,
            "free_blocks": a.free_blocks,
            "leaked_free_blocks": a.leaked_free_blocks,
        })),
        "objects": r.objects.iter().map(|o| {
            json!({"name": o.info.name, "kind": o.info.kind.name(), "state": o.state(), "items": o.item_count()})
        }).collect::<Vec<_>>(),
        "findings": r.findings.iter().map(|f| json!({
            "severity": f.severity().name(),
            "what": f.to_string(),
        })).collect::<Vec<_>>(),
    })
}

fn finish(
    out: &mut impl Write,
    r: &StoreReport,
    store: &str,
    repaired: bool,
    code: u8,
) -> CliResult {
    if code == exit::OK {
        writeln!(out, "result: clean")?;
        return Ok(code);
    }
    if code == exit::IN_USE {
        writeln!(
            out,
            "result: not fully checked: {} held by a live process; run again when it is released",
            plural(r.count(Severity::Busy), "part is", "parts are")
        )?;
        return Ok(code);
    }
    let to_repair = r.count(Severity::NeedsRepair);
    let summary = format!(
        "{}, {}",
        plural(r.count(Severity::Problem), "problem", "problems"),
        plural(to_repair, "thing to repair", "things to repair")
    );
    if repaired {
        writeln!(out, "result: {summary} remain after repair")?;
    } else if to_repair == 0 {
        writeln!(out, "result: {summary}")?;
    } else {
        writeln!(
            out,
            "result: {summary}: run `shmkit check --repair {store}`"
        )?;
    }
    Ok(code)
}
