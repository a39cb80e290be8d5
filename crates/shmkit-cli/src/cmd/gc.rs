//! `shmkit gc [--remove-unused] [--dry-run]`: cleans dead processes' state in every store of
//! the store directory, removes leftover temporary files older than a minute, and with
//! `--remove-unused` removes stores no live process has attached.
//!
//! Invariants: a store in use is never removed (see [`crate::remove`]); files that are not
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
use crate::cmd::ls::TEMP_STALE_AFTER;
use crate::discover::{self, StoreFile};
use crate::error::{CliError, CliResult, exit};
use crate::format;
use crate::locks::{self, LockRole};
use crate::objects;
use crate::probe::{Probe, probe};
use crate::remove::{Removed, remove_store};
use shmkit::Store;
use std::io::Write;
use std::time::Duration;

const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `shmkit gc`.
pub fn run(args: &GcArgs, out: &mut impl Write) -> CliResult {
    let dir = discover::default_dir();
    let (stores, temps) = discover::scan(&dir, true)
        .map_err(|e| CliError::failure(format!("cannot list {}: {e}", dir.display())))?;
    let mut code = exit::OK;
    let mut did_anything = false;
    for file in &stores {
        match gc_store(file, args) {
            Ok(Some(line)) => {
                did_anything = true;
                writeln!(out, "{}: {line}", file.display)?;
            }
            Ok(None) => {}
            Err(e) => {
                code = exit::FAILURE;
                writeln!(out, "{}: {}", file.display, e.message)?;
            }
        }
    }
    for tmp in &temps {
        let Some(age) = tmp.age else { continue };
        if age < TEMP_STALE_AFTER {
            continue;
        }
        let name = tmp
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        did_anything = true;
        if args.dry_run {
            writeln!(
                out,
                "{name}: would remove (leftover temporary file, {} old)",
                format::duration(age)
            )?;
            continue;
        }
        match std::fs::remove_file(&tmp.path) {
            Ok(()) => writeln!(
                out,
                "{name}: removed (leftover temporary file, {} old)",
                format::duration(age)
            )?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                code = exit::FAILURE;
                writeln!(out, "{name}: could not remove: {e}")?;
            }
        }
    }
    if !did_anything {
        writeln!(out, "nothing to clean in {}", dir.display())?;
    }
    Ok(code)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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
    if args.remove_unused && !p.in_use {
        if args.dry_run {
            return Ok(Some("would remove (no process attached)".into()));
        }
        return match remove_store(file, false)? {
            Removed::Yes => Ok(Some("removed (no process attached)".into())),
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
    let store = Store::open(&file.arg).map_err(|e| CliError::open(&file.arg, e))?;
    let swept = dead + store.sweep_dead_processes() as usize;
    let issues = locks::scan(&store);
    let mut done: Vec<String> = Vec::new();
    if swept > 0 {
        done.push(format!(
            "reclaimed {}",
            plural(swept, "dead process slot", "dead process slots")
        ));
    }
    // A dead process may have held any lock, including hash-map shard locks that only the
    // maps' own repair can see: repair everything after a death.
    if swept > 0
        || issues
            .iter()
            .any(|i| matches!(i.role, LockRole::SizeClass | LockRole::MapShard))
    {
        match store.repair() {
            Ok(r) => {
                done.extend(
                    r.repaired
                        .into_iter()
                        .filter(|r| !r.contains("registry slots")),
                );
                done.extend(r.busy.into_iter().map(|b| format!("busy, skipped: {b}")));
            }
            Err(e) => done.push(format!("allocator repair failed: {e}")),
        }
        for obj in store.objects().unwrap_or_default() {
            if let Some(c) = objects::check(&store, &obj, true) {
                let what = format!("{} {:?}", obj.kind.name(), obj.name);
                done.extend(c.repaired.into_iter().map(|r| format!("{what}: {r}")));
                done.extend(
                    c.busy
                        .into_iter()
                        .map(|b| format!("busy, skipped: {what}: {b}")),
                );
            }
        }
    }
    if issues.iter().any(|i| i.role == LockRole::AllOrNothing) {
        let (cleared, stuck) = locks::repair_all_or_nothing(&store, LOCK_TIMEOUT);
        done.extend(cleared);
        done.extend(stuck.into_iter().map(|s| format!("could not repair {s}")));
    }
    Ok((!done.is_empty()).then(|| done.join("; ")))
}
