//! `shmkit dump STORE MAP`: every entry of a hash map as one JSON line
//! `{"key": K, "value": V}`, keys and values shown as [`crate::typed::to_json`] documents.
//!
//! Invariants: output is valid JSON lines whatever the bytes are (undecodable bytes are
//! base64 with a `raw` marker); the iteration is the map's weakly consistent one (an entry
//! present for the whole dump appears exactly once), streamed, unless `--sort` is given.
//!
//! ```text
//! $ shmkit dump cache users
//! {"key":"alice","value":"Alice Smith"}
//! {"key":"bob","value":{"bytes":"AAEC"}}
//! ```

use crate::cli::DumpArgs;
use crate::cmd::kv::open_map;
use crate::error::{CliError, CliResult, exit};
use crate::json::Json;
use crate::typed::to_json;
use std::io::Write;

fn line(key: &[u8], value: &[u8], raw: bool) -> Json {
    Json::obj([("key", to_json(key, raw)), ("value", to_json(value, raw))])
}

/// Runs `shmkit dump`.
pub fn run(args: &DumpArgs, out: &mut impl Write) -> CliResult {
    let map = open_map(&args.store, &args.object)?;
    let entries = map
        .iter()
        .map(|r| r.map_err(|e| CliError::map(&args.store, e)));
    if args.sort {
        let mut all = entries.collect::<Result<Vec<_>, _>>()?;
        all.sort();
        for (k, v) in all {
            writeln!(out, "{}", line(&k, &v, args.raw))?;
        }
    } else {
        for entry in entries {
            let (k, v) = entry?;
            writeln!(out, "{}", line(&k, &v, args.raw))?;
        }
    }
    Ok(exit::OK)
}
