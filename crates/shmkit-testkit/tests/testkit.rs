//! The testkit's own checks: children end as reported and are reaped, waits are bounded,
//! names are unique, the RNG is deterministic, pipes carry bytes between processes.

use shmkit_testkit::{
    Exit, Pipe, Rng, TempDir, dead_pid, fork_child, getpid, pid_alive, process_running,
    unique_name, wait_for, wait_until, watchdog,
};
use std::time::Duration;

#[test]
fn a_child_reports_its_exit_code_a_panic_and_a_kill() {
    let _dog = watchdog(60);
    assert_eq!(fork_child(|| 7).wait(), Exit::Code(7));
    assert_eq!(
        fork_child(|| panic!("in the child")).wait(),
        Exit::Code(101)
    );
    fork_child(|| 0).expect_success();
    let parked = fork_child(|| {
        loop {
            std::thread::park();
        }
    });
    assert_eq!(parked.kill_and_wait(), Exit::Signal(libc::SIGKILL));
}

#[test]
fn try_wait_gives_up_on_a_running_child_and_drop_reaps_it() {
    let _dog = watchdog(60);
    let mut child = fork_child(|| {
        loop {
            std::thread::park();
        }
    });
    assert_eq!(child.try_wait(Duration::from_millis(1)), None);
    let pid = child.pid;
    assert!(process_running(pid));
    drop(child);
    // Reaped: not even a zombie is left (the pid is free).
    assert!(!pid_alive(pid));
}

#[test]
fn a_zombie_exists_but_is_not_running() {
    let _dog = watchdog(60);
    let mut child = fork_child(|| 0);
    assert!(
        wait_until(Duration::from_secs(60), || !process_running(child.pid)),
        "the child exits"
    );
    assert!(pid_alive(child.pid), "unreaped, it is a zombie");
    assert_eq!(child.wait(), Exit::Code(0));
    assert!(!pid_alive(dead_pid() as libc::pid_t));
}

#[test]
fn waits_report_or_fail_at_their_limit() {
    let mut n = 0;
    assert!(wait_until(Duration::from_secs(60), || {
        n += 1;
        n == 3
    }));
    assert!(!wait_until(Duration::from_millis(1), || false));
    wait_for("a condition that holds", Duration::from_secs(60), || true);
}

#[test]
#[should_panic(expected = "timed out waiting for nothing")]
fn wait_for_panics_at_its_limit() {
    wait_for("nothing", Duration::from_millis(1), || false);
}

#[test]
fn names_are_unique_and_carry_the_pid() {
    let a = unique_name("test", "names");
    let b = unique_name("test", "names");
    assert_ne!(a, b);
    let prefix = format!("test-names-{}-", getpid());
    assert!(a.starts_with(&prefix) && b.starts_with(&prefix), "{a} {b}");
    assert!(a[prefix.len()..].parse::<u64>().is_ok(), "{a}");
}

#[test]
fn a_temp_dir_is_removed_when_dropped() {
    let dir = TempDir::new("testkit-dir");
    let path = dir.path().to_path_buf();
    std::fs::write(dir.store_path("f"), b"x").unwrap();
    assert!(dir.join("f").is_file());
    drop(dir);
    assert!(!path.exists());
}

#[test]
fn the_rng_repeats_its_sequence_for_a_seed() {
    let mut a = Rng::new(0x5eed);
    let mut b = Rng::new(0x5eed);
    let xs: Vec<u64> = (0..100).map(|_| a.next()).collect();
    let ys: Vec<u64> = (0..100).map(|_| b.next()).collect();
    assert_eq!(xs, ys);
    assert_eq!(a.seed(), 0x5eed);
    assert!((0..1000).all(|_| a.below(10) < 10));
    assert_eq!(a.below(0), 0);
    let mut c = Rng::new(0x5eee);
    assert_ne!(xs[..4], [c.next(), c.next(), c.next(), c.next()]);
}

#[test]
#[should_panic(expected = "must not be 0")]
fn the_rng_refuses_seed_zero() {
    let _ = Rng::new(0);
}

#[test]
fn a_pipe_gates_children_and_carries_their_bytes() {
    let _dog = watchdog(60);
    let gate = Pipe::new();
    let mut out = Pipe::new();
    let children: Vec<_> = (0..3u8)
        .map(|i| {
            let (gate, out) = (&gate, &out);
            fork_child(move || {
                gate.wait_closed();
                out.send(&[i]);
                0
            })
        })
        .collect();
    drop(gate); // opens the gate for all of them
    out.close_write();
    let mut got = out.read_all();
    got.sort_unstable();
    assert_eq!(got, [0, 1, 2]);
    for c in children {
        c.expect_success();
    }
}
