//! Demo: two processes grow one store in `/dev/shm` at the same time and read each other's
//! data, with no remapping.
//!
//! Run: `cargo run --release -p shmkit --example grow_demo`

use shmkit::{Store, StoreOptions};
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

const BLOCKS: u64 = 64;
const BLOCK_LEN: u64 = 1 << 20;

fn fill(store: &Store, who: u8) -> Vec<u64> {
    (0..BLOCKS)
        .map(|i| {
            let off = store.alloc(BLOCK_LEN).expect("alloc");
            let pattern = vec![who.wrapping_mul(31).wrapping_add(i as u8); BLOCK_LEN as usize];
            store.write_bytes(off, &pattern).expect("write");
            off
        })
        .collect()
}

fn check(store: &Store, who: u8, offsets: &[u64]) -> bool {
    let mut buf = vec![0u8; BLOCK_LEN as usize];
    offsets.iter().enumerate().all(|(i, &off)| {
        store.read_bytes(off, &mut buf).is_ok()
            && buf
                .iter()
                .all(|&b| b == who.wrapping_mul(31).wrapping_add(i as u8))
    })
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 3 && args[1] == "child" {
        let store = Store::open(&args[2]).expect("child: open store");
        let offsets = fill(&store, 2);
        let mut out = std::io::stdout().lock();
        for off in offsets {
            writeln!(out, "{off}").expect("write offset");
        }
        return;
    }
    let name = format!("grow-demo-{}", std::process::id());
    let store = Store::create(&name, &StoreOptions::default()).expect("create store");
    println!(
        "created {} ({} bytes committed, {} GiB reserved)",
        store.path().display(),
        store.committed_len(),
        store.reserved_len() >> 30
    );
    let mut child = Command::new(std::env::current_exe().expect("own path"))
        .args(["child", &name])
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let mine = fill(&store, 1);
    let theirs: Vec<u64> = BufReader::new(child.stdout.take().expect("child stdout"))
        .lines()
        .map(|l| l.expect("read").trim().parse().expect("offset"))
        .collect();
    let status = child.wait().expect("wait child");
    println!(
        "both processes allocated {BLOCKS} blocks of {} KiB each",
        BLOCK_LEN >> 10
    );
    println!(
        "store grew {} times to {} MiB committed",
        store.grow_count(),
        store.committed_len() >> 20
    );
    println!("own blocks intact: {}", check(&store, 1, &mine));
    println!(
        "child's {} blocks read here, intact: {}",
        theirs.len(),
        check(&store, 2, &theirs)
    );
    let report = store.verify_allocator().expect("verify");
    println!(
        "allocator check: {} ({} blocks in use)",
        if report.is_clean() {
            "clean"
        } else {
            "PROBLEMS"
        },
        report.used_blocks
    );
    Store::remove(&name).expect("remove store");
    let ok = status.success()
        && report.is_clean()
        && theirs.len() as u64 == BLOCKS
        && check(&store, 1, &mine)
        && check(&store, 2, &theirs);
    println!("{}", if ok { "ok" } else { "FAILED" });
    std::process::exit(if ok { 0 } else { 1 });
}
