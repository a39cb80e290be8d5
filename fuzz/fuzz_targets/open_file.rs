//! Arbitrary bytes as a store file: inspecting, opening and every read, check and repair
//! path must return errors, never crash or hang (`Expect::Anything`: the file may happen to
//! be a store whose entries are whatever the input says).
#![no_main]

mod common;
#[path = "../../crates/shmkit/tests/common/exercise.rs"]
#[allow(dead_code)]
mod exercise;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = common::write_case("case", data);
    exercise::exercise_store(&path, &exercise::Expect::Anything);
    let _ = std::fs::remove_file(&path);
});
