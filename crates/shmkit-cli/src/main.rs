//! The `shmkit` command line tool.

fn main() {
    eprintln!("shmkit: no subcommands yet");
    std::process::exit(2);
}
