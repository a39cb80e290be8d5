//! One module per subcommand. Each exposes `run(args, out) -> CliResult`, writes its normal
//! output to `out` (stdout) and returns an exit code, or a [`crate::error::CliError`].
//!
//! ```text
//! shmkit ls | stat | check | gc | rm
//! ```

pub mod check;
pub mod gc;
pub mod ls;
pub mod rm;
pub mod stat;
