//! Errors of the `shmkit` command and the exit codes they map to.
//!
//! Every failure reaches `main` as a [`CliError`]: a one-line message, an optional hint (what
//! to run next), and an exit code from [`exit`]. Library errors are classified here once, so
//! every subcommand reports "unknown store", "not a store", "permission denied" and
//! "corrupt store" the same way.
//!
//! ```text
//! $ shmkit stat nosuch; echo $?
//! shmkit: no store named nosuch (/dev/shm/shmkit.nosuch does not exist)
//! hint: `shmkit ls` lists the stores
//! 3
//! ```

use shmkit::{AllocError, CreateError, DirectoryError, MapError, OpenError};
use std::io;

/// Exit codes (documented in `shmkit --help`).
pub mod exit {
    /// Success (for `check`: the store is clean).
    pub const OK: u8 = 0;
    /// A negative answer: `check` found problems, `get`/`del` found no such key.
    pub const NEGATIVE: u8 = 1;
    /// Bad command line (unknown option, value that does not parse, invalid name).
    pub const USAGE: u8 = 2;
    /// No such store, object or file.
    pub const NOT_FOUND: u8 = 3;
    /// Not a shmkit store, or a corrupt or unsupported one.
    pub const BAD_STORE: u8 = 4;
    /// Permission denied.
    pub const PERMISSION: u8 = 5;
    /// The store is in use by another process (`rm` without `--force`).
    pub const IN_USE: u8 = 6;
    /// Any other failure (system error, store full, benchmark verification failed).
    pub const FAILURE: u8 = 10;
    /// Interrupted by a signal (Ctrl-C).
    pub const INTERRUPTED: u8 = 130;
}

/// A failure of the command, ready to be printed.
#[derive(Debug)]
pub struct CliError {
    /// Exit code.
    pub code: u8,
    /// What went wrong (one line, no trailing period).
    pub message: String,
    /// What to do about it, if anything useful can be said.
    pub hint: Option<String>,
    /// Print nothing (stdout was closed by the reader, e.g. `shmkit dump | head`).
    pub quiet: bool,
}

impl CliError {
    /// An error with a code and message.
    pub fn new(code: u8, message: impl Into<String>) -> CliError {
        CliError {
            code,
            message: message.into(),
            hint: None,
            quiet: false,
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }

    /// A bad command line.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(exit::USAGE, message)
    }

    /// A generic failure.
    pub fn failure(message: impl Into<String>) -> CliError {
        CliError::new(exit::FAILURE, message)
    }

    /// A store whose contents are damaged.
    pub fn corrupt(store: &str, what: impl std::fmt::Display) -> CliError {
        CliError::new(exit::BAD_STORE, format!("store {store} looks corrupt: {what}"))
            .hint(format!("run `shmkit check {store}` for details, `shmkit check --repair {store}` to fix what can be fixed"))
    }

    /// Classifies a failure to open the store named `store`.
    pub fn open(store: &str, e: OpenError) -> CliError {
        match e {
            OpenError::InvalidName(n) => CliError::usage(format!("{n}")),
            OpenError::NotFound { path } => {
                CliError::new(exit::NOT_FOUND, format!("no store named {store} ({} does not exist)", path.display()))
                    .hint("`shmkit ls` lists the stores")
            }
            OpenError::PermissionDenied { path } => CliError::new(
                exit::PERMISSION,
                format!("permission denied: {} (stores are created with mode 0600 for their owner)", path.display()),
            ),
            e @ (OpenError::Empty { .. } | OpenError::NotAStore { .. }) => {
                CliError::new(exit::BAD_STORE, e.to_string())
            }
            e @ OpenError::UnsupportedVersion { .. } => CliError::new(exit::BAD_STORE, e.to_string()),
            e @ (OpenError::Truncated { .. }
            | OpenError::HeaderChecksum { .. }
            | OpenError::CorruptHeader { .. }) => CliError::new(exit::BAD_STORE, e.to_string())
                .hint(format!("run `shmkit check {store}` for details; a store with a damaged header cannot be repaired, only removed (`shmkit rm {store}`)")),
            e => CliError::failure(e.to_string()),
        }
    }

    /// Classifies a failure to create the store named `store`.
    pub fn create(store: &str, e: CreateError) -> CliError {
        match e {
            CreateError::InvalidName(n) => CliError::usage(n.to_string()),
            CreateError::Open(o) => CliError::open(store, o),
            CreateError::PermissionDenied { path } => CliError::new(
                exit::PERMISSION,
                format!("permission denied creating {}", path.display()),
            ),
            e => CliError::failure(e.to_string()),
        }
    }

    /// Classifies a hash-map failure.
    pub fn map(store: &str, e: MapError) -> CliError {
        match e {
            MapError::Directory(d) => CliError::directory(store, d),
            MapError::Alloc(a) => CliError::alloc(store, a),
            e @ MapError::Corrupt { .. } => CliError::corrupt(store, e),
            e @ (MapError::KeyTooLarge { .. }
            | MapError::ValueTooLarge { .. }
            | MapError::InvalidOptions(_)) => CliError::usage(e.to_string()),
            e => CliError::failure(format!("store {store}: {e}")),
        }
    }

    /// Classifies a directory (object lookup) failure.
    pub fn directory(store: &str, e: DirectoryError) -> CliError {
        match e {
            DirectoryError::NotFound(name) => CliError::new(
                exit::NOT_FOUND,
                format!("store {store} has no object named {name:?}"),
            )
            .hint(format!("`shmkit stat {store}` lists its objects")),
            e @ DirectoryError::WrongKind { .. } => CliError::usage(e.to_string()),
            e @ DirectoryError::InvalidName { .. } => CliError::usage(e.to_string()),
            DirectoryError::Alloc(a) => CliError::alloc(store, a),
            DirectoryError::OutOfBounds(o) => CliError::corrupt(store, o),
            e => CliError::failure(e.to_string()),
        }
    }

    /// Classifies an allocation failure.
    pub fn alloc(store: &str, e: AllocError) -> CliError {
        match e {
            e @ (AllocError::Corrupt { .. } | AllocError::OutOfBounds(_)) => {
                CliError::corrupt(store, e)
            }
            e => CliError::failure(format!("store {store}: {e}")),
        }
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> CliError {
        if e.kind() == io::ErrorKind::BrokenPipe {
            return CliError {
                code: exit::OK,
                message: String::new(),
                hint: None,
                quiet: true,
            };
        }
        CliError::failure(e.to_string())
    }
}

/// Result of a subcommand: the exit code on success.
pub type CliResult = Result<u8, CliError>;
