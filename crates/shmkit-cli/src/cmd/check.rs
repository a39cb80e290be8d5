//! `shmkit check STORE [--repair]`: walks every structure and reports precisely; exit code 0
//! only when the store is clean.
//!
//! What is looked at: the header (validated by `Store::open`), the process registry, the
//! store-level locks, the allocator and directory (`Store::verify`), every object with its
//! own check (`HashMap::verify`), and allocated blocks no structure reaches (see
//! [`crate::reach`]). Findings are *problems* (damage) or *things to repair* (state a killed
//! process left: its locks, leaked blocks). Both make the exit code 1.
//!
//! Every lock is taken with a timeout (`shmkit::store::verify::MAINTENANCE_LOCK_WAIT`): a
//! part whose lock a live process holds longer is reported *busy* and not checked (nor
//! repaired, nor is the leaked-block sweep run), so a check never hangs behind a stopped
//! process. Only busy parts, no findings: exit code 6 (in use).
//!
//! `--repair` repairs in this order — store layer (`Store::repair`: dead owners' allocator
//! locks, leaked free blocks), objects (`HashMap::repair`), the all-or-nothing header locks,
//! then unreachable used blocks (only when no other process is attached) — and then checks
//! again from scratch; the exit code reflects that second check.
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
use crate::format;
use crate::locks::{self, LockRole};
use crate::objects;
use crate::probe::probe;
use crate::reach;
use shmkit::store::verify::MAINTENANCE_LOCK_WAIT;
use shmkit::{OpenError, Store};
use std::io::Write;
use std::time::Duration;

/// How long `--repair` waits for a lock a live process holds before giving up on it.
const LOCK_TIMEOUT: Duration = Duration::from_secs(5);

/// Findings of one pass.
#[derive(Debug, Default)]
struct Findings {
    /// Lines describing what was examined.
    info: Vec<String>,
    /// Damage.
    problems: Vec<String>,
    /// Stale state a repair would fix.
    to_repair: Vec<String>,
    /// Worth knowing, not wrong.
    notes: Vec<String>,
    /// Parts not checked because a live process held their lock too long.
    busy: Vec<String>,
}

impl Findings {
    fn clean(&self) -> bool {
        self.problems.is_empty() && self.to_repair.is_empty() && self.busy.is_empty()
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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
    writeln!(
        out,
        "checking store {} ({})",
        args.store,
        file.path.display()
    )?;
    let store = match Store::open(&args.store) {
        Ok(s) => s,
        Err(
            e @ (OpenError::Truncated { .. }
            | OpenError::HeaderChecksum { .. }
            | OpenError::CorruptHeader { .. }),
        ) => {
            writeln!(out, "problem: {e}")?;
            writeln!(
                out,
                "result: the header is damaged; the store cannot be opened or repaired, only removed (`shmkit rm {}`)",
                args.store
            )?;
            return Ok(exit::NEGATIVE);
        }
        Err(e) => return Err(CliError::open(&args.store, e)),
    };
    let dead = p.dead_slots().count();
    let mut first = examine(&store)?;
    if dead > 0 {
        first.notes.push(format!(
            "{} of dead processes reclaimed on attach",
            plural(dead, "registry slot", "registry slots")
        ));
    }
    if !args.repair {
        report(out, &first)?;
        return finish(out, &first, &args.store, false);
    }
    for line in &first.info {
        writeln!(out, "  {line}")?;
    }
    for (label, items) in [
        ("problem", &first.problems),
        ("needs repair", &first.to_repair),
    ] {
        for item in items {
            writeln!(out, "{label}: {item}")?;
        }
    }
    let repaired = repair(&store, out)?;
    for line in &repaired {
        writeln!(out, "repaired: {line}")?;
    }
    if repaired.is_empty() {
        writeln!(out, "repaired: nothing needed repair")?;
    }
    writeln!(out, "checking again")?;
    let second = examine(&store)?;
    report(out, &second)?;
    finish(out, &second, &args.store, true)
}

fn report(out: &mut impl Write, f: &Findings) -> Result<(), CliError> {
    for line in &f.info {
        writeln!(out, "  {line}")?;
    }
    for p in &f.problems {
        writeln!(out, "problem: {p}")?;
    }
    for r in &f.to_repair {
        writeln!(out, "needs repair: {r}")?;
    }
    for n in &f.notes {
        writeln!(out, "note: {n}")?;
    }
    for b in &f.busy {
        writeln!(out, "busy: {b}; not checked")?;
    }
    Ok(())
}

fn finish(out: &mut impl Write, f: &Findings, store: &str, repaired: bool) -> CliResult {
    if f.clean() {
        writeln!(out, "result: clean")?;
        return Ok(exit::OK);
    }
    if f.problems.is_empty() && f.to_repair.is_empty() {
        writeln!(
            out,
            "result: not fully checked: {} held by a live process; run again when it is released",
            plural(f.busy.len(), "part is", "parts are")
        )?;
        return Ok(exit::IN_USE);
    }
    let summary = format!(
        "{}, {}",
        plural(f.problems.len(), "problem", "problems"),
        plural(f.to_repair.len(), "thing to repair", "things to repair")
    );
    if repaired {
        writeln!(out, "result: {summary} remain after repair")?;
    } else if f.to_repair.is_empty() {
        writeln!(out, "result: {summary}")?;
    } else {
        writeln!(
            out,
            "result: {summary}: run `shmkit check --repair {store}`"
        )?;
    }
    Ok(exit::NEGATIVE)
}

/// One read-only pass over everything.
fn examine(store: &Store) -> Result<Findings, CliError> {
    let mut f = Findings::default();
    for issue in locks::scan(store) {
        match issue.role {
            LockRole::AllOrNothing => f.to_repair.push(issue.describe()),
            // The map's own check below takes the lock and recovers the shard.
            LockRole::MapShard => f.notes.push(format!(
                "{}; recovered by this check (as by any next writer of the shard)",
                issue.describe()
            )),
            LockRole::SizeClass => {} // counted by the allocator check
        }
    }
    match store.verify() {
        Ok(v) => {
            f.busy.extend(v.busy.iter().cloned());
            f.info.push(format!(
                "allocator: {} in use, {} free",
                plural(v.used_blocks as usize, "block", "blocks"),
                v.free_blocks
            ));
            f.problems.extend(
                v.problems
                    .iter()
                    .map(|p| format!("offset {}: {}", p.offset, p.what)),
            );
            if v.leaked_free_blocks > 0 {
                f.to_repair.push(format!(
                    "{} ({}) tagged free but on no free list (left by a killed process)",
                    plural(v.leaked_free_blocks as usize, "block", "blocks"),
                    format::bytes(v.leaked_free_bytes)
                ));
            }
            if v.locks_needing_repair > 0 {
                f.to_repair.push(format!(
                    "{} taken over from a dead process and not yet repaired",
                    plural(
                        v.locks_needing_repair as usize,
                        "allocator lock",
                        "allocator locks"
                    )
                ));
            }
        }
        Err(e) => f.problems.push(format!("allocator check failed: {e}")),
    }
    let objs = match store.objects() {
        Ok(o) => o,
        Err(e) => {
            f.problems.push(format!("directory unreadable: {e}"));
            return Ok(f);
        }
    };
    f.info.push(format!(
        "directory: {}",
        plural(objs.len(), "object", "objects")
    ));
    for obj in &objs {
        match objects::check(store, obj, false) {
            Some(c) => {
                let state = if c.problems.is_empty() {
                    "consistent"
                } else {
                    "DAMAGED"
                };
                f.info.push(format!(
                    "{} {:?}: {}, {state}",
                    obj.kind.name(),
                    obj.name,
                    c.summary
                ));
                f.problems.extend(
                    c.problems
                        .iter()
                        .map(|p| format!("{} {:?}: {p}", obj.kind.name(), obj.name)),
                );
                f.busy.extend(
                    c.busy
                        .iter()
                        .map(|b| format!("{} {:?}: {b}", obj.kind.name(), obj.name)),
                );
                // Taking a shard lock from a dead writer recovers the shard at once (every
                // lock taker does); say so, since the check itself changed it.
                f.notes.extend(c.repaired.iter().map(|r| {
                    format!(
                        "{} {:?}: recovered while checking (a writer had died): {r}",
                        obj.kind.name(),
                        obj.name
                    )
                }));
            }
            None => f.notes.push(format!(
                "{} {:?} not checked: this build has no check for its kind",
                obj.kind.name(),
                obj.name
            )),
        }
    }
    if !f.problems.is_empty() {
        f.notes
            .push("leaked-block analysis skipped: fix the problems above first".into());
        return Ok(f);
    }
    if !f.busy.is_empty() {
        f.notes
            .push("leaked-block analysis skipped: it needs every lock, and some are busy".into());
        return Ok(f);
    }
    match reach::find_unreachable(store) {
        Ok(leaks) if leaks.unreachable.is_empty() => {}
        Ok(leaks) => {
            let what = format!(
                "{} ({}) reachable from no structure",
                plural(
                    leaks.unreachable.len(),
                    "allocated block",
                    "allocated blocks"
                ),
                format::bytes(leaks.unreachable_bytes)
            );
            if !leaks.complete {
                f.notes.push(format!(
                    "{what}, but the analysis is incomplete ({}), so they may be in use",
                    leaks.incomplete_because.join("; ")
                ));
            } else if store.others_attached() {
                f.notes.push(format!(
                    "{what}; other processes are attached, so these may be allocations about to be published"
                ));
            } else {
                f.to_repair
                    .push(format!("{what} (leaked by a killed process)"));
            }
        }
        Err(e) => f.problems.push(format!("heap walk failed: {e}")),
    }
    Ok(f)
}

/// Repairs what can be repaired; returns what was done.
fn repair(store: &Store, out: &mut impl Write) -> Result<Vec<String>, CliError> {
    let mut done = Vec::new();
    let mut busy = false;
    match store.repair() {
        Ok(r) => {
            done.extend(r.repaired);
            for b in &r.busy {
                writeln!(out, "busy: {b}; not repaired")?;
            }
            busy |= !r.busy.is_empty();
        }
        Err(e) => writeln!(out, "could not repair the allocator: {e}")?,
    }
    for obj in store.objects().unwrap_or_default() {
        if let Some(c) = objects::check(store, &obj, true) {
            done.extend(
                c.repaired
                    .into_iter()
                    .map(|r| format!("{} {:?}: {r}", obj.kind.name(), obj.name)),
            );
            for b in &c.busy {
                writeln!(
                    out,
                    "busy: {} {:?}: {b}; not repaired",
                    obj.kind.name(),
                    obj.name
                )?;
            }
            busy |= !c.busy.is_empty();
        }
    }
    let (cleared, stuck) = locks::repair_all_or_nothing(store, LOCK_TIMEOUT);
    done.extend(cleared);
    busy |= !stuck.is_empty();
    for s in stuck {
        writeln!(out, "could not repair {s}")?;
    }
    if busy {
        writeln!(
            out,
            "skipped freeing unreachable blocks: some locks are busy"
        )?;
        return Ok(done);
    }
    if store.others_attached() {
        writeln!(
            out,
            "skipped freeing unreachable blocks: other processes are attached"
        )?;
        return Ok(done);
    }
    match reach::find_unreachable(store) {
        Ok(leaks) if leaks.complete && !leaks.unreachable.is_empty() => {
            if store.others_attached() {
                writeln!(
                    out,
                    "skipped freeing unreachable blocks: a process attached meanwhile"
                )?;
                return Ok(done);
            }
            let mut freed = 0usize;
            for payload in &leaks.unreachable {
                match store.free_within(*payload, MAINTENANCE_LOCK_WAIT) {
                    Ok(()) => freed += 1,
                    Err(e) => writeln!(out, "could not free block {payload}: {e}")?,
                }
            }
            done.push(format!(
                "freed {} ({}) that no structure reached",
                plural(freed, "leaked block", "leaked blocks"),
                format::bytes(leaks.unreachable_bytes)
            ));
        }
        Ok(leaks) if !leaks.complete && !leaks.unreachable.is_empty() => writeln!(
            out,
            "skipped freeing unreachable blocks: {}",
            leaks.incomplete_because.join("; ")
        )?,
        Ok(_) => {}
        Err(e) => writeln!(out, "skipped freeing unreachable blocks: {e}")?,
    }
    Ok(done)
}
