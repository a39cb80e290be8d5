//! Every kind of bad file gives its own precise `OpenError`, and bad names are refused.

mod common;

use common::{Exit, TempDir, cannot_run_here, fork_child};
use shmkit::store::header::{CHECKSUMMED_LEN, COMMITTED_LEN_OFFSET, HEADER_LEN, ImmutableHeader};
use shmkit::store::inspect::inspect;
use shmkit::store::registry::MAX_SLOTS;
use shmkit::{OpenError, Store, StoreOptions};
use std::path::Path;
use std::time::Duration;

/// Creates a real store at `dir/real` and returns a copy of its bytes.
fn real_store_bytes(dir: &TempDir) -> Vec<u8> {
    let path = dir.store_path("real");
    let store = Store::create(&path, &StoreOptions::default()).unwrap();
    drop(store);
    let bytes = std::fs::read(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    bytes
}

fn write_file(dir: &TempDir, file: &str, bytes: &[u8]) -> String {
    let path = dir.store_path(file);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn recompute_checksum(bytes: &mut [u8]) {
    let fixed: &[u8; CHECKSUMMED_LEN] = bytes[..CHECKSUMMED_LEN].try_into().unwrap();
    let sum = ImmutableHeader::from_bytes(fixed).checksum();
    bytes[CHECKSUMMED_LEN..CHECKSUMMED_LEN + 8].copy_from_slice(&sum.to_le_bytes());
}

#[test]
fn empty_file_is_empty() {
    let dir = TempDir::new("err-empty");
    let path = write_file(&dir, "empty", b"");
    assert!(matches!(Store::open(&path), Err(OpenError::Empty { .. })));
}

#[test]
fn truncated_file_is_truncated() {
    let dir = TempDir::new("err-trunc");
    let real = real_store_bytes(&dir);
    // Magic intact, but shorter than the header page.
    let path = write_file(&dir, "short-header", &real[..2000]);
    match Store::open(&path) {
        Err(OpenError::Truncated { len: 2000, .. }) => {}
        other => panic!("expected Truncated, got {other:?}"),
    }
    // Whole header, but shorter than the committed length it declares.
    let path = write_file(&dir, "short-body", &real[..64 * 1024]);
    assert!(matches!(
        Store::open(&path),
        Err(OpenError::Truncated { len: 65536, .. })
    ));
}

#[test]
fn committed_len_past_end_of_file_is_truncated() {
    let dir = TempDir::new("err-committed");
    let mut real = real_store_bytes(&dir);
    let len = real.len() as u64;
    let off = COMMITTED_LEN_OFFSET as usize;
    real[off..off + 8].copy_from_slice(&(len + (1 << 20)).to_le_bytes());
    let path = write_file(&dir, "committed", &real);
    match Store::open(&path) {
        Err(OpenError::Truncated {
            len: l, expected, ..
        }) => {
            assert_eq!(l, len);
            assert_eq!(expected, len + (1 << 20));
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
}

#[test]
fn other_programs_files_are_not_stores() {
    let dir = TempDir::new("err-notastore");
    let mut rng = common::Rng::new(0x5eed);
    let random: Vec<u8> = (0..100_000).map(|_| rng.next() as u8).collect();
    let text = "[section]\nkey = value\n".repeat(1000);
    for (file, bytes) in [
        ("random", &random[..]),
        ("text", text.as_bytes()),
        ("tiny", b"SHM"),
        ("page", &[0u8; 4096]),
    ] {
        let path = write_file(&dir, file, bytes);
        match Store::open(&path) {
            Err(OpenError::NotAStore { .. }) => {}
            other => panic!("{file}: expected NotAStore, got {other:?}"),
        }
    }
}

#[test]
fn wrong_version_is_unsupported() {
    let dir = TempDir::new("err-version");
    let mut real = real_store_bytes(&dir);
    real[8..12].copy_from_slice(&2u32.to_le_bytes());
    recompute_checksum(&mut real);
    let path = write_file(&dir, "v2", &real);
    match Store::open(&path) {
        Err(OpenError::UnsupportedVersion {
            found: 2,
            supported: 1,
            ..
        }) => {}
        other => panic!("expected UnsupportedVersion, got {other:?}"),
    }
}

#[test]
fn flipped_header_bytes_fail_the_checksum() {
    let dir = TempDir::new("err-checksum");
    let real = real_store_bytes(&dir);
    // Every immutable byte outside magic and version, and the checksum itself.
    for i in (12..CHECKSUMMED_LEN + 8).step_by(5) {
        let mut bad = real.clone();
        bad[i] ^= 0x10;
        let path = write_file(&dir, &format!("flip{i}"), &bad);
        match Store::open(&path) {
            Err(OpenError::HeaderChecksum {
                stored, computed, ..
            }) => assert_ne!(stored, computed),
            other => panic!("byte {i}: expected HeaderChecksum, got {other:?}"),
        }
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn impossible_fields_with_a_valid_checksum_are_corrupt() {
    let dir = TempDir::new("err-corrupt");
    let real = real_store_bytes(&dir);
    // registry_slots = 0; heap_offset misplaced; reserved_len not page aligned.
    for (at, value) in [(40usize, 0u64), (56, 4096), (24, 12345)] {
        let mut bad = real.clone();
        let width = if at == 40 { 4 } else { 8 };
        bad[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
        recompute_checksum(&mut bad);
        let path = write_file(&dir, &format!("corrupt{at}"), &bad);
        match Store::open(&path) {
            Err(OpenError::CorruptHeader { .. }) => {}
            other => panic!("field at {at}: expected CorruptHeader, got {other:?}"),
        }
    }
}

#[test]
fn every_impossible_header_field_alone_is_corrupt() {
    // One field wrong at a time (the checksum recomputed to match), so a check that only
    // rejects several wrong fields together, or none, fails here.
    let dir = TempDir::new("err-each-field");
    let real = real_store_bytes(&dir);
    let fixed = ImmutableHeader::from_bytes(real[..CHECKSUMMED_LEN].try_into().unwrap());
    type Damage = fn(&mut ImmutableHeader);
    let cases: [(&str, Damage); 12] = [
        ("hash algorithm", |h| h.hash_algorithm = 7),
        ("no registry slots", |h| h.registry_slots = 0),
        ("too many registry slots", |h| {
            h.registry_slots = MAX_SLOTS + 1
        }),
        ("class count", |h| h.class_count += 1),
        ("registry offset", |h| h.registry_offset += 64),
        ("class table offset", |h| h.class_table_offset += 4096),
        ("heap offset", |h| h.heap_offset += 4096),
        ("page size", |h| h.page_size = 65536),
        ("unknown flags", |h| h.flags = 2),
        ("reserved below the heap", |h| {
            h.reserved_len = h.heap_offset - 4096
        }),
        ("reserved not page aligned", |h| h.reserved_len += 1),
        ("committed beyond the reservation", |h| {
            h.reserved_len = h.heap_offset
        }),
    ];
    for (what, damage) in cases {
        let mut header = fixed;
        damage(&mut header);
        let mut bad = real.clone();
        bad[..CHECKSUMMED_LEN].copy_from_slice(&header.to_bytes());
        recompute_checksum(&mut bad);
        let path = write_file(&dir, "bad", &bad);
        match Store::open(&path) {
            Err(OpenError::CorruptHeader { .. }) => {}
            other => panic!("{what}: expected CorruptHeader, got {other:?}"),
        }
        // The read-only inspection (ls, gc) judges the header as open does.
        let seen = inspect(Path::new(&path));
        assert!(
            !seen.header_ok && matches!(seen.header_error, Some(OpenError::CorruptHeader { .. })),
            "{what}: inspect says {:?}",
            seen.header_error
        );
    }
    // The committed length (outside the checksummed part) below the heap start.
    let mut bad = real.clone();
    let at = COMMITTED_LEN_OFFSET as usize;
    bad[at..at + 8].copy_from_slice(&(fixed.heap_offset - 4096).to_le_bytes());
    let path = write_file(&dir, "bad", &bad);
    match Store::open(&path) {
        Err(OpenError::CorruptHeader { .. }) => {}
        other => panic!("committed below the heap: expected CorruptHeader, got {other:?}"),
    }
    // The untouched header opens (the cases above differ from it only in their field).
    let path = write_file(&dir, "good", &real);
    assert!(inspect(Path::new(&path)).header_ok);
    Store::open(&path).expect("the real header");
}

#[test]
fn directories_and_symlinks_are_not_stores() {
    let dir = TempDir::new("err-dir");
    let sub = dir.store_path("subdir");
    std::fs::create_dir(&sub).unwrap();
    match Store::open(&sub) {
        Err(OpenError::NotAStore { .. }) => {}
        other => panic!("directory: expected NotAStore, got {other:?}"),
    }
    // A symlink to a real store is refused too (O_NOFOLLOW): a link planted in a shared
    // directory must not redirect a store.
    let target = dir.store_path("target");
    drop(Store::create(&target, &StoreOptions::default()).unwrap());
    let link = dir.store_path("link");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    match Store::open(&link) {
        Err(OpenError::NotAStore { .. }) => {}
        other => panic!("symlink: expected NotAStore, got {other:?}"),
    }
    // A FIFO is neither opened for long nor taken for a store.
    let fifo = dir.store_path("fifo");
    let c = std::ffi::CString::new(fifo.clone()).unwrap();
    // SAFETY: valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    match Store::open(&fifo) {
        Err(OpenError::NotAStore { .. }) => {}
        other => panic!("fifo: expected NotAStore, got {other:?}"),
    }
}

#[test]
fn a_file_holding_only_the_magic_is_a_truncated_store() {
    // Eight bytes are enough to recognise a store (the magic); the rest of the header is
    // missing, which is a truncated store, not a foreign file.
    let dir = TempDir::new("err-magic-only");
    let real = real_store_bytes(&dir);
    let path = write_file(&dir, "magic", &real[..8]);
    match Store::open(&path) {
        Err(OpenError::Truncated { len: 8, .. }) => {}
        other => panic!("expected Truncated, got {other:?}"),
    }
    let path = write_file(&dir, "seven", &real[..7]);
    assert!(matches!(
        Store::open(&path),
        Err(OpenError::NotAStore { .. })
    ));
}

#[test]
fn other_failures_to_open_are_io_errors_with_their_errno() {
    // Only "not a regular file" answers (symlink, directory, device) mean "not a store"; any
    // other failure is reported as it is, errno included.
    let dir = TempDir::new("err-enotdir");
    let file = write_file(&dir, "plain", b"not a directory");
    let below_a_file = format!("{file}/store");
    match Store::open(&below_a_file) {
        Err(OpenError::Io { source, .. }) => {
            assert_eq!(source.raw_os_error(), Some(libc::ENOTDIR), "{source}")
        }
        other => panic!("expected Io(ENOTDIR), got {other:?}"),
    }
}

#[test]
fn unreadable_file_is_permission_denied() {
    let dir = TempDir::new("err-perm");
    let path = dir.store_path("locked");
    drop(Store::create(&path, &StoreOptions::default()).unwrap());
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o000)).unwrap();
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let check = {
        let path = path.clone();
        move || match Store::open(&path) {
            Err(OpenError::PermissionDenied { .. }) => 0,
            other => {
                eprintln!("expected PermissionDenied, got {other:?}");
                1
            }
        }
    };
    if !root {
        assert_eq!(check(), 0);
        return;
    }
    // Root ignores file permissions: check as an unprivileged user in a child instead.
    let mut child = fork_child(move || {
        // SAFETY: dropping privileges in the child only.
        let ok = unsafe { libc::setgid(65534) == 0 && libc::setuid(65534) == 0 };
        if !ok {
            eprintln!(
                "cannot drop privileges: {}",
                std::io::Error::last_os_error()
            );
            return 77;
        }
        check()
    });
    match child.wait_timeout(Duration::from_secs(30)) {
        Exit::Code(0) => {}
        Exit::Code(77) => {
            cannot_run_here("running as root and cannot switch to an unprivileged user")
        }
        other => panic!("child: {other:?}"),
    }
}

#[test]
fn invalid_names_are_refused() {
    let long = "x".repeat(201);
    for name in [
        "",
        "a b",
        "..",
        ".",
        ".hidden",
        "tab\tname",
        "nul\0name",
        "ünïcode",
        &long,
        "dir/",
    ] {
        match Store::open(name) {
            Err(OpenError::InvalidName(_)) => {}
            other => panic!("{name:?}: expected InvalidName, got {other:?}"),
        }
        match Store::create(name, &StoreOptions::default()) {
            Err(shmkit::CreateError::InvalidName(_)) => {}
            other => panic!("create {name:?}: expected InvalidName, got {other:?}"),
        }
    }
    assert!(matches!(
        Store::open("no-such-store-errors-test"),
        Err(OpenError::NotFound { .. })
    ));
}

#[test]
fn header_limits_are_exact() {
    // Each limit read_header checks is met exactly once here: a check off by one (`<=` for
    // `<`) refuses a valid store or misreports a truncated one.
    let dir = TempDir::new("err-limits");
    let real = real_store_bytes(&dir);
    let fixed = ImmutableHeader::from_bytes(real[..CHECKSUMMED_LEN].try_into().unwrap());
    let at = COMMITTED_LEN_OFFSET as usize;
    let committed = u64::from_le_bytes(real[at..at + 8].try_into().unwrap());
    assert!(committed > HEADER_LEN && committed > fixed.heap_offset);

    // Exactly the header page: the header is whole, so the file is judged against the
    // committed length it declares, not against the header's.
    let path = write_file(&dir, "header-only", &real[..HEADER_LEN as usize]);
    match Store::open(&path) {
        Err(OpenError::Truncated { len, expected, .. }) => {
            assert_eq!((len, expected), (HEADER_LEN, committed));
        }
        other => panic!("header page only: expected Truncated, got {other:?}"),
    }

    let with = |reserved: u64, committed: u64| {
        let mut header = fixed;
        header.reserved_len = reserved;
        let mut bytes = real.clone();
        bytes[..CHECKSUMMED_LEN].copy_from_slice(&header.to_bytes());
        recompute_checksum(&mut bytes);
        bytes[at..at + 8].copy_from_slice(&committed.to_le_bytes());
        bytes
    };
    let cases = [
        (
            "committed exactly at the heap start",
            fixed.reserved_len,
            fixed.heap_offset,
        ),
        ("committed exactly the reservation", committed, committed),
        ("no heap at all", fixed.heap_offset, fixed.heap_offset),
    ];
    for (what, reserved, committed) in cases {
        let path = write_file(&dir, "limit", &with(reserved, committed));
        let store = Store::open(&path).unwrap_or_else(|e| panic!("{what}: {e}"));
        assert_eq!(store.committed_len(), committed, "{what}");
    }
}
