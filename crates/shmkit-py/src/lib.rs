//! Python bindings of shmkit (built by maturin).
