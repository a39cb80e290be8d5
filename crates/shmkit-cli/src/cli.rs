//! The command line: subcommands and their options (clap derive). The help texts here are
//! the user documentation of the command.
//!
//! ```text
//! shmkit ls [--json] [PATH...]
//! shmkit stat STORE [OBJECT] [--json]
//! shmkit dump STORE OBJECT [--raw] [--sort] [--start KEY] [--stop KEY] [--key-type T]
//! shmkit get|set|del STORE MAP KEY [VALUE] [--type T] [--key-type T] [--raw] [--hex]
//! shmkit get|set STORE VECTOR INDEX [VALUE]
//! shmkit check STORE [--repair] [--json]
//! shmkit gc [--remove-unused] [--dry-run] [--json]
//! shmkit rm STORE... [--force]
//! shmkit bench [--kind K]... [--keys N] [--value-size B] [--processes P] [--duration S] [--json]
//! ```

use crate::typed::ArgType;
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;

const EXIT_CODES: &str = "\
Stores are named like the library names them: a plain name means $SHMKIT_DIR/shmkit.NAME
(default directory /dev/shm); anything containing '/' is a file path.

Exit codes:
  0    success (check: the store is clean)
  1    negative answer: check found problems; get/del: no such key
  2    bad command line
  3    no such store, object or file
  4    not a shmkit store, or a corrupt or unsupported one
  5    permission denied
  6    store in use by another process (rm without --force)
  10   other failure
  130  interrupted (Ctrl-C)";

/// See, check, clean and benchmark shmkit shared-memory stores.
#[derive(Debug, Parser)]
#[command(name = "shmkit", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List stores: sizes, objects, attached processes, stale state.
    Ls(LsArgs),
    /// Show a store's header, allocator usage, processes and objects, or one object's statistics.
    Stat(StatArgs),
    /// Print an object's items as JSON lines (a map's entries, a vector's elements).
    Dump(DumpArgs),
    /// Print the value of one key of a hash map or an ordered map, or one element of an
    /// atomic vector or array.
    Get(GetArgs),
    /// Set one key of a hash map or an ordered map, or one element of an atomic vector or
    /// array.
    Set(SetArgs),
    /// Delete one key of a hash map or an ordered map.
    Del(DelArgs),
    /// Push values onto a deque (the back, or the front with --front) or a priority queue.
    Push(PushArgs),
    /// Pop values from a deque (the front, or the back with --back) or the smallest from a
    /// priority queue, waiting with --timeout.
    Pop(PopArgs),
    /// Print the number of items of an object (a deque's items, a map's entries, ...).
    Len(LenArgs),
    /// Check every structure of a store; with --repair, fix what can be fixed.
    Check(CheckArgs),
    /// Clean dead processes' state in every store; optionally remove stores nobody uses.
    Gc(GcArgs),
    /// Remove stores (refuses a store in use unless --force).
    Rm(RmArgs),
    /// Benchmark each kind of object with several processes against its std counterpart.
    Bench(crate::bench::BenchArgs),
    /// One process of `shmkit bench` (started by it).
    #[command(hide = true)]
    BenchWorker(crate::bench::WorkerArgs),
}

/// `shmkit ls`.
#[derive(Debug, Args)]
#[command(after_help = "\
Without PATHS, lists every shmkit.* file in the store directory ($SHMKIT_DIR, default /dev/shm)
and leftover temporary files (.shmkit-tmp.*). With PATHS, lists those: store names, store
files, or directories to scan. Files that are not stores are listed as such.

STATUS shows 'ok', or what needs attention: dead processes' registry slots, locks held by
dead processes, leftover temporary files. `shmkit gc` cleans these up.

ls reads each file's header and process registry without attaching, then attaches for a
moment to read the objects. It changes no data, but attaching reclaims dead processes'
registry slots (every attach does), so a dead process is reported once.")]
pub struct LsArgs {
    /// Store names, store files or directories (default: the store directory).
    pub paths: Vec<String>,
    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `shmkit stat`.
#[derive(Debug, Args)]
pub struct StatArgs {
    /// Store name or path.
    pub store: String,
    /// Show only this object's statistics.
    pub object: Option<String>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `shmkit check`.
#[derive(Debug, Args)]
#[command(after_help = "\
Checks the header, the allocator (every block, every free list), the directory, the locks,
and every hash map (its own consistency check), and looks for memory no structure reaches.
Exit code 0 only when the store is clean; 1 when problems were found (or remain after
--repair); 3/4/5 when the store cannot be opened.

--repair takes over dead processes' locks, finishes or undoes what they left half-done,
relinks leaked free blocks, and frees blocks allocated but reachable from no structure. The
last step runs only when no other process is attached (an attached process may be about to
publish a block it just allocated); otherwise it is skipped and said so.
A damaged header cannot be repaired: such a store can only be removed.")]
pub struct CheckArgs {
    /// Store name or path.
    pub store: String,
    /// Fix what can be fixed, then check again.
    #[arg(long)]
    pub repair: bool,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `shmkit gc`.
#[derive(Debug, Args)]
#[command(after_help = "\
For every store in the store directory ($SHMKIT_DIR, default /dev/shm): reclaims registry
slots of processes that died while attached, and repairs locks they held. Removes leftover
temporary files of store creation older than a minute.

With --remove-unused, also removes every store that no live process has attached; stores
created with the remove-when-unused option are removed so even without it. A store in use
is never removed.")]
pub struct GcArgs {
    /// Also remove stores that no live process has attached.
    #[arg(long)]
    pub remove_unused: bool,
    /// Say what would be done, change nothing.
    #[arg(long, short = 'n')]
    pub dry_run: bool,
    /// Print one JSON document instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `shmkit rm`.
#[derive(Debug, Args)]
#[command(after_help = "\
Removes the store's name. Processes still attached keep working on it; its memory is freed
when the last one detaches. Without --force, a store another process has attached is left
alone (exit code 6). Files that are not shmkit stores are never removed.")]
pub struct RmArgs {
    /// Store names or paths.
    #[arg(required = true)]
    pub stores: Vec<String>,
    /// Remove even if processes are attached.
    #[arg(long, short = 'f')]
    pub force: bool,
}

const VALUE_FORMS: &str = "\
Values are shown through the typed value encoding shared with Python and C: a stored value
that decodes as a typed value is shown as that value, anything else as raw bytes. In JSON:
  str \"text\"   int 42   float 1.5 ({\"float\":\"nan\"|\"inf\"|\"-inf\"})   bool true   null null
  bytes {\"bytes\":\"<base64>\"}   big int {\"int\":\"<decimal>\"}   Python pickle {\"pickle\":\"<base64>\"}
  other language {\"foreign\":<id>,\"data\":\"<base64>\"}   undecodable or --raw {\"raw\":\"<base64>\"}
An atomic vector's elements are int64 numbers, one {\"value\": N} line each, in index order.
An array's elements are decoded by their element type: a number or text, a list for a
sub-array, an object of the fields for a record ({\"value\": {\"x\": 1.5, \"id\": 7}}).
An ordered map's entries come in key order, each key shown as the typed value its ordered key
decodes to (a tuple as a JSON list: [\"user\", 7]); --start/--stop dump a key range of it:
  shmkit dump app scores --start 10 --stop 20 --key-type int     # 10 <= key < 20";

const TYPING: &str = "\
Keys and values on the command line are UTF-8 strings stored as typed str values (what a
Python program using the same map reads back as str), unless typed otherwise:
  --key-type / --type  str (default), int, float, bool, null, bytes (typed bytes), raw
                       (the bytes as they are, no type tag)
  --raw                key and value are raw bytes (same as --key-type raw --type raw; get
                       prints the stored bytes exactly)
  --hex                bytes and raw arguments are given as hex digits
  set --stdin          the value is all of standard input (typed as --type says)
Examples:
  shmkit set cache users alice 'Alice Smith'
  shmkit set cache counters hits 0 --type int
  shmkit get cache counters hits                # prints 0
  shmkit set cache blobs k 00ff10 --type raw --hex
  shmkit set cache blobs logo --type bytes --stdin < logo.png
  shmkit del cache users alice

On an atomic vector (the store's directory says which kind OBJECT is), KEY is an element
index, negative counting from the end (-1 is the last element), and VALUE an int64:
  shmkit set app counters 0 42
  shmkit get app counters -1                    # the last element, a number
An index outside the vector or a VALUE beyond int64 is an error (exit 2); --raw, --hex and
types other than int do not apply; del refuses (a vector has no keys). set --create creates a
hash map when OBJECT does not exist (vectors are made by programs, with their length).

On an array, KEY is a flat index (C order, negative from the end) or a multi-index i,j (one
number per dimension; put `--` before one that starts with a minus), and VALUE a number or
text for an array of scalars, a JSON object of the fields (or a list of their values) for an
array of records:
  shmkit set app grid 1,2 2.5
  shmkit set app points -1 '{\"x\": 1.5, \"y\": -2, \"id\": 7, \"flag\": 1}'
  shmkit get app points -1                      # {\"x\":1.5,\"y\":-2.0,\"id\":7,\"flag\":1}
A bad index or a value the element cannot hold (wrong type, out of range, too long, a missing
or unknown field) is an error (exit 2) and nothing is written; del refuses.

On an ordered map, KEY is typed as for a hash map and stored as its ordered key, what
Python's OrderedMap keys the same value by (numbers in numeric order across int and float,
then bytes, then str; --raw or --key-type raw: the bytes as they are); values as for a hash
map:
  shmkit set app scores -5 low --key-type int
  shmkit dump app scores                        # keys in order: -5, 3, 10, \"a\", ...";

const QUEUE_HELP: &str = "\
Values are typed as for set (default: a typed str, which Python's Deque and Queue read back as
str; --type int, float, bool, null, bytes, raw; --hex for bytes and raw). push adds its VALUEs
in order; pop prints each item as get prints a value (--json: one JSON line per item, as
get --json prints a value). Both wait only with --timeout (seconds): push for room in a full bounded
deque, pop for an item. pop exits with 1 when no item came, push with 1 when the deque stayed
full (items pushed before that stay pushed).
On a priority queue, push keys each value by its order (numbers numerically, int and float
alike, then bytes, then str: what Python's PriorityQueue gives the same value; with --type raw
by its bytes) and pop takes the smallest; equal values pop in push order.
Examples:
  shmkit push app jobs resize-1 resize-2
  shmkit push app jobs 42 --type int --front
  shmkit pop app jobs --timeout 5               # waits up to 5 s for an item
  shmkit pop app jobs --count 10 --json
  shmkit len app jobs";

/// `shmkit push`.
#[derive(Debug, Args)]
#[command(after_help = QUEUE_HELP, allow_negative_numbers = true)]
pub struct PushArgs {
    /// Store name or path.
    pub store: String,
    /// Deque name.
    pub object: String,
    /// The values, pushed in order.
    #[arg(required_unless_present = "stdin")]
    pub values: Vec<OsString>,
    /// Push at the front (appendleft) instead of the back.
    #[arg(long)]
    pub front: bool,
    /// How the values are typed.
    #[arg(long = "type", short = 't', value_enum, default_value_t = ArgType::Str)]
    pub value_type: ArgType,
    /// Arguments of type bytes or raw are given as hex digits.
    #[arg(long)]
    pub hex: bool,
    /// Push all of standard input as one value (typed as --type says).
    #[arg(long, conflicts_with = "values")]
    pub stdin: bool,
    /// Seconds to wait for room in a full bounded deque (default: not at all).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Create the store and the deque if they do not exist (unbounded).
    #[arg(long)]
    pub create: bool,
    /// Whose stores may be used.
    #[command(flatten)]
    pub access: Access,
}

/// `shmkit pop`.
#[derive(Debug, Args)]
#[command(after_help = QUEUE_HELP)]
pub struct PopArgs {
    /// Store name or path.
    pub store: String,
    /// Deque name.
    pub object: String,
    /// Pop at the back (pop) instead of the front (popleft: first in, first out).
    #[arg(long)]
    pub back: bool,
    /// Pop up to this many items (in one lock hold).
    #[arg(long, default_value_t = 1)]
    pub count: usize,
    /// Seconds to wait for an item (default: not at all).
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Print each item as a JSON line.
    #[arg(long)]
    pub json: bool,
    /// Print the stored bytes exactly (no type tag removed).
    #[arg(long, conflicts_with = "json")]
    pub raw: bool,
    /// Whose stores may be used.
    #[command(flatten)]
    pub access: Access,
}

/// `shmkit len`.
#[derive(Debug, Args)]
pub struct LenArgs {
    /// Store name or path.
    pub store: String,
    /// Object name (any kind with a count).
    pub object: String,
    /// Whose stores may be used.
    #[command(flatten)]
    pub access: Access,
}

/// `shmkit dump`.
#[derive(Debug, Args)]
#[command(after_help = VALUE_FORMS)]
pub struct DumpArgs {
    /// Store name or path.
    pub store: String,
    /// Object name (any kind).
    pub object: String,
    /// Show keys and values as raw bytes (base64), without decoding.
    #[arg(long)]
    pub raw: bool,
    /// Sort by key bytes, an atomic vector's elements by number (holds all items in memory);
    /// default is the object's own order (a vector's: by index; an ordered map's: by key).
    #[arg(long)]
    pub sort: bool,
    /// An ordered map only: the entries from this key on (inclusive; typed by --key-type).
    #[arg(long, allow_hyphen_values = true)]
    pub start: Option<OsString>,
    /// An ordered map only: the entries before this key (exclusive; typed by --key-type).
    #[arg(long, allow_hyphen_values = true)]
    pub stop: Option<OsString>,
    /// How --start and --stop are typed (as get's --key-type).
    #[arg(long, value_enum, default_value_t = ArgType::Str)]
    pub key_type: ArgType,
    /// --start and --stop of type bytes or raw are given as hex digits.
    #[arg(long)]
    pub hex: bool,
    /// Whose stores may be used.
    #[command(flatten)]
    pub access: Access,
}

/// Whose stores a data command (get, set, del, dump) may use.
#[derive(Debug, Args)]
pub struct Access {
    /// Use a store owned by another user (refused by default: its owner controls what it
    /// holds). Maintenance commands (ls, stat, check, gc, rm) look at every user's stores.
    #[arg(long)]
    pub allow_foreign_owner: bool,
}

/// How keys (and values) are typed on the command line.
#[derive(Debug, Args)]
pub struct Typing {
    /// How KEY is typed.
    #[arg(long, value_enum, default_value_t = ArgType::Str, conflicts_with = "raw")]
    pub key_type: ArgType,
    /// Key and value are plain bytes: no type tag is added or removed.
    #[arg(long)]
    pub raw: bool,
    /// Arguments of type bytes or raw are given as hex digits.
    #[arg(long)]
    pub hex: bool,
}

/// `shmkit get`.
#[derive(Debug, Args)]
#[command(after_help = TYPING, allow_negative_numbers = true)]
pub struct GetArgs {
    /// Store name or path.
    pub store: String,
    /// Object name: a hash map, an ordered map, an atomic vector or an array.
    pub object: String,
    /// The key (of an atomic vector or array: the element index, negative from the end; of
    /// an array also i,j,...).
    pub key: OsString,
    /// Key typing.
    #[command(flatten)]
    pub typing: Typing,
    /// Print the value as JSON (see `shmkit dump --help` for the forms).
    #[arg(long, conflicts_with = "raw")]
    pub json: bool,
    /// Whose stores may be used.
    #[command(flatten)]
    pub access: Access,
}

/// `shmkit set`.
#[derive(Debug, Args)]
#[command(after_help = TYPING, allow_negative_numbers = true)]
pub struct SetArgs {
    /// Store name or path.
    pub store: String,
    /// Object name: a hash map, an ordered map, an atomic vector or an array.
    pub object: String,
    /// The key (of an atomic vector or array: the element index, negative from the end; of
    /// an array also i,j,...).
    pub key: OsString,
    /// The value (may be omitted with --type null; of an atomic vector: an int64; of an
    /// array: a number, text, or a JSON object of the fields).
    pub value: Option<OsString>,
    /// Key typing.
    #[command(flatten)]
    pub typing: Typing,
    /// How VALUE is typed.
    #[arg(long = "type", short = 't', value_enum, default_value_t = ArgType::Str, conflicts_with = "raw")]
    pub value_type: ArgType,
    /// Read the value from standard input (all of it, exactly) instead of VALUE.
    #[arg(long, conflicts_with = "value")]
    pub stdin: bool,
    /// Create the store and the map if they do not exist (a missing OBJECT is always
    /// created as a hash map).
    #[arg(long)]
    pub create: bool,
    /// Whose stores may be used.
    #[command(flatten)]
    pub access: Access,
}

/// `shmkit del`.
#[derive(Debug, Args)]
#[command(after_help = TYPING, allow_negative_numbers = true)]
pub struct DelArgs {
    /// Store name or path.
    pub store: String,
    /// Map name (a hash map or an ordered map).
    pub object: String,
    /// The key.
    pub key: OsString,
    /// Key typing.
    #[command(flatten)]
    pub typing: Typing,
    /// Whose stores may be used.
    #[command(flatten)]
    pub access: Access,
}
