//! `shmkit stat STORE [OBJECT]`: header fields, allocator usage by size class, attached
//! processes and objects; with OBJECT, that object's statistics.
//!
//! Invariants: read-only (apart from the attach itself); figures are a racy snapshot while
//! other processes work.
//!
//! ```text
//! $ shmkit stat cache
//! store cache (/dev/shm/shmkit.cache)
//!   format version   1
//!   ...
//! ```

use crate::cli::StatArgs;
use crate::discover;
use crate::error::{CliError, CliResult, exit};
use crate::format::{self, Align, Table};
use crate::json::{self, Json};
use crate::objects::{self, ObjectListing};
use crate::probe::{Probe, probe, process_json, process_name};
use shmkit::Store;
use shmkit::store::AllocStats;
use std::io::Write;

/// Opens the store named on the command line, with the probe taken before attaching.
pub fn open_with_probe(arg: &str) -> Result<(Store, Probe), CliError> {
    let file = discover::from_arg(arg);
    let p = probe(&file.path);
    let store = crate::discover::open_for_maintenance(arg).map_err(|e| CliError::open(arg, e))?;
    Ok((store, p))
}

/// Runs `shmkit stat`.
pub fn run(args: &StatArgs, out: &mut impl Write) -> CliResult {
    let (store, probe) = open_with_probe(&args.store)?;
    let objs = objects::list(&store, true).map_err(|e| CliError::corrupt(&args.store, e))?;
    if let Some(name) = &args.object {
        let obj = objs.iter().find(|o| &o.name == name).ok_or_else(|| {
            CliError::directory(&args.store, shmkit::DirectoryError::NotFound(name.clone()))
        })?;
        return crate::object_stats::run(&store, &args.store, obj, args.json, out);
    }
    let alloc = store
        .alloc_stats()
        .map_err(|e| CliError::corrupt(&args.store, e))?;
    if args.json {
        writeln!(out, "{}", store_json(&store, &probe, &alloc, &objs))?;
        return Ok(exit::OK);
    }
    let h = store.header();
    let reg = store.registry_counters();
    writeln!(out, "store {} ({})", args.store, store.path().display())?;
    let mut t = Table::new(&[("", Align::Left), ("", Align::Left)]);
    let mut kv = |k: &str, v: String| t.row(vec![k.to_string(), v]);
    kv("format version", h.format_version.to_string());
    kv("created", format::ago(h.created_unix_ns));
    kv("hash", format!("xxh3-64, seed {:#018x}", h.hash_seed));
    kv("reserved", format::bytes(h.reserved_len));
    kv(
        "committed",
        format!(
            "{} (grown {} times)",
            format::bytes(store.committed_len()),
            store.grow_count()
        ),
    );
    kv(
        "file",
        format!(
            "{} on disk, mode {:04o}, owner uid {}",
            format::bytes(probe.disk_bytes),
            probe.mode,
            probe.uid
        ),
    );
    kv(
        "layout",
        format!(
            "registry at {}, size classes at {}, heap at {}, page size {}",
            h.registry_offset, h.class_table_offset, h.heap_offset, h.page_size
        ),
    );
    kv(
        "registry",
        format!(
            "{} slots, {} attaches so far, dead processes' slots reclaimed so far: {}",
            h.registry_slots, reg.attaches, reg.reclaimed
        ),
    );
    kv(
        "heap",
        format!(
            "{} carved: {} in used blocks, {} in free blocks",
            format::bytes(alloc.heap_bytes),
            format::bytes(alloc.used_bytes),
            format::bytes(alloc.free_bytes)
        ),
    );
    // The first column is the key; drop the (empty) header line.
    let rendered = t.render("  ");
    for line in rendered.lines().skip(1) {
        writeln!(out, "{line}")?;
    }
    writeln!(out, "\nallocator size classes in use")?;
    if alloc.classes.is_empty() {
        writeln!(out, "  (none)")?;
    } else {
        let mut t = Table::new(&[
            ("CLASS", Align::Right),
            ("CAPACITY", Align::Right),
            ("CARVED", Align::Right),
            ("FREE", Align::Right),
            ("IN USE", Align::Right),
            ("IN USE BYTES", Align::Right),
        ]);
        for c in &alloc.classes {
            let used = c.carved.saturating_sub(c.free);
            t.row(vec![
                c.class.to_string(),
                format::bytes(c.capacity),
                c.carved.to_string(),
                c.free.to_string(),
                used.to_string(),
                format::bytes(used * c.block_len),
            ]);
        }
        write!(out, "{}", t.render("  "))?;
    }
    writeln!(out, "\nattached processes")?;
    if probe.live_slots().count() == 0 {
        writeln!(out, "  (none besides this command)")?;
    } else {
        let mut t = Table::new(&[
            ("PID", Align::Right),
            ("SLOT", Align::Right),
            ("ATTACHED", Align::Left),
            ("COMMAND", Align::Left),
        ]);
        for s in probe.live_slots() {
            t.row(vec![
                s.pid.to_string(),
                s.slot.to_string(),
                format::ago(s.attached_unix_ns),
                process_name(s).unwrap_or_else(|| "(not visible)".into()),
            ]);
        }
        write!(out, "{}", t.render("  "))?;
    }
    let dead = probe.dead_slots().count();
    if dead > 0 {
        writeln!(
            out,
            "  {dead} dead processes' slots were reclaimed on attach"
        )?;
    }
    writeln!(out, "\nobjects")?;
    if objs.is_empty() {
        writeln!(out, "  (none)")?;
    } else {
        write!(out, "{}", objects_table(&objs).render("  "))?;
    }
    Ok(exit::OK)
}

fn objects_table(objs: &[ObjectListing]) -> Table {
    let mut t = Table::new(&[
        ("NAME", Align::Left),
        ("KIND", Align::Left),
        ("ENTRIES", Align::Right),
        ("NOTE", Align::Left),
    ]);
    for o in objs {
        t.row(vec![
            o.name.clone(),
            o.kind.clone(),
            o.entries.map(|n| n.to_string()).unwrap_or_default(),
            o.error.clone().unwrap_or_default(),
        ]);
    }
    t
}

fn store_json(store: &Store, probe: &Probe, alloc: &AllocStats, objs: &[ObjectListing]) -> Json {
    let h = store.header();
    let reg = store.registry_counters();
    let classes = alloc
        .classes
        .iter()
        .map(|c| {
            json::obj([
                ("class", Json::from(c.class)),
                ("capacity", Json::from(c.capacity)),
                ("carved", Json::from(c.carved)),
                ("free", Json::from(c.free)),
            ])
        })
        .collect();
    let procs = probe.live_slots().map(process_json).collect();
    let objects = objs
        .iter()
        .map(|o| {
            json::obj([
                ("name", Json::from(o.name.clone())),
                ("kind", Json::from(o.kind.clone())),
                ("entries", Json::from(o.entries)),
            ])
        })
        .collect();
    json::obj([
        ("path", Json::from(store.path().display().to_string())),
        ("format_version", Json::from(h.format_version)),
        ("hash_seed", Json::from(h.hash_seed)),
        ("created_unix_ns", Json::from(h.created_unix_ns)),
        ("reserved_bytes", Json::from(h.reserved_len)),
        ("committed_bytes", Json::from(store.committed_len())),
        ("disk_bytes", Json::from(probe.disk_bytes)),
        ("grow_count", Json::from(store.grow_count())),
        ("registry_slots", Json::from(h.registry_slots)),
        ("attach_count", Json::from(reg.attaches)),
        ("reclaimed_count", Json::from(reg.reclaimed)),
        (
            "allocator",
            json::obj([
                ("heap_bytes", Json::from(alloc.heap_bytes)),
                ("used_bytes", Json::from(alloc.used_bytes)),
                ("free_bytes", Json::from(alloc.free_bytes)),
                ("classes", Json::Array(classes)),
            ]),
        ),
        ("processes", Json::Array(procs)),
        ("objects", Json::Array(objects)),
    ])
}
