//! `shmkit ls`: every store in the store directory (or the paths given) with sizes, objects,
//! attached processes and stale state; leftover temporary files; `--json` for scripts.
//!
//! Invariants: one unreadable or foreign file never stops the listing (it is shown with its
//! status); the exit code is 0 whenever the listing could be produced, 3 only when a path
//! given on the command line does not exist.
//!
//! ```text
//! $ shmkit ls
//! NAME         KIND      ENTRIES  COMMITTED  ON DISK  PIDS  STATUS
//! cache        store                1.0 MiB  1.0 MiB  4242  ok
//!   users      hash_map     1200
//! ```

use crate::cli::LsArgs;
use crate::discover::{self, StoreFile, TempFile};
use crate::error::{CliResult, exit};
use crate::format::{self, Align, Table};
use crate::inventory::{FileStatus, Inventory, inventory};
use crate::json::{self, Json};
use crate::probe::process_json;
use std::io::Write;
use std::path::Path;

/// Runs `shmkit ls`.
pub fn run(args: &LsArgs, out: &mut impl Write) -> CliResult {
    let mut files: Vec<StoreFile> = Vec::new();
    let mut temps: Vec<TempFile> = Vec::new();
    let mut missing = false;
    let dir = discover::default_dir();
    if args.paths.is_empty() {
        match discover::scan(&dir, true) {
            Ok((s, t)) => {
                files = s;
                temps = t;
            }
            Err(e) => {
                return Err(crate::error::CliError::failure(format!(
                    "cannot list {}: {e}",
                    dir.display()
                )));
            }
        }
    } else {
        for arg in &args.paths {
            let path = Path::new(arg);
            if arg.contains('/') && path.is_dir() {
                let in_store_dir = path.canonicalize().ok() == dir.canonicalize().ok();
                match discover::scan(path, in_store_dir) {
                    Ok((s, t)) => {
                        files.extend(s);
                        temps.extend(t);
                    }
                    Err(e) => {
                        return Err(crate::error::CliError::failure(format!(
                            "cannot list {arg}: {e}"
                        )));
                    }
                }
            } else {
                files.push(discover::from_arg(arg));
            }
        }
    }
    let explicit: Vec<bool> = files.iter().map(|f| args.paths.contains(&f.arg)).collect();
    let mut inventories: Vec<Inventory> = Vec::with_capacity(files.len());
    for (file, explicit) in files.iter().zip(explicit) {
        let inv = inventory(file, true);
        let gone = match &inv.status {
            FileStatus::Missing => true,
            FileStatus::Unusable(e) => e.code == exit::NOT_FOUND,
            _ => false,
        };
        // A file found by listing a directory that vanished since (removed by its owner)
        // is simply no longer there; only a path given on the command line is "missing".
        if gone && !explicit {
            continue;
        }
        missing |= gone;
        inventories.push(inv);
    }
    if args.json {
        let doc = json::obj([
            ("directory", Json::from(dir.display().to_string())),
            (
                "stores",
                Json::Array(inventories.iter().map(inventory_json).collect()),
            ),
            (
                "temp_files",
                Json::Array(temps.iter().map(temp_json).collect()),
            ),
        ]);
        writeln!(out, "{doc}")?;
    } else if inventories.is_empty() && temps.is_empty() {
        writeln!(out, "no stores in {}", dir.display())?;
    } else {
        write!(out, "{}", table(&inventories, &temps).render(""))?;
    }
    Ok(if missing { exit::NOT_FOUND } else { exit::OK })
}

/// One-word-or-so status of a file.
pub fn status_text(inv: &Inventory) -> String {
    match &inv.status {
        FileStatus::Store => {
            let stale = inv.stale();
            if stale.is_empty() {
                "ok".into()
            } else {
                format!("stale: {}", stale.join("; "))
            }
        }
        FileStatus::Missing => "no such file".into(),
        FileStatus::NotAStore(why) => format!("not a shmkit store ({why})"),
        FileStatus::Unusable(e) => e.message.clone(),
    }
}

fn table(inventories: &[Inventory], temps: &[TempFile]) -> Table {
    let mut t = Table::new(&[
        ("NAME", Align::Left),
        ("KIND", Align::Left),
        ("ENTRIES", Align::Right),
        ("COMMITTED", Align::Right),
        ("ON DISK", Align::Right),
        ("PIDS", Align::Left),
        ("STATUS", Align::Left),
    ]);
    for inv in inventories {
        let is_store = matches!(inv.status, FileStatus::Store);
        let kind = match inv.status {
            FileStatus::Store => "store",
            FileStatus::Unusable(_) if inv.probe.has_magic => "store",
            _ => "-",
        };
        let pids: Vec<String> = inv.probe.live_slots().map(|s| s.pid.to_string()).collect();
        t.row(vec![
            inv.file.display.clone(),
            kind.into(),
            String::new(),
            inv.probe
                .committed_len
                .filter(|_| is_store)
                .map(format::bytes)
                .unwrap_or_else(|| "-".into()),
            if inv.probe.open_error.is_none() {
                format::bytes(inv.probe.disk_bytes)
            } else {
                "-".into()
            },
            if pids.is_empty() {
                "-".into()
            } else {
                pids.join(",")
            },
            status_text(inv),
        ]);
        for o in &inv.objects {
            t.row(vec![
                format!("  {}", o.name),
                o.kind.clone(),
                o.entries.map(|n| n.to_string()).unwrap_or_default(),
                String::new(),
                String::new(),
                String::new(),
                o.error.clone().unwrap_or_default(),
            ]);
        }
    }
    for tmp in temps {
        t.row(vec![
            tmp.path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            "temp file".into(),
            String::new(),
            String::new(),
            std::fs::symlink_metadata(&tmp.path)
                .map(|m| format::bytes(m.len()))
                .unwrap_or_default(),
            tmp.creator_pid.map(|p| p.to_string()).unwrap_or_default(),
            temp_status(tmp),
        ]);
    }
    t
}

/// Status of a leftover temporary file.
pub fn temp_status(tmp: &TempFile) -> String {
    let age = tmp.age.map(format::duration).unwrap_or_else(|| "?".into());
    if tmp.is_stale() {
        format!("stale: leftover of an interrupted store creation, {age} old")
    } else {
        format!("store being created ({age} old)")
    }
}

fn inventory_json(inv: &Inventory) -> Json {
    let kind = match &inv.status {
        FileStatus::Store => "store",
        FileStatus::Missing => "missing",
        FileStatus::NotAStore(_) => "not_a_store",
        FileStatus::Unusable(_) => "unusable_store",
    };
    let mut j = json::obj([
        ("name", Json::from(inv.file.display.clone())),
        ("path", Json::from(inv.file.path.display().to_string())),
        ("kind", Json::from(kind)),
    ]);
    match &inv.status {
        FileStatus::NotAStore(why) => json::push(&mut j, "error", Json::from(why.clone())),
        FileStatus::Unusable(e) => json::push(&mut j, "error", Json::from(e.message.clone())),
        _ => {}
    }
    if inv.probe.open_error.is_none() {
        json::push(&mut j, "file_bytes", Json::from(inv.probe.file_len));
        json::push(&mut j, "disk_bytes", Json::from(inv.probe.disk_bytes));
    }
    if let Some(h) = inv.probe.header {
        json::push(
            &mut j,
            "committed_bytes",
            Json::from(inv.probe.committed_len),
        );
        json::push(&mut j, "reserved_bytes", Json::from(h.reserved_len));
        json::push(&mut j, "created_unix_ns", Json::from(h.created_unix_ns));
    }
    if matches!(inv.status, FileStatus::Store) {
        let objects = inv
            .objects
            .iter()
            .map(|o| {
                let mut oj = json::obj([
                    ("name", Json::from(o.name.clone())),
                    ("kind", Json::from(o.kind.clone())),
                    ("entries", Json::from(o.entries)),
                ]);
                if let Some(e) = &o.error {
                    json::push(&mut oj, "error", Json::from(e.clone()));
                }
                oj
            })
            .collect();
        json::push(&mut j, "objects", Json::Array(objects));
    }
    if inv.probe.header.is_some() {
        let procs = inv.probe.live_slots().map(process_json).collect();
        json::push(&mut j, "processes", Json::Array(procs));
        json::push(&mut j, "in_use", Json::from(inv.probe.in_use));
        let dead: Vec<u64> = inv.probe.dead_slots().map(|s| s.pid as u64).collect();
        json::push(&mut j, "dead_process_pids", Json::from(dead));
    }
    let stale = inv.stale();
    json::push(&mut j, "stale", Json::from(!stale.is_empty()));
    json::push(&mut j, "stale_reasons", Json::from(stale));
    j
}

fn temp_json(tmp: &TempFile) -> Json {
    json::obj([
        ("path", Json::from(tmp.path.display().to_string())),
        ("age_seconds", Json::from(tmp.age.map(|a| a.as_secs()))),
        ("creator_pid", Json::from(tmp.creator_pid)),
        ("stale", Json::from(tmp.is_stale())),
    ])
}
