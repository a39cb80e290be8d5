//! The checked-in header `include/shmkit.h` is what cbindgen generates from this crate now:
//! a change to the C API that was not followed by regenerating the header fails here (and so
//! in CI). `SHMKIT_BLESS=1` writes the new header instead.

use std::path::Path;

#[test]
fn the_checked_in_header_is_current() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen generates the header");
    let mut generated = Vec::new();
    bindings.write(&mut generated);
    let path = dir.join("include/shmkit.h");
    if std::env::var_os("SHMKIT_BLESS").is_some() {
        std::fs::write(&path, &generated).expect("write the header");
        return;
    }
    let current = std::fs::read(&path).unwrap_or_default();
    assert!(
        current == generated,
        "{} is stale: the C API changed. Regenerate it with\n    \
         SHMKIT_BLESS=1 cargo test -p shmkit-capi --test header_is_current\n\
         and commit it.",
        path.display()
    );
}
