//! `shmkit rm STORE... [--force]`: removes stores, refusing one in use unless forced.
//!
//! Invariants: each store is handled on its own (one failure does not stop the others); the
//! exit code is 0 if every store was removed, otherwise the code of the last failure (6 for a
//! store in use).
//!
//! ```text
//! $ shmkit rm cache
//! removed cache
//! ```

use crate::cli::RmArgs;
use crate::discover;
use crate::error::{CliError, CliResult, exit};
use crate::remove::{Removed, remove_store};
use std::io::Write;

/// Runs `shmkit rm`. Failures of single stores are reported on `err`.
pub fn run(args: &RmArgs, out: &mut impl Write, err: &mut impl Write) -> CliResult {
    let mut code = exit::OK;
    let report = |e: CliError, err: &mut dyn Write| -> Result<u8, CliError> {
        writeln!(err, "shmkit: {}", e.message)?;
        if let Some(h) = e.hint {
            writeln!(err, "hint: {h}")?;
        }
        Ok(e.code)
    };
    for name in &args.stores {
        if let Err(e) = shmkit::store::name::resolve(name) {
            code = report(CliError::usage(e.to_string()), err)?;
            continue;
        }
        let file = discover::from_arg(name);
        match remove_store(&file, args.force) {
            Ok(Removed::Yes) => writeln!(out, "removed {name}")?,
            Ok(Removed::InUse) => {
                code = report(
                    CliError::new(exit::IN_USE, format!("store {name} is in use by another process; not removed"))
                        .hint(format!("`shmkit stat {name}` shows who; `shmkit rm --force {name}` removes it anyway (attached processes keep working on it)")),
                    err,
                )?;
            }
            Err(e) => code = report(e, err)?,
        }
    }
    Ok(code)
}
