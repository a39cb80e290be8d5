//! Race-free creation: many processes calling `Store::open_or_create` on one name at once
//! all end up attached to one store, with no error and no SIGBUS.

mod common;

use common::{Exit, Pipe, StoreGuard, fork_child, watchdog};
use shmkit::{Store, StoreOptions};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

const PROCESSES: usize = 8;
const ROUNDS: usize = 200;

#[test]
fn open_or_create_race_yields_one_store() {
    let _dog = watchdog(110);
    for round in 0..ROUNDS {
        let guard = StoreGuard::new("open-race");
        let name = guard.name().to_string();
        let mut gate = Pipe::new();
        let mut results = Pipe::new();
        let mut children = Vec::new();
        for _ in 0..PROCESSES {
            let name = name.clone();
            let (gate_ref, results_ref) = (&gate, &results);
            children.push(fork_child(move || {
                gate_ref.wait_closed();
                let store = match Store::open_or_create(&name, &StoreOptions::default()) {
                    Ok(s) => s,
                    Err(e) => {
                        eprintln!("open_or_create failed: {e}");
                        return 2;
                    }
                };
                let ino = match std::fs::metadata(store.path()) {
                    Ok(m) => m.ino(),
                    Err(_) => return 3,
                };
                // Touch the whole committed range: a half-initialised file would SIGBUS.
                let mut buf = vec![0u8; store.committed_len() as usize];
                if store.read_bytes(0, &mut buf).is_err() {
                    return 4;
                }
                let mut line = [0u8; 24];
                line[0..8].copy_from_slice(&store.hash_seed().to_le_bytes());
                line[8..16].copy_from_slice(&ino.to_le_bytes());
                line[16..24].copy_from_slice(&store.header().created_unix_ns.to_le_bytes());
                results_ref.send(&line);
                0
            }));
        }
        gate.close_write(); // opens the gate for all children at once
        results.close_write();
        for mut child in children {
            let exit = child.wait_timeout(Duration::from_secs(30));
            assert_eq!(exit, Exit::Code(0), "round {round}: child failed");
        }
        let bytes = results.read_all();
        assert_eq!(
            bytes.len(),
            24 * PROCESSES,
            "round {round}: every child reports"
        );
        let lines: Vec<&[u8]> = bytes.chunks(24).collect();
        assert!(
            lines.iter().all(|l| *l == lines[0]),
            "round {round}: children saw different stores: {lines:?}"
        );
        // The survivor is a valid store that the parent can open.
        let store = Store::open(&name).expect("the published store opens");
        assert_eq!(store.hash_seed().to_le_bytes(), lines[0][0..8]);
        assert!(store.verify_allocator().unwrap().is_clean());
        drop(store);
        // No temporary files left behind by the losers.
        let dir = shmkit::store::name::store_dir();
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name()
                    .to_string_lossy()
                    .contains(&format!("shmkit.{name}."))
            })
            .collect();
        assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    }
}
