//! Shadow memory for loom (built only under `cfg(loom)`): how the real hash-map code, whose
//! atomics live in mapped store memory, runs inside a loom model.
//!
//! loom's atomics cannot sit in raw shared memory (they have another size and exist only
//! inside one model execution). So under `cfg(loom)` the facade's atomics
//! ([`crate::sync::atomic`]) stay `#[repr(transparent)]` std atomics in memory, and while a
//! model execution runs (see [`crate::sync::model`]) every operation on them, and every racy
//! byte copy of [`super::Region`], goes to a loom atomic *shadow* of that memory, kept in a
//! table for the execution. The result is written through to the real memory.
//!
//! Invariants:
//! - inside a registered store mapping, shadows are per aligned 8-byte word, whatever the
//!   width of the access: a 4-byte atomic or a byte copy is the part of its word, so accesses
//!   of different widths to the same bytes (a record block reused as a spare-list link, a
//!   table zeroed by a byte fill and read as slots) meet in one loom object. A store to part
//!   of a word is a read-modify-write of the word (loom reads the latest value for it);
//!   outside a mapping (process-local atomics), a shadow has the atomic's own width;
//! - real memory always holds the latest value (in loom's modification order) of every
//!   shadowed location: every store is written through, in the same step. A shadow is
//!   trusted only while the real memory still holds the last value written through it; if it
//!   does not (memory reinitialised outside the model, e.g. a new process-local atomic at a
//!   reused address), a fresh shadow is made from the real memory. For a word of a mapping
//!   this cannot happen while a model runs (every store to mapped memory goes through its
//!   shadow), so a stale mapped shadow there panics instead of being silently replaced;
//! - a shadow made by one model thread must not be used by another one unless loom sees the
//!   creation happen before the use (else loom reports a causality violation). So the words
//!   a model touches from more than one thread are *discovered* first (a sequential run with
//!   real atomics that records every word of a mapping it touches) and their shadows are made
//!   at the start of every execution, before any thread is spawned;
//! - a word only the model's writer thread stores (found by the discovery run: the words
//!   stored inside [`crate::sync::model::writer`]) is loaded by that thread from the real
//!   memory, without a loom operation (the *writer bypass*). Why: loom 0.7's partial-order
//!   reduction keeps only the last access of each object (`last_access` of an atomic) and
//!   backtracks a store only against that one access; a reader's load followed by a loom
//!   load of the same word by the writer and then the writer's store would show loom the
//!   writer's own load as the store's dependency, so it would never try the store before
//!   the reader's load. Without the writer's loom load, the reader's load stays the last
//!   access and the reordering is explored. This needs exactly one storing thread per owned
//!   word: then the writer's bypassed load can only return its own latest store (no other
//!   thread's store can be newer), so it loses nothing and needs no synchronisation that
//!   loom would otherwise model. Checked while a model runs: a successful store of an owned
//!   word by any other thread panics, and so does a store by the writer of a word the
//!   discovery run did not see it store (the writer's path then differs from the discovered
//!   one, so the owned set cannot be trusted). The writer is the thread that first entered
//!   `writer` in the execution, for the rest of the execution;
//! - outside a model execution (before and after `loom::model`, and while an execution is
//!   being reset) every operation goes to the real memory only, as in a normal build.
//!
//! Known weakening: a store to part of a word is modelled as a read-modify-write, which (unlike
//! a plain store) continues a release sequence; and a load of a word sees the word's stores as
//! a whole (a byte cannot come from an older store than its neighbours in the same load). The
//! same merging makes two fields that share a word (two 4-byte atomics, or an atomic and the
//! bytes of a copy) coherent with each other, as if they were one location: a load of one
//! field never returns a value older than the last store to its neighbour that the loading
//! thread has already seen, which hardware does not promise for distinct locations. A model
//! that relied on two such fields being ordered only through their word could pass here and
//! fail on hardware.
//!
//! ```ignore
//! // Only in loom builds: see tests/loom_hash_map.rs for a model over a real map.
//! ```

use loom::sync::atomic::AtomicU64 as LoomU64;
use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// What the facade does with an operation on the current thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    /// Real memory only.
    Off,
    /// Real memory, and every word of a mapping touched is recorded.
    Recording,
    /// Inside a model execution: shadows.
    Model,
}

/// Where a shadow is kept: an aligned word of a mapping (`size` 8), or a process-local
/// atomic of `size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct Key {
    addr: usize,
    size: usize,
}

struct Shadow {
    atomic: Rc<LoomU64>,
    /// The value last written through to the real memory (or read from it at creation).
    latest: u64,
}

struct State {
    mode: Mode,
    /// Words touched while recording.
    recorded: BTreeSet<usize>,
    /// Words stored by the writer (while recording: so far; in a model: as discovered).
    owned: HashSet<usize>,
    /// In a model: the thread that entered [`crate::sync::model::writer`], from then to the
    /// end of the execution (cleared by [`enter_model`]).
    writer: Option<loom::thread::ThreadId>,
    /// While recording: whether the writer's part runs.
    recording_writer: bool,
    shadows: HashMap<Key, Shadow>,
}

thread_local! {
    // loom runs all threads of a model on the thread that called it, so this is the state
    // of one model (tests run side by side on other threads keep their own).
    static STATE: RefCell<State> = RefCell::new(State {
        mode: Mode::Off,
        recorded: BTreeSet::new(),
        owned: HashSet::new(),
        writer: None,
        recording_writer: false,
        shadows: HashMap::new(),
    });
}

/// Mapped store ranges `(base, len)`, registered by [`super::Region`].
static MAPPINGS: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());

/// Registers a store mapping: atomics and copies inside it are shadowed per word.
pub(crate) fn register_mapping(base: usize, len: usize) {
    lock_mappings().push((base, len));
}

/// Forgets a store mapping that is being unmapped.
pub(crate) fn unregister_mapping(base: usize) {
    lock_mappings().retain(|&(b, _)| b != base);
}

fn lock_mappings() -> std::sync::MutexGuard<'static, Vec<(usize, usize)>> {
    MAPPINGS.lock().unwrap_or_else(|p| p.into_inner())
}

fn in_mapping(addr: usize) -> bool {
    lock_mappings()
        .iter()
        .any(|&(base, len)| addr >= base && addr - base < len)
}

fn mode() -> Mode {
    STATE.with(|s| s.borrow().mode)
}

/// True while a model execution runs on this thread (loom's fence, yield, ...).
pub(crate) fn in_model() -> bool {
    mode() == Mode::Model
}

/// Starts recording the mapped words that are touched (discovery before a model).
pub(crate) fn start_recording() {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.recorded.clear();
        s.owned.clear();
        s.mode = Mode::Recording;
    });
}

/// Stops recording; returns the addresses of the words touched (the words the writer
/// stored are kept for the model).
pub(crate) fn stop_recording() -> Vec<usize> {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.mode = Mode::Off;
        std::mem::take(&mut s.recorded).into_iter().collect()
    })
}

/// Runs `f` as the model's one writer thread (see the module docs); returns its result.
/// In a model the thread stays the writer until the execution ends: a second thread
/// entering `writer` later in the same execution panics.
pub(crate) fn as_writer<R>(f: impl FnOnce() -> R) -> R {
    let saved = STATE.with(|s| {
        let mut s = s.borrow_mut();
        let saved = s.recording_writer;
        match s.mode {
            Mode::Off => {}
            Mode::Recording => s.recording_writer = true,
            Mode::Model => {
                let me = loom::thread::current().id();
                assert!(
                    s.writer.is_none_or(|w| w == me),
                    "a model has one writer thread"
                );
                s.writer = Some(me);
            }
        }
        saved
    });
    let result = f();
    STATE.with(|s| s.borrow_mut().recording_writer = saved);
    result
}

/// While recording inside the writer's part, notes that the words of `addr..addr + len`
/// are stored by the writer.
fn note_store(s: &mut State, addr: usize, len: usize) {
    if s.recording_writer {
        for word in words(addr, len) {
            s.owned.insert(word);
        }
    }
}

/// A successful store to the mapped word `word` in a model execution: only the writer
/// stores an owned word, and the writer stores only words the discovery run saw it store
/// (see the module docs). Called only for stores that happen, not for failed exchanges.
fn check_store(word: usize) {
    STATE.with(|s| {
        let s = s.borrow();
        if s.mode != Mode::Model {
            return;
        }
        let is_writer = s.writer == Some(loom::thread::current().id());
        if s.owned.contains(&word) {
            assert!(
                is_writer,
                "a thread other than the model's writer stored the word at {word:#x}, which \
                 only the writer stored in the discovery run (the writer bypass needs one \
                 storing thread)"
            );
        } else {
            assert!(
                !is_writer,
                "the model's writer stored the word at {word:#x}, which the discovery run never \
                 saw it store (the writer's path differs from the discovered one)"
            );
        }
    });
}

/// True if the current model thread is the writer and only it stores `word` (so its load
/// is the real memory: see the module docs).
fn own_load(word: usize) -> bool {
    STATE.with(|s| {
        let s = s.borrow();
        s.writer.is_some()
            && s.owned.contains(&word)
            && s.writer == Some(loom::thread::current().id())
    })
}

/// Leaves the model: drops every shadow, real memory only from now on.
pub(crate) fn leave_model() {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.mode = Mode::Off;
        s.shadows.clear();
    });
}

/// Enters a model execution (called on loom's main thread before it spawns any thread):
/// makes the shadows of `words` from the real memory, so every thread of the execution
/// uses shadows whose creation happens before it.
pub(crate) fn enter_model(words: &[usize]) {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        s.shadows.clear();
        s.writer = None;
        s.recording_writer = false;
        for &addr in words {
            assert!(
                addr % 8 == 0 && in_mapping(addr),
                "a word discovered at {addr:#x} is no longer in a store mapping"
            );
            let real = real_word(addr);
            s.shadows.insert(
                Key { addr, size: 8 },
                Shadow {
                    atomic: Rc::new(LoomU64::new(real)),
                    latest: real,
                },
            );
        }
        s.mode = Mode::Model;
    });
}

/// The real value of the mapped word at `addr`.
fn real_word(addr: usize) -> u64 {
    assert!(
        addr % 8 == 0 && in_mapping(addr),
        "{addr:#x} is not a word of a store mapping"
    );
    // SAFETY: every word this module produces is `a & !7` for an address `a` of a byte that
    // was bounds-checked: a byte of a facade atomic the caller holds a reference to, or of a
    // copy `Region` checked against its committed length (or, in `enter_model`, a word
    // recorded that way in the discovery run, of a mapping still registered). The word and
    // that byte lie in one page (pages are 8-aligned), and a page with a committed byte has
    // file content, so the 8 bytes are readable and writable. `a & !7` is 8-aligned, as
    // `AtomicU64` needs. The mapping is still mapped: the assert above found it registered,
    // and `Region::drop` unregisters it before the mapping is unmapped. The 8-byte view may
    // overlap `AtomicU32`s or bytes of racy copies (mixed-size access, which Rust's model
    // does not define across threads): harmless here because loom runs every thread of a
    // model on one OS thread, one at a time, and no other process maps a test's store.
    unsafe { &*(addr as *const AtomicU64) }.load(Ordering::Relaxed)
}

fn write_real_word(addr: usize, value: u64) {
    assert!(
        addr % 8 == 0 && in_mapping(addr),
        "{addr:#x} is not a word of a store mapping"
    );
    // SAFETY: as in `real_word`.
    unsafe { &*(addr as *const AtomicU64) }.store(value, Ordering::Relaxed);
}

/// The shadow of `key` (whose real memory holds `real`), made if missing or stale (stale only
/// outside a mapping: a stale mapped shadow in a model panics, see the module docs).
fn shadow(key: Key, real: u64) -> Rc<LoomU64> {
    STATE.with(|s| {
        let mut s = s.borrow_mut();
        match s.shadows.get(&key) {
            Some(found) if found.latest == real => found.atomic.clone(),
            Some(found) if s.mode == Mode::Model && key.size == 8 && in_mapping(key.addr) => {
                panic!(
                    "the mapped word at {:#x} holds {real:#x}, not {:#x} as last written \
                     through its shadow: it changed outside the model during an execution",
                    key.addr, found.latest
                )
            }
            _ => {
                let atomic = Rc::new(LoomU64::new(real));
                s.shadows.insert(
                    key,
                    Shadow {
                        atomic: atomic.clone(),
                        latest: real,
                    },
                );
                atomic
            }
        }
    })
}

fn set_latest(key: Key, value: u64) {
    STATE.with(|s| {
        if let Some(found) = s.borrow_mut().shadows.get_mut(&key) {
            found.latest = value;
        }
    });
}

/// A real std atomic the facade wraps, seen as up to 64 bits.
pub(crate) trait Real {
    /// Its size in bytes.
    const SIZE: usize;
    /// Its address.
    fn addr(&self) -> usize;
    /// Its value (relaxed).
    fn get(&self) -> u64;
    /// Sets its value (relaxed; `value` fits).
    fn set(&self, value: u64);
}

impl Real for AtomicU64 {
    const SIZE: usize = 8;
    fn addr(&self) -> usize {
        self.as_ptr() as usize
    }
    fn get(&self) -> u64 {
        self.load(Ordering::Relaxed)
    }
    fn set(&self, value: u64) {
        self.store(value, Ordering::Relaxed);
    }
}

impl Real for AtomicU32 {
    const SIZE: usize = 4;
    fn addr(&self) -> usize {
        self.as_ptr() as usize
    }
    fn get(&self) -> u64 {
        self.load(Ordering::Relaxed) as u64
    }
    fn set(&self, value: u64) {
        self.store(value as u32, Ordering::Relaxed);
    }
}

impl Real for AtomicBool {
    const SIZE: usize = 1;
    fn addr(&self) -> usize {
        self.as_ptr() as usize
    }
    fn get(&self) -> u64 {
        self.load(Ordering::Relaxed) as u64
    }
    fn set(&self, value: u64) {
        self.store(value != 0, Ordering::Relaxed);
    }
}

/// Where an atomic's value sits in its shadow: the key, and the bit shift and mask of the
/// value inside the shadow's 64 bits.
#[derive(Clone, Copy)]
struct Place {
    key: Key,
    shift: u32,
    mask: u64,
    /// True for a word of a mapping (its real value is read as a whole word).
    mapped: bool,
}

impl Place {
    fn of(addr: usize, size: usize) -> Place {
        let mask = if size == 8 {
            u64::MAX
        } else {
            (1u64 << (size * 8)) - 1
        };
        if in_mapping(addr) {
            let word = addr & !7;
            Place {
                key: Key {
                    addr: word,
                    size: 8,
                },
                shift: ((addr - word) * 8) as u32,
                mask,
                mapped: true,
            }
        } else {
            Place {
                key: Key { addr, size },
                shift: 0,
                mask,
                mapped: false,
            }
        }
    }

    fn whole(&self) -> bool {
        !self.mapped || (self.shift == 0 && self.mask == u64::MAX)
    }

    fn extract(&self, word: u64) -> u64 {
        (word >> self.shift) & self.mask
    }

    fn merge(&self, word: u64, part: u64) -> u64 {
        (word & !(self.mask << self.shift)) | ((part & self.mask) << self.shift)
    }
}

/// True if a load of `real` must go to its shadow (a model execution runs); while
/// recording, notes its word and answers false (the caller then uses the real atomic).
#[inline]
pub(crate) fn routed<R: Real>(real: &R) -> bool {
    routed_access(real, false)
}

/// [`routed`] for a store or read-modify-write.
#[inline]
pub(crate) fn routed_write<R: Real>(real: &R) -> bool {
    routed_access(real, true)
}

fn routed_access<R: Real>(real: &R, store: bool) -> bool {
    match mode() {
        Mode::Off => false,
        Mode::Model => true,
        Mode::Recording => {
            let addr = real.addr();
            if in_mapping(addr) {
                STATE.with(|s| {
                    let mut s = s.borrow_mut();
                    s.recorded.insert(addr & !7);
                    if store {
                        note_store(&mut s, addr, R::SIZE);
                    }
                });
            }
            false
        }
    }
}

fn real_value<R: Real>(real: &R, place: &Place) -> u64 {
    if place.mapped {
        real_word(place.key.addr)
    } else {
        real.get()
    }
}

/// A load of `real` through its shadow.
pub(crate) fn load<R: Real>(real: &R, order: Ordering) -> u64 {
    let place = Place::of(real.addr(), R::SIZE);
    if place.mapped && own_load(place.key.addr) {
        return place.extract(real_word(place.key.addr));
    }
    let atomic = shadow(place.key, real_value(real, &place));
    place.extract(atomic.load(order))
}

/// A store to `real` through its shadow.
pub(crate) fn store<R: Real>(real: &R, value: u64, order: Ordering) {
    let place = Place::of(real.addr(), R::SIZE);
    if place.whole() {
        let atomic = shadow(place.key, real_value(real, &place));
        if place.mapped {
            check_store(place.key.addr);
        }
        atomic.store(value, order);
        set_latest(place.key, value);
        real.set(value);
    } else {
        let failure = match order {
            Ordering::SeqCst => Ordering::SeqCst,
            _ => Ordering::Relaxed,
        };
        let _ = rmw(real, order, failure, |_| Some(value));
    }
}

/// A read-modify-write of `real` through its shadow: `f` sees the current value and returns
/// the new one (`Ok(old)`), or `None` to leave it (`Err(current)`, a failed exchange with
/// ordering `failure`).
pub(crate) fn rmw<R: Real>(
    real: &R,
    success: Ordering,
    failure: Ordering,
    mut f: impl FnMut(u64) -> Option<u64>,
) -> Result<u64, u64> {
    let place = Place::of(real.addr(), R::SIZE);
    loop {
        // The real memory holds the latest value, which is what loom's exchange reads.
        let current = real_value(real, &place);
        let atomic = shadow(place.key, current);
        let old = place.extract(current);
        match f(old) {
            Some(new) => {
                let word = place.merge(current, new);
                if atomic
                    .compare_exchange(current, word, success, failure)
                    .is_ok()
                {
                    if place.mapped {
                        check_store(place.key.addr);
                    }
                    set_latest(place.key, word);
                    real.set(new & place.mask);
                    return Ok(old);
                }
                // Another model thread wrote meanwhile (its value is in real memory now).
            }
            None => {
                // A failed exchange: loom reads the latest value with `failure` ordering.
                // (`Err` with another value: a thread stored between the read above and
                // this exchange; read again. `Ok` would need that store to be exactly
                // `!current`, which no model does: treated as a broken assumption.)
                match atomic.compare_exchange(!current, !current, success, failure) {
                    Err(seen) if seen == current => return Err(old),
                    Ok(_) => unreachable!(
                        "a failed exchange of the word at {:#x} succeeded: another thread \
                         stored {:#x}, the complement of the value {current:#x} just read",
                        place.key.addr, !current
                    ),
                    Err(_) => {}
                }
            }
        }
    }
}

/// True if racy copies at `addr..addr + len` (`store`: into memory) must go through
/// shadows; while recording, notes the words.
pub(crate) fn copies_routed(addr: usize, len: usize, store: bool) -> bool {
    match mode() {
        Mode::Off => false,
        Mode::Model => true,
        Mode::Recording => {
            STATE.with(|s| {
                let mut s = s.borrow_mut();
                for word in words(addr, len) {
                    s.recorded.insert(word);
                }
                if store {
                    note_store(&mut s, addr, len);
                }
            });
            false
        }
    }
}

/// The aligned words covering `addr..addr + len`.
fn words(addr: usize, len: usize) -> impl Iterator<Item = usize> {
    let first = addr & !7;
    let end = addr + len;
    (first..end).step_by(8)
}

/// The part of the word at `word` that lies in `addr..addr + len`: its first byte index in
/// the word and the offset of that byte in the range.
fn overlap(word: usize, addr: usize, len: usize) -> (usize, usize, usize) {
    let start = word.max(addr);
    let end = (word + 8).min(addr + len);
    (start - word, end - start, start - addr)
}

/// A racy copy out of shared memory through shadows (relaxed word loads).
pub(crate) fn read_bytes(addr: usize, out: &mut [u8]) {
    for word in words(addr, out.len()) {
        let value = if own_load(word) {
            real_word(word)
        } else {
            shadow(
                Key {
                    addr: word,
                    size: 8,
                },
                real_word(word),
            )
            .load(Ordering::Relaxed)
        };
        let value = value.to_le_bytes();
        let (at, n, into) = overlap(word, addr, out.len());
        out[into..into + n].copy_from_slice(&value[at..at + n]);
    }
}

/// A racy compare through shadows.
pub(crate) fn bytes_equal(addr: usize, expected: &[u8]) -> bool {
    let mut found = vec![0u8; expected.len()];
    read_bytes(addr, &mut found);
    found == expected
}

/// A copy into shared memory through shadows (relaxed word stores; a part of a word is a
/// read-modify-write of it), written through.
pub(crate) fn write_bytes(addr: usize, data: &[u8]) {
    for word in words(addr, data.len()) {
        let (at, n, from) = overlap(word, addr, data.len());
        let key = Key {
            addr: word,
            size: 8,
        };
        if n == 8 {
            let value = u64::from_le_bytes(data[from..from + 8].try_into().expect("8 bytes"));
            let atomic = shadow(key, real_word(word));
            check_store(word);
            atomic.store(value, Ordering::Relaxed);
            set_latest(key, value);
            write_real_word(word, value);
            continue;
        }
        loop {
            let current = real_word(word);
            let mut bytes = current.to_le_bytes();
            bytes[at..at + n].copy_from_slice(&data[from..from + n]);
            let value = u64::from_le_bytes(bytes);
            let atomic = shadow(key, current);
            if atomic
                .compare_exchange(current, value, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                check_store(word);
                set_latest(key, value);
                write_real_word(word, value);
                break;
            }
        }
    }
}

/// A fill of shared memory through shadows, like [`write_bytes`].
pub(crate) fn fill_bytes(addr: usize, len: usize, value: u8) {
    // In pieces, so a large fill does not need a buffer of its size.
    let chunk = [value; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len());
        write_bytes(addr + done, &chunk[..n]);
        done += n;
    }
}
