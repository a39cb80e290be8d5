//! [`Rng`]: a small seeded random number generator.

/// A small deterministic PRNG (xorshift64*), so tests need no extra dependency. The same
/// seed gives the same sequence; when an `Rng` is dropped during a panic (a failing test, or
/// a forked child's failing closure) it prints its seed to stderr, so the run can be
/// repeated with `Rng::new(seed)`.
#[derive(Debug)]
pub struct Rng {
    state: u64,
    seed: u64,
}

impl Rng {
    /// A generator starting from `seed`, which must not be 0 (xorshift would stay at 0).
    pub fn new(seed: u64) -> Rng {
        assert_ne!(seed, 0, "an xorshift seed must not be 0");
        Rng { state: seed, seed }
    }

    /// The seed this generator started from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The next number of the sequence.
    #[allow(clippy::should_implement_trait)] // infinite: an Iterator's Option would only be noise
    pub fn next(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

impl Drop for Rng {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("Rng seed: {:#x} (pid {})", self.seed, std::process::id());
        }
    }
}
