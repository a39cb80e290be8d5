//! One module per subcommand. Each exposes `run(args, out) -> CliResult`, writes its normal
//! output to `out` (stdout) and returns an exit code, or a [`crate::error::CliError`].
//!
//! ```text
//! shmkit ls | stat | dump | get | set | del | push | pop | len | check | gc | rm | bench
//! ```

pub mod array;
pub mod check;
pub mod dump;
pub mod element;
pub mod element_args;
pub mod gc;
pub mod kv;
pub mod ls;
pub mod queue;
pub mod rm;
pub mod stat;
