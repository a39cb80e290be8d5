//! No SIGBUS from a lying header: a shared `committed_len` raised past the end of the file (a
//! stray or hostile write) is not trusted — accesses past the real end of the file get
//! errors in every attached process, the store keeps working below it, and growth still
//! extends the file. Each probe runs in a forked child, so a SIGBUS shows as the child's
//! death by signal rather than killing the test run.

mod common;

use common::{Exit, TestStore, fork_child};
use shmkit::store::header::COMMITTED_LEN_OFFSET;
use std::os::unix::fs::FileExt;

fn raise_committed_len(path: &std::path::Path, to: u64) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(&to.to_le_bytes(), COMMITTED_LEN_OFFSET)
        .unwrap();
}

#[test]
fn a_committed_len_past_the_file_end_gives_errors_not_sigbus() {
    let t = TestStore::new("bounds-committed");
    let map = t.hash_map("m").unwrap();
    map.set(b"k", b"v").unwrap();
    let file_len = std::fs::metadata(t.path()).unwrap().len();
    assert_eq!(t.committed_len(), file_len);
    let bogus = file_len + (64 << 20);
    raise_committed_len(t.path(), bogus);
    // This process, attached before the write.
    let store = t.clone();
    let mut probe = fork_child(move || {
        let mut buf = [0u8; 8];
        if store.read_bytes(file_len + 4096, &mut buf).is_ok() {
            return 1; // read past the end of the file and survived: impossible
        }
        if store.committed_len() != file_len {
            return 2;
        }
        0
    });
    assert_eq!(
        probe.wait(),
        Exit::Code(0),
        "the reader died or read past the end"
    );
    // A process attaching after the write is refused: open validates the committed length
    // against the file (the read-only inspection applies the same validation).
    let seen = shmkit::store::inspect::inspect(t.path());
    assert!(
        matches!(seen.header_error, Some(shmkit::OpenError::Truncated { .. })),
        "{:?}",
        seen.header_error
    );
    // Below the real end everything works; growing extends the file for real.
    assert_eq!(map.get(b"k").unwrap().as_deref(), Some(&b"v"[..]));
    let big = t.alloc(2 * file_len).unwrap();
    t.write_bytes(big + 2 * file_len - 8, b"lastword").unwrap();
    assert!(std::fs::metadata(t.path()).unwrap().len() > file_len);
    let mut buf = [0u8; 8];
    t.read_bytes(big + 2 * file_len - 8, &mut buf).unwrap();
    assert_eq!(&buf, b"lastword");
}
