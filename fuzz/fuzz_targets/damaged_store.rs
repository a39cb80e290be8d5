//! A valid store (two hash maps filled with the sweep's keys) damaged as the input says:
//! each 5 bytes are a little-endian offset (modulo the file's length) and a byte XORed in
//! there; 3 bytes left over cut the file to that length (modulo its length). Every read,
//! check and repair path must return errors, never crash or hang, and hand out only entries
//! that were written (`Expect::Written`).
#![no_main]

mod common;
#[path = "../../crates/shmkit/tests/common/exercise.rs"]
#[allow(dead_code)]
mod exercise;

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn pristine() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| exercise::build_sweep_store(&common::scratch().store_path("pristine")))
}

fuzz_target!(|data: &[u8]| {
    let mut bytes = pristine().to_vec();
    let len = bytes.len();
    let mut ops = data.chunks_exact(5);
    for op in &mut ops {
        let at = u32::from_le_bytes([op[0], op[1], op[2], op[3]]) as usize % len;
        bytes[at] ^= op[4];
    }
    if let [a, b, c] = ops.remainder() {
        bytes.truncate(u32::from_le_bytes([*a, *b, *c, 0]) as usize % len);
    }
    let path = common::write_case("case", &bytes);
    exercise::exercise_store(
        &path,
        &exercise::Expect::Written {
            keys: exercise::SWEEP_KEYS,
        },
    );
    let _ = std::fs::remove_file(&path);
});
