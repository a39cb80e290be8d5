//! Turning a SIGBUS in a store mapping into an error.
//!
//! A store file shrunk while mapped (`truncate` by any process with write access) makes the
//! next touch of a page past the new end raise SIGBUS, which would kill every attached
//! process. Instead, every store mapping is registered here, and a process-wide SIGBUS
//! handler, installed with the first mapping, resolves a fault inside a registered mapping by
//! mapping a private zero page over the faulting page (`MAP_FIXED`) and recording the
//! mapping as *faulted*; the faulting instruction then re-runs on zeros. Store operations
//! check [`fault_offset`] when they finish and return an error instead of what they read.
//! No `sigsetjmp`/`longjmp`: the handler only maps a page and stores to atomics.
//!
//! Invariants:
//! - a fault outside every registered mapping goes to the handler that was installed before
//!   ours (or the default action, which kills the process as before): the handler is
//!   transparent to everything else in the process (a Python `faulthandler`, a JVM);
//! - the table of mappings is a fixed array of atomics, read by the handler without locks;
//!   a mapping is registered before its first access and unregistered before it is unmapped;
//! - a faulted mapping stays faulted: its zero pages hide the file from this process for
//!   good, so every later operation on the store fails (`check` and `rm` from a fresh process
//!   see the file as it is);
//! - more than [`MAX_MAPPINGS`] mappings at once are not protected (the extra ones behave as
//!   before: SIGBUS kills).
//!
//! ```
//! use shmkit::{Store, StoreOptions};
//! let name = format!("doc-fault-{}", std::process::id()); // unique to this process
//! let store = Store::create(&name, &StoreOptions::default()).unwrap();
//! assert_eq!(store.faulted_at(), None); // the file has not shrunk under us
//! Store::remove(&name).unwrap();
//! ```

use std::sync::Once;
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};

/// Mappings protected at once.
pub const MAX_MAPPINGS: usize = 256;

#[derive(Debug)]
struct Entry {
    base: AtomicUsize,
    len: AtomicUsize,
    /// 0: no fault; else 1 + the offset of the first faulting page in the mapping.
    fault: AtomicU64,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Entry = Entry {
    base: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    fault: AtomicU64::new(0),
};

static TABLE: [Entry; MAX_MAPPINGS] = [EMPTY; MAX_MAPPINGS];
static INSTALL: Once = Once::new();
/// The SIGBUS disposition before ours (leaked, set once before ours is installed).
static PREVIOUS: AtomicPtr<libc::sigaction> = AtomicPtr::new(std::ptr::null_mut());
static PAGE: AtomicUsize = AtomicUsize::new(4096);

/// A registration of one mapping; unregisters on drop.
#[derive(Debug)]
pub struct Registration(Option<&'static Entry>);

impl Registration {
    /// 1 + the offset of the first page that faulted, or 0 (on every store operation: a
    /// direct reference, no table lookup).
    #[inline]
    fn fault_word(&self) -> u64 {
        self.0.map_or(0, |e| e.fault.load(Ordering::Acquire))
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if let Some(e) = self.0 {
            e.len.store(0, Ordering::Release);
            e.fault.store(0, Ordering::Relaxed);
            e.base.store(0, Ordering::Release);
        }
    }
}

/// Registers the mapping `[base, base + len)` (see the module docs).
pub(crate) fn register(base: usize, len: usize) -> Registration {
    INSTALL.call_once(install);
    for e in TABLE.iter() {
        if e.base
            .compare_exchange(0, base, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
        {
            e.fault.store(0, Ordering::Relaxed);
            e.len.store(len, Ordering::Release);
            return Registration(Some(e));
        }
    }
    Registration(None)
}

/// The offset in the mapping of the first page that faulted (the file shrank under it).
#[inline]
pub(crate) fn fault_offset(reg: &Registration) -> Option<u64> {
    match reg.fault_word() {
        0 => None,
        w => Some(w - 1),
    }
}

fn install() {
    PAGE.store(super::page_size() as usize, Ordering::Relaxed);
    // SAFETY: sigaction with a zeroed struct we fill: SA_SIGINFO handler of the right
    // signature, an empty mask, SA_RESTART|SA_ONSTACK. The previous disposition is written
    // into a leaked box before ours is installed, so the handler never sees it half-written.
    unsafe {
        let previous = Box::into_raw(Box::new(std::mem::zeroed::<libc::sigaction>()));
        let mut ours: libc::sigaction = std::mem::zeroed();
        ours.sa_sigaction = on_sigbus as *const () as usize;
        ours.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART | libc::SA_ONSTACK;
        libc::sigemptyset(&mut ours.sa_mask);
        if libc::sigaction(libc::SIGBUS, std::ptr::null(), previous) != 0 {
            return; // cannot even read it: leave SIGBUS alone
        }
        PREVIOUS.store(previous, Ordering::Release);
        libc::sigaction(libc::SIGBUS, &ours, std::ptr::null_mut());
    }
}

extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    // SAFETY: errno is this thread's; saved here and restored on every return below, so the
    // interrupted code never sees it changed.
    let errno = unsafe { *libc::__errno_location() };
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler; `si_addr` is
    // meaningful for the fault codes, the only ones looked at.
    let (code, addr) = unsafe { ((*info).si_code, (*info).si_addr() as usize) };
    if code == libc::BUS_ADRERR && patch(addr) {
        // SAFETY: as above.
        unsafe { *libc::__errno_location() = errno };
        return; // the access runs again, on zeros
    }
    chain(sig, code, info, ctx);
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = errno };
}

/// Maps a zero page over the page of `addr` if it lies in a registered store mapping (an
/// access past the end of a shrunk file: `BUS_ADRERR`), and records the fault.
fn patch(addr: usize) -> bool {
    let page = PAGE.load(Ordering::Relaxed);
    for e in TABLE.iter() {
        let base = e.base.load(Ordering::Acquire);
        let len = e.len.load(Ordering::Acquire);
        if len == 0 || addr < base || addr - base >= len {
            continue;
        }
        let start = addr & !(page - 1);
        // SAFETY: `start` is a page of a live store mapping (registered until before it is
        // unmapped; a registered mapping is in use, so it cannot be unmapped under a fault
        // it raised). Replacing that page with a private zero page changes only what this
        // process sees there; mmap is a plain system call, safe in a signal handler.
        let p = unsafe {
            libc::mmap(
                start as *mut libc::c_void,
                page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_FIXED | libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p != libc::MAP_FAILED {
            let _ = e.fault.compare_exchange(
                0,
                (start - base) as u64 + 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
            return true;
        }
        return false; // could not patch it: behave as if we were not here
    }
    false
}

/// Passes a SIGBUS that is not ours to the previous disposition.
fn chain(sig: libc::c_int, code: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
    let sent_by_process = code <= 0; // kill, sigqueue, tkill: no fault to repeat
    let previous = PREVIOUS.load(Ordering::Acquire);
    let handler = if previous.is_null() {
        libc::SIG_DFL
    } else {
        // SAFETY: a non-null `previous` is the leaked, fully written previous disposition.
        unsafe { (*previous).sa_sigaction }
    };
    if handler == libc::SIG_IGN && sent_by_process {
        return; // ignored, as before
    }
    if handler == libc::SIG_DFL || handler == libc::SIG_IGN {
        // The default action (ignoring a fault would make it repeat forever): restore it. A
        // fault then repeats when this handler returns and is delivered with its own siginfo
        // (a core dump keeps the fault address); a sent signal is raised again.
        // SAFETY: plain system calls with a zeroed, valid struct.
        unsafe {
            let mut dfl: libc::sigaction = std::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&mut dfl.sa_mask);
            libc::sigaction(sig, &dfl, std::ptr::null_mut());
            if sent_by_process {
                libc::raise(sig);
            }
        }
        return;
    }
    // SAFETY: `handler` is the previous handler's address, of the signature its flags say.
    unsafe {
        if (*previous).sa_flags & libc::SA_SIGINFO != 0 {
            let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                std::mem::transmute(handler);
            f(sig, info, ctx);
        } else {
            let f: extern "C" fn(libc::c_int) = std::mem::transmute(handler);
            f(sig);
        }
    }
}
