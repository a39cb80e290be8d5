//! Killing a writer at every instruction, without killing it: a traced child runs one
//! operation one instruction at a time under ptrace, and every distinct state of the store
//! file it passes through is handed to a check, which copies it to a store of its own (as a
//! SIGKILL at that instruction would leave it) and judges what the next process finds there.
//! The harness of `ordered_map_crash_points.rs` and `hash_map_crash_points.rs`; what a state
//! must look like is each test's own. `SHMKIT_CRASH_POINTS_FULL=1` asks the tests for every
//! check in depth (much slower).

use super::{Child, TestStore, fork_child, unique_name};
use shmkit::Store;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// True for `SHMKIT_CRASH_POINTS_FULL=1`: every check deep, every kept recovery traced.
pub fn full() -> bool {
    std::env::var("SHMKIT_CRASH_POINTS_FULL").as_deref() == Ok("1")
}

/// True if this process may trace its children (else says why the test cannot run).
pub fn ptrace_works() -> bool {
    let mut child = fork_child(|| {
        // SAFETY: PTRACE_TRACEME and raise have no memory preconditions.
        if unsafe { libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0) } != 0 {
            return 1;
        }
        // SAFETY: as above.
        unsafe { libc::raise(libc::SIGSTOP) };
        0
    });
    let mut status = 0;
    // SAFETY: waitpid on our own child, writing to a local.
    unsafe { libc::waitpid(child.pid, &mut status, libc::__WALL) };
    if libc::WIFSTOPPED(status) {
        // SAFETY: ptrace on our own stopped tracee.
        unsafe { libc::ptrace(libc::PTRACE_CONT, child.pid, 0, 0) };
        assert_eq!(child.wait(), super::Exit::Code(0));
        return true;
    }
    std::mem::forget(child); // reaped above
    super::cannot_run_here("this process may not trace its children (ptrace)");
    false
}

/// Forks a child that stops itself under ptrace before running `f`.
pub fn traced_child(f: impl FnOnce() -> i32) -> Child {
    let child = fork_child(|| {
        // SAFETY: PTRACE_TRACEME and raise have no memory preconditions.
        unsafe {
            libc::ptrace(libc::PTRACE_TRACEME, 0, 0, 0);
            libc::raise(libc::SIGSTOP);
        }
        f()
    });
    let mut status = 0;
    // SAFETY: waitpid on our own child, writing to a local.
    let w = unsafe { libc::waitpid(child.pid, &mut status, libc::__WALL) };
    assert!(
        w == child.pid && libc::WIFSTOPPED(status),
        "tracee did not stop"
    );
    child
}

/// Runs the stopped tracee for one instruction; false once it has ended.
pub fn single_step(pid: libc::pid_t) -> bool {
    // SAFETY: ptrace on our own stopped tracee.
    let r = unsafe { libc::ptrace(libc::PTRACE_SINGLESTEP, pid, 0, 0) };
    assert_eq!(
        r,
        0,
        "PTRACE_SINGLESTEP: {}",
        std::io::Error::last_os_error()
    );
    let mut status = 0;
    // SAFETY: waitpid on our own child, writing to a local.
    let w = unsafe { libc::waitpid(pid, &mut status, libc::__WALL) };
    assert_eq!(w, pid);
    if libc::WIFSTOPPED(status) {
        let sig = libc::WSTOPSIG(status);
        assert_eq!(sig, libc::SIGTRAP, "tracee stopped by signal {sig}");
        true
    } else {
        assert!(
            libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
            "tracee failed: status {status:#x}"
        );
        false
    }
}

pub fn read_file(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

/// Replaces the contents of the store file at `path` (mapped by this process) with `bytes`.
pub fn restore(path: &Path, bytes: &[u8]) {
    let f = File::options().write(true).open(path).unwrap();
    f.write_all_at(bytes, 0).unwrap();
}

/// A store holding `bytes` under a new name, removed when dropped.
pub struct Copy {
    name: String,
    pub path: PathBuf,
    store: Option<Store>,
}

impl Copy {
    pub fn new(original: &Path, bytes: &[u8]) -> Copy {
        let name = unique_name("crash-point");
        let path = original.with_file_name(format!("shmkit.{name}"));
        std::fs::write(&path, bytes).unwrap();
        let store = Store::open(&name).unwrap();
        Copy {
            name,
            path,
            store: Some(store),
        }
    }

    pub fn store(&self) -> &Store {
        self.store.as_ref().unwrap()
    }
}

impl Drop for Copy {
    fn drop(&mut self) {
        self.store = None;
        let _ = Store::remove(&self.name);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A read-only shared mapping of a file's first `len` bytes.
pub struct Mapping {
    ptr: *mut libc::c_void,
    len: usize,
}

impl Mapping {
    pub fn new(f: &File, len: usize) -> Mapping {
        use std::os::fd::AsRawFd;
        // SAFETY: a fresh read-only shared mapping of an open file; checked below.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                f.as_raw_fd(),
                0,
            )
        };
        assert_ne!(ptr, libc::MAP_FAILED);
        Mapping { ptr, len }
    }

    /// The bytes, read while the only process that writes them is stopped.
    pub fn bytes(&self) -> &[u8] {
        // SAFETY: the mapping is `len` readable bytes for as long as `self` lives.
        unsafe { std::slice::from_raw_parts(self.ptr as *const u8, self.len) }
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: unmaps what `new` mapped.
        unsafe { libc::munmap(self.ptr, self.len) };
    }
}

/// The end of the store's carved heap.
pub fn heap_top(bytes: &[u8]) -> usize {
    use shmkit::store::header::StoreHeader;
    let at = std::mem::offset_of!(StoreHeader, heap) + 16;
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize
}

/// The states of the store file, one per instruction of the tracee that changed it (the
/// state before the first instruction included), handed to `each` as they appear, with the
/// number of instructions run so far. Only the carved heap (and 64 KiB past it) is compared.
pub fn walk_states(path: &Path, child: Child, mut each: impl FnMut(u64, &[u8])) -> u64 {
    let pid = child.pid;
    let f = File::open(path).unwrap();
    let len = f.metadata().unwrap().len() as usize;
    let map = Mapping::new(&f, len);
    let mut prev = map.bytes().to_vec();
    let watched = (heap_top(&prev) + (64 << 10)).min(len);
    each(0, &prev);
    let mut steps = 0u64;
    while single_step(pid) {
        steps += 1;
        let cur = &map.bytes()[..watched];
        if cur != &prev[..watched] {
            prev[..watched].copy_from_slice(cur);
            each(steps, &prev);
        }
    }
    assert!(
        heap_top(map.bytes()) <= watched,
        "the heap grew past the watched part"
    );
    assert_eq!(map.bytes(), &prev[..], "a change outside the watched part");
    assert_eq!(
        f.metadata().unwrap().len() as usize,
        len,
        "the store file grew"
    );
    std::mem::forget(child); // reaped by single_step
    steps
}

/// Blocks of every size a record of the tests may have, each filled with its own offset.
pub struct Probes(Vec<(u64, u64)>);

impl Probes {
    pub fn new(store: &Store) -> Probes {
        let mut blocks = Vec::new();
        for len in (24..=64).step_by(8) {
            for _ in 0..4 {
                let at = store.alloc(len).unwrap();
                store
                    .write_bytes(at, &at.to_le_bytes().repeat(len as usize / 8))
                    .unwrap();
                blocks.push((at, len));
            }
        }
        Probes(blocks)
    }

    /// Asserts every probe is still allocated and intact, then frees them.
    pub fn check_and_free(self, store: &Store) {
        use shmkit::store::alloc::{BlockHeader, TAG_USED};
        use std::sync::atomic::Ordering;
        for (at, len) in self.0 {
            let h: &BlockHeader = store.get(at - 16).unwrap();
            assert_eq!(
                h.tag.load(Ordering::SeqCst),
                TAG_USED,
                "another's block freed"
            );
            let mut got = vec![0u8; len as usize];
            store.read_bytes(at, &mut got).unwrap();
            assert_eq!(
                got,
                at.to_le_bytes().repeat(len as usize / 8),
                "another's block written"
            );
            store.free(at).unwrap();
        }
    }
}

/// What a state check needs: the original store's path, the state's bytes, and whether to
/// check in depth.
pub type Check<'a> = &'a dyn Fn(&Path, &[u8], bool);

/// Traces `op` (run by a child) and checks every state it passes through while `locked`
/// says a writer holds a lock (and every `outside`-th state before and after) with `check`
/// (deep on every fourth state and outside the lock, or always under
/// `SHMKIT_CRASH_POINTS_FULL=1`). `keep` sees every state. Returns the instructions run and
/// the states checked; a failed check leaves its state behind as a store named in the log.
pub fn trace(
    t: &TestStore,
    op: impl FnOnce() -> i32,
    locked: &dyn Fn(&[u8]) -> bool,
    check: Check<'_>,
    outside: u64,
    keep: &mut dyn FnMut(&[u8]),
) -> (u64, u64) {
    let path = t.path().to_path_buf();
    let child = traced_child(op);
    let (mut checked, mut n) = (0u64, 0u64);
    let steps = walk_states(&path, child, |step, bytes| {
        n += 1;
        keep(bytes);
        let locked = locked(bytes);
        if locked || n % outside == 0 {
            checked += 1;
            let deep = !locked || checked % 4 == 0 || full();
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                check(&path, bytes, deep)
            }));
            if let Err(e) = r {
                // A store file (openable by its name) for a closer look.
                let dump = unique_name("crash-point-failed");
                std::fs::write(path.with_file_name(format!("shmkit.{dump}")), bytes).unwrap();
                eprintln!("state after {step} instructions: store {dump}");
                std::panic::resume_unwind(e);
            }
        }
    });
    eprintln!("{steps} instructions, {n} states, {checked} checked");
    // At least ten states checked, or all of them (a short operation: a recovery).
    assert!(checked >= 10.min(n), "only {checked} of {n} states checked");
    (steps, checked)
}

/// The little-endian u32 at `offset` of a state.
pub fn word32(bytes: &[u8], offset: u64) -> u32 {
    let at = offset as usize;
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}
