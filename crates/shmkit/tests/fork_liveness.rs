//! A forked child that never touches the store must not keep its dead parent "alive": the
//! fork handler gives the child's inherited descriptor its own open file description.

use shmkit::{Store, StoreOptions};
use std::time::Duration;

fn wait_exit(pid: libc::pid_t) -> i32 {
    let mut status = 0;
    // SAFETY: plain waitpid on our own child.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    status
}

#[test]
fn idle_grandchild_does_not_keep_dead_owner_alive() {
    let name = format!("test-fork-liveness-{}", std::process::id());
    // Not attached in this process while the child runs, so the child's descriptor is its own.
    drop(Store::create(&name, &StoreOptions::default()).unwrap());
    let (mut fds, mut gfds) = ([0i32; 2], [0i32; 2]);
    // SAFETY: pipe() fills the two-element arrays.
    unsafe {
        libc::pipe(fds.as_mut_ptr());
        libc::pipe(gfds.as_mut_ptr());
    }
    // SAFETY: the test runs in its own process under nextest; the child only uses the store,
    // writes to a pipe and leaves with _exit.
    let child = unsafe { libc::fork() };
    if child == 0 {
        let s = Store::open(&name).unwrap();
        let guard = s.test_mutex().unwrap().lock().unwrap();
        // Fork a grandchild that never uses the store and outlives us.
        // SAFETY: as above; the grandchild only sleeps and exits.
        let grandchild = unsafe { libc::fork() };
        if grandchild == 0 {
            // SAFETY: sleeping and exiting are always allowed.
            unsafe {
                libc::close(1);
                libc::close(2);
                libc::write(gfds[1], b"g".as_ptr().cast(), 1);
                libc::sleep(5);
                libc::_exit(0);
            }
        }
        // SAFETY: write one byte to the pipe, then wait to be killed.
        unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) };
        std::mem::forget(guard);
        loop {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let mut b = [0u8; 1];
    // SAFETY: reading one byte from our own pipes.
    unsafe {
        libc::read(fds[0], b.as_mut_ptr().cast(), 1);
        libc::read(gfds[0], b.as_mut_ptr().cast(), 1);
        libc::kill(child, libc::SIGKILL);
    }
    wait_exit(child);
    let store = Store::open(&name).unwrap();
    let mutex = store.test_mutex().unwrap();
    let guard = mutex
        .lock_timeout(Duration::from_secs(3))
        .expect("the dead owner's lock must be recovered while its idle grandchild lives");
    assert!(guard.recovered());
    drop(guard);
    Store::remove(&name).unwrap();
}
