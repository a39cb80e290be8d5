//! `shmkit gc [--remove-unused] [--dry-run] [--json]`: cleans dead processes' state in every
//! store of the store directory (the core's `Store::repair` when a process died or left a
//! lock), removes stale temporary files of store creation (`shmkit::store::files`), and with
//! `--remove-unused` removes stores no live process has attached (stores created with the
//! remove-when-unused option are removed so without it: their last process died).
//!
//! Invariants: a store in use is never removed (the core's removal protocol, `shmkit::store::remove`); files that are not
//! stores are never touched; cleaning is what any attaching process may do at any time
//! (reclaiming dead slots, taking over dead owners' locks and repairing what they guard), so
//! it is safe while other processes work. `--dry-run` never attaches and changes nothing.
//!
//! ```text
//! $ shmkit gc --remove-unused
//! cache: in use by 2 processes; reclaimed 1 dead process slot
//! old: removed (no process attached)
//! .shmkit-tmp.shmkit.x.4242.1700000000: removed (leftover temporary file, 5m02s old)
//! ```

use crate::cli::GcArgs;
use crate::discover::{self, StoreFile};
use crate::error::{CliError, CliResult, exit};
use crate::format::{self, plural};
use crate::probe::{Probe, probe};
use crate::remove::{Removed, remove_store};
use serde_json::json;
use shmkit::maintenance::check::NotRepairedBecause;
use shmkit::store::files::remove_stale_temp_file;
use std::io::Write;

/// What gc did (or would do) with one file.
struct Action {
    /// Store name or temporary file name.
    file: String,
    /// What happened.
    what: String,
    /// It failed.
    failed: bool,
}

/// Runs `shmkit gc`.
pub fn run(args: &GcArgs, out: &mut impl Write) -> CliResult {
    let dir = discover::default_dir();
    let (stores, temps) = discover::scan(&dir, true)
        .map_err(|e| CliError::failure(format!("cannot list {}: {e}", dir.display())))?;
    let mut actions = Vec::new();
    for file in &stores {
        match gc_store(file, args) {
            Ok(Some(what)) => actions.push(Action {
                file: file.display.clone(),
                what,
                failed: false,
            }),
            Ok(None) => {}
            Err(e) => actions.push(Action {
                file: file.display.clone(),
                what: e.message,
                failed: true,
            }),
        }
    }
    for tmp in temps.iter().filter(|t| t.is_stale()) {
        let name = tmp
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let age = tmp.age.map(format::duration).unwrap_or_else(|| "?".into());
        let (what, failed) = if args.dry_run {
            (
                format!("would remove (leftover temporary file, {age} old)"),
                false,
            )
        } else {
            match remove_stale_temp_file(&tmp.path) {
                Ok(true) => (
                    format!("removed (leftover temporary file, {age} old)"),
                    false,
                ),
                Ok(false) => continue,
                Err(e) => (format!("could not remove: {e}"), true),
            }
        };
        actions.push(Action {
            file: name,
            what,
            failed,
        });
    }
    let code = if actions.iter().any(|a| a.failed) {
        exit::FAILURE
    } else {
        exit::OK
    };
    if args.json {
        let doc = json!({
            "directory": dir.display().to_string(),
            "dry_run": args.dry_run,
            "actions": actions.iter().map(|a| json!({
                "file": a.file, "what": a.what, "failed": a.failed,
            })).collect::<Vec<_>>(),
        });
        writeln!(out, "{doc}")?;
        return Ok(code);
    }
    for a in &actions {
        writeln!(out, "{}: {}", a.file, a.what)?;
    }
    if actions.is_empty() {
        writeln!(out, "nothing to clean in {}", dir.display())?;
    }
    Ok(code)
}

/// Handles one store; returns a line to print, if anything happened or is worth saying.
fn gc_store(file: &StoreFile, args: &GcArgs) -> Result<Option<String>, CliError> {
    let p = probe(&file.path);
    if p.open_error.is_some() || !p.has_magic {
        return Ok(None); // not a store (or unreadable): not ours to touch; `ls` reports it
    }
    if !p.header_ok {
        // A damaged or foreign-version header: nothing here can be trusted, so gc neither
        // cleans nor removes it (even with --remove-unused); a person decides.
        return Ok(Some(format!(
            "left alone: its header is damaged or of another version (`shmkit check {}`, `shmkit rm {}`)",
            file.arg, file.arg
        )));
    }
    // A store created to be removed when unused whose last process died (or exited without
    // detaching) is removed like --remove-unused would.
    let wants_removal = p.header.is_some_and(|h| h.removes_when_unused());
    if (args.remove_unused || wants_removal) && !p.in_use {
        let why = if wants_removal {
            "no process attached; created to be removed when unused"
        } else {
            "no process attached"
        };
        if args.dry_run {
            return Ok(Some(format!("would remove ({why})")));
        }
        return match remove_store(file, false)? {
            Removed::Yes => Ok(Some(format!("removed ({why})"))),
            Removed::InUse => clean(file, &probe(&file.path), args).map(|l| {
                Some(format!(
                    "a process attached meanwhile; kept{}",
                    l.map(|l| format!("; {l}")).unwrap_or_default()
                ))
            }),
        };
    }
    let line = clean(file, &p, args)?;
    let live = p.live_slots().count();
    Ok(match (line, args.remove_unused) {
        (Some(l), true) => Some(format!(
            "in use by {}; kept; {l}",
            plural(live, "process", "processes")
        )),
        (Some(l), false) => Some(l),
        (None, true) => Some(format!(
            "in use by {}; kept",
            plural(live, "process", "processes")
        )),
        (None, false) => None,
    })
}

/// Cleans dead processes' state in one store; returns what was done, if anything.
fn clean(file: &StoreFile, p: &Probe, args: &GcArgs) -> Result<Option<String>, CliError> {
    let dead = p.dead_slots().count();
    if args.dry_run {
        return Ok((dead > 0).then(|| {
            format!(
                "would reclaim {}",
                plural(dead, "dead process slot", "dead process slots")
            )
        }));
    }
    let store =
        discover::open_for_maintenance(&file.arg).map_err(|e| CliError::open(&file.arg, e))?;
    let swept = dead + store.sweep_dead_processes() as usize;
    let mut done: Vec<String> = Vec::new();
    if swept > 0 {
        done.push(format!(
            "reclaimed {}",
            plural(swept, "dead process slot", "dead process slots")
        ));
    }
    // A dead process may have held any lock, including locks inside objects that only their
    // own repair sees: repair everything after a death or an abandoned lock.
    if swept > 0 || store.lock_states().iter().any(|l| l.is_abandoned()) {
        let r = store.repair();
        done.extend(
            r.repaired
                .into_iter()
                .filter(|r| !r.contains("registry slots")),
        );
        done.extend(r.not_repaired.into_iter().map(|n| match n.because {
            NotRepairedBecause::Busy => format!("busy, skipped: {}", n.what),
            _ => n.to_string(),
        }));
    }
    Ok((!done.is_empty()).then(|| done.join("; ")))
}
