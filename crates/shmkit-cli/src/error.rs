//! Errors of the `shmkit` command and the exit codes they map to.
//!
//! Every failure reaches `main` as a [`CliError`]: a one-line message, an optional hint (what
//! to run next), and an exit code from [`exit`]. A library error's exit code comes from its
//! [`ErrorKind`] in one place, [`exit_code_for`]; the `CliError` constructors only word the
//! message and hint, so every subcommand reports "unknown store", "not a store", "permission
//! denied" and "corrupt store" the same way.
//!
//! ```text
//! $ shmkit stat nosuch; echo $?
//! shmkit: no store named nosuch (/dev/shm/shmkit.nosuch does not exist)
//! hint: `shmkit ls` lists the stores
//! 3
//! ```

use shmkit::{CreateError, DirectoryError, ErrorKind, MapError, OpenError};
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
        CliError::new(exit_code_for(ErrorKind::Corrupt), format!("store {store} looks corrupt: {what}"))
            .hint(format!("run `shmkit check {store}` for details, `shmkit check --repair {store}` to fix what can be fixed"))
    }

    /// Classifies a failure to open the store named `store`.
    pub fn open(store: &str, e: OpenError) -> CliError {
        let code = exit_code_for(e.kind());
        match e {
            OpenError::NotFound { path } => {
                CliError::new(code, format!("no store named {store} ({} does not exist)", path.display()))
                    .hint("`shmkit ls` lists the stores")
            }
            OpenError::PermissionDenied { path } => CliError::new(
                code,
                format!("permission denied: {} (stores are created with mode 0600 for their owner)", path.display()),
            ),
            e @ OpenError::ForeignOwner { .. } => CliError::new(code, e.to_string())
                .hint("add --allow-foreign-owner if you trust the store's owner with what this command reads and writes"),
            e @ (OpenError::Truncated { .. }
            | OpenError::HeaderChecksum { .. }
            | OpenError::CorruptHeader { .. }) => CliError::new(code, e.to_string())
                .hint(format!("run `shmkit check {store}` for details; a store with a damaged header cannot be repaired, only removed (`shmkit rm {store}`)")),
            e => CliError::new(code, e.to_string()),
        }
    }

    /// Classifies a failure to create the store named `store`.
    pub fn create(store: &str, e: CreateError) -> CliError {
        match e {
            CreateError::Open(o) => CliError::open(store, o),
            e => CliError::new(exit_code_for(e.kind()), e.to_string()),
        }
    }

    /// Classifies a hash-map failure.
    pub fn map(store: &str, e: MapError) -> CliError {
        match e {
            MapError::Directory(d) => CliError::directory(store, d),
            e => CliError::in_store(store, e.kind(), e),
        }
    }

    /// Classifies a failure of any object operation reached through the generic object shape
    /// (`open_any`, `SharedObject`).
    pub fn object(store: &str, e: shmkit::Error) -> CliError {
        match e {
            shmkit::Error::Directory(d) => CliError::directory(store, d),
            shmkit::Error::Map(m) => CliError::map(store, m),
            e => CliError::in_store(store, e.kind(), e),
        }
    }

    /// Classifies a directory (object lookup) failure.
    pub fn directory(store: &str, e: DirectoryError) -> CliError {
        let code = exit_code_for(e.kind());
        match e {
            DirectoryError::NotFound(name) => {
                CliError::new(code, format!("store {store} has no object named {name:?}"))
                    .hint(format!("`shmkit stat {store}` lists its objects"))
            }
            // The directory's lock errors are reported without the store name.
            DirectoryError::Lock(l) => CliError::new(code, l.to_string()),
            e => CliError::in_store(store, e.kind(), e),
        }
    }

    /// A failure inside the store `store` (allocation, object, map), worded by its kind:
    /// damaged state as [`CliError::corrupt`], a rejected argument as it is, anything else
    /// prefixed with the store.
    fn in_store(store: &str, kind: ErrorKind, e: impl std::fmt::Display) -> CliError {
        if kind == ErrorKind::Corrupt {
            return CliError::corrupt(store, e);
        }
        match exit_code_for(kind) {
            exit::USAGE => CliError::usage(e.to_string()),
            code => CliError::new(code, format!("store {store}: {e}")),
        }
    }
}

/// The exit code of a library error of kind `kind`: the one place library errors get their
/// code (the `CliError` constructors above only choose the wording).
pub fn exit_code_for(kind: ErrorKind) -> u8 {
    match kind {
        ErrorKind::InvalidName | ErrorKind::InvalidArgument | ErrorKind::WrongKind => exit::USAGE,
        ErrorKind::StoreNotFound | ErrorKind::ObjectNotFound => exit::NOT_FOUND,
        ErrorKind::NotAStore | ErrorKind::UnsupportedVersion | ErrorKind::Corrupt => {
            exit::BAD_STORE
        }
        ErrorKind::PermissionDenied => exit::PERMISSION,
        ErrorKind::StoreExists
        | ErrorKind::WrongType
        | ErrorKind::InvalidValue
        | ErrorKind::StoreFull
        | ErrorKind::RegistryFull
        | ErrorKind::Busy
        | ErrorKind::Full
        | ErrorKind::Io => exit::FAILURE,
        // Kinds added to the library later.
        _ => exit::FAILURE,
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
