//! What one store file is and holds, gathered once for `ls`, `stat` and `gc`: the read-only
//! [`probe`](crate::probe) (sizes, registry, liveness) taken *before* attaching, then — if
//! the file is a store — a short attachment for its objects and lock states.
//!
//! Invariants: gathering never fails and never changes data; whatever goes wrong is recorded
//! in [`FileStatus`] so one bad file never stops a listing. (Attaching does reclaim dead
//! processes' registry slots — the library does that on every attach — which is why the
//! probe is taken first and is what the stale-state report is based on.)
//!
//! ```text
//! let inv = inventory(&discover::from_arg("cache"), true);
//! if let FileStatus::Store = inv.status { for o in &inv.objects { println!("{}", o.name) } }
//! ```

use crate::discover::StoreFile;
use crate::error::CliError;
use crate::objects::{self, ObjectListing};
use crate::probe::{Probe, probe};
use shmkit::store::locks::LockState;
use std::io::ErrorKind;

/// What a file turned out to be.
#[derive(Debug)]
pub enum FileStatus {
    /// A store that opened fine.
    Store,
    /// No such file.
    Missing,
    /// A file that is not a shmkit store (message says why).
    NotAStore(String),
    /// A store that could not be opened (corrupt, unsupported, permission...).
    Unusable(CliError),
}

/// Everything `ls` shows about one file.
#[derive(Debug)]
pub struct Inventory {
    /// The file.
    pub file: StoreFile,
    /// Read-only facts from before attaching.
    pub probe: Probe,
    /// What it is.
    pub status: FileStatus,
    /// Its objects (stores only).
    pub objects: Vec<ObjectListing>,
    /// Locks held by dead processes or needing repair (stores only).
    pub lock_issues: Vec<LockState>,
}

impl Inventory {
    /// Human descriptions of stale state (empty when there is none).
    pub fn stale(&self) -> Vec<String> {
        let mut out = Vec::new();
        let dead = self.probe.dead_slots().count();
        if dead > 0 {
            let pids: Vec<String> = self.probe.dead_slots().map(|s| s.pid.to_string()).collect();
            out.push(format!(
                "{dead} dead process slot{} (pid {})",
                if dead == 1 { "" } else { "s" },
                pids.join(",")
            ));
        }
        out.extend(self.lock_issues.iter().map(LockState::describe));
        out
    }
}

/// Gathers the inventory of `file`. With `with_entries`, hash maps' entry counts are read.
pub fn inventory(file: &StoreFile, with_entries: bool) -> Inventory {
    let probe = probe(&file.path);
    let mut inv = Inventory {
        file: file.clone(),
        probe,
        status: FileStatus::Store,
        objects: Vec::new(),
        lock_issues: Vec::new(),
    };
    if let Some(e) = &inv.probe.open_error {
        let path = file.path.display();
        inv.status = match e.kind() {
            ErrorKind::NotFound => FileStatus::Missing,
            ErrorKind::PermissionDenied => FileStatus::Unusable(CliError::new(
                crate::error::exit::PERMISSION,
                format!("permission denied: {path}"),
            )),
            _ if e.raw_os_error() == Some(libc::ELOOP) => {
                FileStatus::NotAStore("a symbolic link, not a store".into())
            }
            _ => FileStatus::Unusable(CliError::failure(format!("{path}: {e}"))),
        };
        return inv;
    }
    if !inv.probe.is_file {
        inv.status = FileStatus::NotAStore("not a regular file".into());
        return inv;
    }
    if inv.probe.file_len == 0 {
        inv.status = FileStatus::NotAStore("empty file".into());
        return inv;
    }
    if !inv.probe.has_magic {
        inv.status = FileStatus::NotAStore("no shmkit header".into());
        return inv;
    }
    // The header failed the checks `Store::open` makes: say why without attaching.
    if let Some(e) = inv.probe.header_error.take() {
        inv.status = FileStatus::Unusable(CliError::open(&file.arg, e));
        return inv;
    }
    let store = match crate::discover::open_for_maintenance(&file.arg) {
        Ok(s) => s,
        Err(e) => {
            inv.status = FileStatus::Unusable(CliError::open(&file.arg, e));
            return inv;
        }
    };
    inv.lock_issues = store
        .lock_states()
        .into_iter()
        .filter(LockState::is_abandoned)
        .collect();
    match objects::list(&store, with_entries) {
        Ok(objs) => inv.objects = objs,
        Err(e) => inv.status = FileStatus::Unusable(CliError::corrupt(&file.arg, e)),
    }
    inv
}
