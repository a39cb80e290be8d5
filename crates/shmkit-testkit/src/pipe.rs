//! [`Pipe`]: bytes from children to the parent, or a start gate.

/// A pipe for passing bytes from children to the parent, or as a start gate. Both ends are
/// close-on-exec and are closed when the `Pipe` drops (in each process that holds a copy).
#[derive(Debug)]
pub struct Pipe {
    /// The read end (-1 once closed).
    pub read: libc::c_int,
    /// The write end (-1 once closed).
    pub write: libc::c_int,
}

impl Pipe {
    /// A new pipe.
    #[allow(clippy::new_without_default)] // it makes a system call and may fail
    pub fn new() -> Pipe {
        let mut fds = [0; 2];
        // SAFETY: `fds` is a writable array of two ints.
        let r = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
        assert_eq!(r, 0, "pipe2: {}", std::io::Error::last_os_error());
        Pipe {
            read: fds[0],
            write: fds[1],
        }
    }

    /// Writes all of `data` to the write end (atomic for <= PIPE_BUF bytes).
    pub fn send(&self, data: &[u8]) {
        let mut done = 0;
        while done < data.len() {
            // SAFETY: the pointer and length describe a live slice.
            let n =
                unsafe { libc::write(self.write, data[done..].as_ptr().cast(), data.len() - done) };
            assert!(n > 0, "pipe write: {}", std::io::Error::last_os_error());
            done += n as usize;
        }
    }

    /// Closes the write end (in this process).
    pub fn close_write(&mut self) {
        if self.write >= 0 {
            // SAFETY: closing our own descriptor once.
            unsafe { libc::close(self.write) };
            self.write = -1;
        }
    }

    /// Closes the read end (in this process).
    pub fn close_read(&mut self) {
        if self.read >= 0 {
            // SAFETY: closing our own descriptor once.
            unsafe { libc::close(self.read) };
            self.read = -1;
        }
    }

    /// In a child: closes its inherited copy of the write end, then blocks until the parent
    /// closes its own (a start gate that opens for all children at once).
    pub fn wait_closed(&self) {
        // SAFETY: closing this process's copy of the descriptor; the struct is not used to
        // write afterwards in this process.
        unsafe { libc::close(self.write) };
        let mut b = [0u8; 1];
        loop {
            // SAFETY: reading into a one-byte local buffer.
            let n = unsafe { libc::read(self.read, b.as_mut_ptr().cast(), 1) };
            if n == 0
                || (n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR))
            {
                return;
            }
        }
    }

    /// Reads exactly `n` bytes, blocking until they arrive; fails if every writer closed
    /// its end first.
    pub fn read_exact(&self, n: usize) -> Vec<u8> {
        let mut out = vec![0u8; n];
        let mut done = 0;
        while done < n {
            // SAFETY: reading into the unfilled tail of a local buffer.
            let r = unsafe { libc::read(self.read, out[done..].as_mut_ptr().cast(), n - done) };
            assert!(r > 0, "pipe read: {}", std::io::Error::last_os_error());
            done += r as usize;
        }
        out
    }

    /// Reads until every writer has closed its end (call `close_write` first).
    pub fn read_all(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: reading into a local buffer of the given length.
            let n = unsafe { libc::read(self.read, buf.as_mut_ptr().cast(), buf.len()) };
            if n == 0 {
                return out;
            }
            if n < 0 {
                if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                panic!("pipe read: {}", std::io::Error::last_os_error());
            }
            out.extend_from_slice(&buf[..n as usize]);
        }
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        self.close_write();
        self.close_read();
    }
}
