//! Size classes of the store allocator: 16-byte steps up to 64 bytes, then four classes per
//! power of two (`2^k * 5/4, 6/4, 7/4, 8/4`), so a block wastes at most 25% of its payload.
//!
//! ```
//! use shmkit::store::alloc_classes::{class_for, capacity_of};
//! assert_eq!(capacity_of(class_for(1).unwrap()), 16);
//! assert_eq!(capacity_of(class_for(65).unwrap()), 80);
//! assert_eq!(capacity_of(class_for(1 << 30).unwrap()), 1 << 30);
//! ```

/// Number of size classes (capacities from 16 bytes to 2^46 bytes).
pub const CLASS_COUNT: u32 = 4 + 40 * 4;
/// Bytes of header before every block's payload.
pub const BLOCK_HEADER_LEN: u64 = 16;
/// Largest payload a single block can hold.
pub const MAX_CAPACITY: u64 = 1 << 46;
/// Classes whose whole block is at most this many bytes are carved several at a time.
pub const SMALL_BLOCK_LIMIT: u64 = 16 * 1024;
/// Bytes carved at once for a small class.
pub const CARVE_CHUNK: u64 = 32 * 1024;

/// Payload capacity of `class`.
pub const fn capacity_of(class: u32) -> u64 {
    if class < 4 {
        16 * (class as u64 + 1)
    } else {
        let k = 6 + (class - 4) / 4;
        let i = (class - 4) % 4 + 1;
        (1u64 << k) + i as u64 * ((1u64 << k) / 4)
    }
}

/// Whole block length (header + payload) of `class`.
pub const fn block_len_of(class: u32) -> u64 {
    capacity_of(class) + BLOCK_HEADER_LEN
}

/// The smallest class whose capacity holds `size` bytes, or `None` past [`MAX_CAPACITY`].
pub fn class_for(size: u64) -> Option<u32> {
    if size <= 64 {
        return Some((size.max(1) as u32).div_ceil(16) - 1);
    }
    if size > MAX_CAPACITY {
        return None;
    }
    let k = 63 - (size - 1).leading_zeros(); // size in (2^k, 2^(k+1)]
    let quarter = (1u64 << k) / 4;
    let i = (size - (1u64 << k)).div_ceil(quarter) as u32; // 1..=4
    Some(4 + (k - 6) * 4 + (i - 1))
}

/// How many blocks of `class` one carve produces.
pub const fn carve_count(class: u32) -> u64 {
    let len = block_len_of(class);
    if len > SMALL_BLOCK_LIMIT {
        1
    } else {
        CARVE_CHUNK / len
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_are_increasing_and_tight() {
        let mut prev = 0;
        for c in 0..CLASS_COUNT {
            let cap = capacity_of(c);
            assert!(cap > prev, "class {c}");
            assert_eq!(cap % 16, 0);
            assert_eq!(class_for(cap), Some(c));
            assert_eq!(class_for(prev + 1), Some(c));
            prev = cap;
        }
        assert_eq!(capacity_of(CLASS_COUNT - 1), MAX_CAPACITY);
        assert_eq!(class_for(MAX_CAPACITY + 1), None);
        assert_eq!(class_for(0), Some(0));
    }

    #[test]
    fn waste_is_bounded() {
        for size in (65..100_000u64).step_by(7) {
            let cap = capacity_of(class_for(size).unwrap());
            assert!(cap >= size && (cap - size) * 4 <= size, "{size} -> {cap}");
        }
    }
}
