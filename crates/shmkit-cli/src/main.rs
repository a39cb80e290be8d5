//! The `shmkit` command: list, inspect, check, clean and benchmark shmkit stores.
//!
//! Invariants: every outcome is an exit code from [`error::exit`] and, on failure, one
//! message line on stderr (plus an optional hint) — never a panic trace for bad input; output
//! meant for scripts (`--json`, `dump`) goes to stdout, everything else about failures to
//! stderr. A closed stdout (`shmkit dump ... | head`) ends the command quietly.
//!
//! ```text
//! $ shmkit ls
//! $ shmkit stat cache
//! $ shmkit check --repair cache
//! ```
#![forbid(unsafe_code)]

mod bench;
mod bytes_text;
mod cli;
mod cmd;
mod discover;
mod error;
mod format;
mod inventory;
mod json;
mod object_stats;
mod objects;
mod probe;
mod remove;
mod typed;

use clap::Parser;
use cli::{Cli, Command};
use error::{CliResult, exit};
use std::io::Write;

fn run(cli: Cli) -> CliResult {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let code = match &cli.command {
        Command::Ls(a) => cmd::ls::run(a, &mut out),
        Command::Stat(a) => cmd::stat::run(a, &mut out),
        Command::Dump(a) => cmd::dump::run(a, &mut out),
        Command::Get(a) => cmd::kv::get(a, &mut out),
        Command::Set(a) => cmd::kv::set(a, &mut out),
        Command::Del(a) => cmd::kv::del(a, &mut out),
        Command::Push(a) => cmd::queue::push(a, &mut out),
        Command::Pop(a) => cmd::queue::pop(a, &mut out),
        Command::Len(a) => cmd::queue::len(a, &mut out),
        Command::Check(a) => cmd::check::run(a, &mut out),
        Command::Gc(a) => cmd::gc::run(a, &mut out),
        Command::Rm(a) => cmd::rm::run(a, &mut out, &mut std::io::stderr()),
        Command::Bench(a) => bench::run(a, &mut out),
        Command::BenchWorker(a) => bench::worker(a),
    }?;
    out.flush()?;
    Ok(code)
}

fn main() {
    // Messages, not panic traces: a panic is a bug, but the user still gets one line.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("shmkit: internal error: {info}");
        eprintln!("hint: this is a bug in shmkit; please report it with the command line used");
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::USAGE
            } else {
                exit::OK
            };
            let _ = e.print();
            std::process::exit(code as i32);
        }
    };
    let code = match run(cli) {
        Ok(code) => code,
        Err(e) if e.quiet => e.code,
        Err(e) => {
            let _ = std::io::stdout().flush();
            eprintln!("shmkit: {}", e.message);
            if let Some(h) = &e.hint {
                eprintln!("hint: {h}");
            }
            e.code
        }
    };
    std::process::exit(code as i32);
}
