//! Read-only inspection of a store file without attaching to it: the core's
//! [`shmkit::store::inspect`] (the same header validation as `Store::open`, the registry
//! with each slot's liveness), plus how the command line names and prints processes.
//!
//! ```text
//! let p = probe(Path::new("/dev/shm/shmkit.cache"));
//! p.live_slots().count()   // attached processes
//! p.dead_slots().count()   // slots of processes that died attached (not yet swept)
//! ```

pub use shmkit::store::inspect::{Inspection as Probe, SlotFacts};

/// Inspects the file at `path` (see the module docs).
pub fn probe(path: &std::path::Path) -> Probe {
    shmkit::store::inspect::inspect(path)
}

/// The command name of the process in `slot`, if it is visible in this PID namespace and
/// is the same process (its start time matches; otherwise the PID was reused or belongs to
/// another namespace).
pub fn process_name(slot: &SlotFacts) -> Option<String> {
    let start = shmkit::store::process_start_time(slot.pid);
    if start == 0 || (slot.start_time != 0 && start != slot.start_time) {
        return None;
    }
    std::fs::read_to_string(format!("/proc/{}/comm", slot.pid))
        .ok()
        .map(|s| s.trim_end().to_string())
}

/// The JSON object `ls --json` and `stat --json` print for an attached process.
pub fn process_json(slot: &SlotFacts) -> crate::json::Json {
    crate::json::obj([
        ("pid", crate::json::Json::from(slot.pid)),
        ("slot", crate::json::Json::from(slot.slot)),
        (
            "attached_unix_ns",
            crate::json::Json::from(slot.attached_unix_ns),
        ),
        ("command", crate::json::Json::from(process_name(slot))),
    ])
}
