//! A forked child that cannot claim a registry slot of its own (the registry is full) must not
//! take locks under its parent's owner id: a lock taken that way is never recovered after the
//! child dies while the parent lives (the parent even waits for itself), and is stolen from the
//! live child as soon as the parent dies.

mod common;

use common::{TestStore, fork_child, kill_child, wait_child, watchdog};
use shmkit::{Store, StoreOptions};
use std::time::Duration;

fn one_slot() -> StoreOptions {
    StoreOptions {
        max_processes: 1,
        ..StoreOptions::default()
    }
}

fn pipe() -> [i32; 2] {
    let mut fds = [0i32; 2];
    // SAFETY: pipe() fills the two-element array.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    fds
}

fn write_all(fd: i32, bytes: &[u8]) {
    // SAFETY: writing from a live buffer to our own pipe.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    assert_eq!(n, bytes.len() as isize);
}

fn read_exact(fd: i32, out: &mut [u8]) {
    let mut done = 0;
    while done < out.len() {
        // SAFETY: reading into the unfilled tail of a live buffer from our own pipe.
        let n = unsafe { libc::read(fd, out[done..].as_mut_ptr().cast(), out.len() - done) };
        assert!(n > 0, "pipe closed early");
        done += n as usize;
    }
}

/// Kills a process that is not our child (an orphaned grandchild) when dropped.
struct KillOnDrop(libc::pid_t);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0 > 0 {
            kill_child(self.0);
        }
    }
}

#[test]
fn lock_of_a_dead_child_without_a_slot_is_recovered() {
    let _watchdog = watchdog(60);
    let t = TestStore::with("review-fork-noslot-wedge", &one_slot());
    let parent_id = t.store.owner_id();
    let fds = pipe();
    let store = t.store.clone();
    let child = fork_child(move || {
        // SAFETY: arming a self-destruct timer in this child.
        unsafe { libc::alarm(30) };
        let mutex = store.test_mutex().unwrap();
        match mutex.lock_timeout(Duration::from_secs(5)) {
            Ok(guard) => {
                write_all(
                    fds[1],
                    if store.owner_id() == parent_id {
                        b"P"
                    } else {
                        b"L"
                    },
                );
                std::mem::forget(guard);
                loop {
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
            Err(_) => {
                write_all(fds[1], b"E");
                0
            }
        }
    });
    let mut what = [0u8; 1];
    read_exact(fds[0], &mut what);
    kill_child(child);
    wait_child(child);
    // Whatever the child did, it is dead now: the lock must be free or recoverable.
    let result = t
        .store
        .test_mutex()
        .unwrap()
        .lock_timeout(Duration::from_secs(3));
    assert!(
        result.is_ok(),
        "the lock a dead child held (child reported {:?}: P = it locked under the parent's \
         owner id {parent_id:#x}) is never recovered while the parent lives",
        what[0] as char
    );
}

#[test]
fn lock_of_a_live_child_without_a_slot_is_not_stolen_when_its_parent_dies() {
    let _watchdog = watchdog(60);
    let name = format!("test-review-fork-noslot-theft-{}", std::process::id());
    let _ = Store::remove(&name);
    drop(Store::create(&name, &one_slot()).unwrap());
    let fds = pipe();
    let n = name.clone();
    // P attaches (taking the only slot) and forks C; C locks, reports its pid, and lives on.
    let parent = fork_child(move || {
        // SAFETY: arming a self-destruct timer in this process.
        unsafe { libc::alarm(30) };
        let store = Store::open(&n).unwrap();
        let _ = store.owner_id();
        let s = store.clone();
        let _grandchild = fork_child(move || {
            // SAFETY: arming a self-destruct timer in this process.
            unsafe { libc::alarm(30) };
            let mutex = s.test_mutex().unwrap();
            let mut msg = [0u8; 5];
            msg[1..].copy_from_slice(&sys_pid().to_le_bytes());
            match mutex.lock_timeout(Duration::from_secs(5)) {
                Ok(guard) => {
                    msg[0] = b'L';
                    write_all(fds[1], &msg);
                    std::mem::forget(guard);
                    loop {
                        std::thread::sleep(Duration::from_secs(1));
                    }
                }
                Err(_) => {
                    msg[0] = b'E';
                    write_all(fds[1], &msg);
                    0
                }
            }
        });
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let mut msg = [0u8; 5];
    read_exact(fds[0], &mut msg);
    let grandchild = KillOnDrop(i32::from_le_bytes(msg[1..].try_into().unwrap()));
    kill_child(parent);
    wait_child(parent);
    let store = Store::open(&name).unwrap(); // takes the dead parent's slot
    let result = store
        .test_mutex()
        .unwrap()
        .lock_timeout(Duration::from_millis(500));
    let stolen = result.is_ok();
    drop(result);
    drop(grandchild);
    drop(store);
    let _ = Store::remove(&name);
    assert!(
        !(msg[0] == b'L' && stolen),
        "a lock held by a live process was taken over because its parent died"
    );
}

fn sys_pid() -> i32 {
    // SAFETY: getpid has no preconditions.
    unsafe { libc::getpid() }
}

/// The only handle of the test process, so that a forked child can drop its last copy.
static KEEP: std::sync::Mutex<Option<Store>> = std::sync::Mutex::new(None);

#[test]
fn child_without_a_slot_does_not_free_its_parents_slot_on_detach() {
    let _watchdog = watchdog(60);
    let name = format!("test-review-fork-noslot-detach-{}", std::process::id());
    let _ = Store::remove(&name);
    let options = StoreOptions {
        max_processes: 2,
        ..StoreOptions::default()
    };
    let store = Store::create(&name, &options).unwrap();
    let my_slot = store.attached_processes().unwrap()[0].slot;
    *KEEP.lock().unwrap() = Some(store);
    // A filler process takes the second slot, so the next child finds the registry full.
    let fds = pipe();
    let n = name.clone();
    let filler = fork_child(move || {
        // SAFETY: a self-destruct timer.
        unsafe { libc::alarm(30) };
        let s = Store::open(&n).unwrap();
        let _ = s.owner_id();
        write_all(fds[1], b"F");
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    let mut b = [0u8; 1];
    read_exact(fds[0], &mut b);
    // A child with no slot of its own detaches (drops its last handle).
    let child = fork_child(|| {
        let s = KEEP.lock().unwrap().take().unwrap();
        let _ = s.owner_id();
        drop(s);
        0
    });
    assert_eq!(wait_child(child), 0);
    kill_child(filler);
    wait_child(filler);
    let store = KEEP.lock().unwrap().take().unwrap();
    let state = store
        .registry_slot(my_slot)
        .unwrap()
        .state
        .load(std::sync::atomic::Ordering::SeqCst);
    // While this process holds a lock, a newly attached process must not take it over.
    let guard = store.test_mutex().unwrap().lock().unwrap();
    let n = name.clone();
    let thief = fork_child(move || {
        let s = Store::open(&n).unwrap();
        let stolen = s
            .test_mutex()
            .unwrap()
            .lock_timeout(Duration::from_millis(500))
            .map(std::mem::forget)
            .is_ok();
        i32::from(stolen)
    });
    let stolen = wait_child(thief) == 1;
    drop(guard);
    drop(store);
    let _ = Store::remove(&name);
    assert!(
        state == shmkit::store::registry::SLOT_ACTIVE && !stolen,
        "a forked child that had no slot of its own left its live parent's slot in state \
         {state} (1 = active) on detach; lock taken over from the live parent: {stolen}"
    );
}
