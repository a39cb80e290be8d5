//! The benchmark's worker processes: started through the [`WorkerCommand`] (the `shmkit`
//! binary again, with its hidden `bench-worker` subcommand), driven over their stdin, heard
//! over their stdout (one reader thread per worker feeding one channel); the protocol is in
//! [`crate::worker`].
//!
//! Invariants: a [`Workers`] value owns its processes; dropping it kills and reaps every
//! one still running, so no worker outlives a failed or interrupted benchmark. A worker
//! that closes its stdout is reported as [`Msg::Gone`], never waited for forever.
//!
//! ```text
//! let mut w = Workers::spawn(&command, &args, 2)?;
//! w.wait_ready(Duration::from_secs(30))?;
//! let outcomes = w.run_phase("load 2 1001", &bar, false, &stop)?;
//! w.finish();
//! ```

use crate::BenchError;
use crate::harness::{Outcome, STALL_TIMEOUT, WorkerCommand};
use crate::worker::WorkerArgs;
use indicatif::ProgressBar;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

/// What a worker said.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Attached and waiting for commands.
    Ready,
    /// Operations done so far in the current phase.
    Progress(u64),
    /// The first wrong value it saw.
    Note(String),
    /// The phase finished.
    Done(Outcome),
    /// It failed and exits.
    Fatal(String),
    /// Its stdout closed (it exited or crashed).
    Gone,
}

/// A message from worker number `worker`.
#[derive(Clone, Debug)]
pub struct Event {
    /// Which worker.
    pub worker: usize,
    /// What it said.
    pub msg: Msg,
}

/// Running worker processes.
pub struct Workers {
    children: Vec<Child>,
    stdins: Vec<ChildStdin>,
    rx: Receiver<Event>,
}

fn parse(line: &str) -> Msg {
    let mut words = line.splitn(2, ' ');
    let head = words.next().unwrap_or("");
    let rest = words.next().unwrap_or("");
    let nums: Vec<u64> = rest
        .split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect();
    match head {
        "ready" => Msg::Ready,
        "progress" => Msg::Progress(nums.first().copied().unwrap_or(0)),
        "note" => Msg::Note(rest.to_string()),
        "done" if nums.len() == 4 => Msg::Done(Outcome {
            ops: nums[0],
            errors: nums[1],
            written: nums[2],
            nanos: nums[3],
            first_error: None,
        }),
        "fatal" => Msg::Fatal(rest.to_string()),
        _ => Msg::Fatal(format!("unexpected message {line:?}")),
    }
}

impl Workers {
    /// Starts `count` workers with `args` (each with its own index) through `command`.
    pub fn spawn(
        command: &WorkerCommand,
        args: &WorkerArgs,
        count: usize,
    ) -> Result<Workers, BenchError> {
        let (tx, rx) = channel();
        let mut workers = Workers {
            children: Vec::new(),
            stdins: Vec::new(),
            rx,
        };
        for w in 0..count {
            let own = WorkerArgs {
                worker: w as u64,
                ..args.clone()
            };
            let mut child = Command::new(&command.program)
                .args(&command.args)
                .args(own.to_args())
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .map_err(|e| {
                    BenchError::failed(format!(
                        "cannot start a worker process ({}): {e}",
                        command.program.display()
                    ))
                })?;
            let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
                workers.children.push(child);
                return Err(BenchError::failed("worker process has no pipes"));
            };
            workers.children.push(child);
            workers.stdins.push(stdin);
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    if tx
                        .send(Event {
                            worker: w,
                            msg: parse(&line),
                        })
                        .is_err()
                    {
                        return;
                    }
                }
                let _ = tx.send(Event {
                    worker: w,
                    msg: Msg::Gone,
                });
            });
        }
        Ok(workers)
    }

    /// Number of workers.
    fn len(&self) -> usize {
        self.children.len()
    }

    /// Waits until every worker said `ready`.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), BenchError> {
        let deadline = Instant::now() + timeout;
        let mut ready = 0;
        while ready < self.len() {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.rx.recv_timeout(left) {
                Ok(Event {
                    msg: Msg::Ready, ..
                }) => ready += 1,
                Ok(Event { worker, msg }) => {
                    return Err(BenchError::failed(format!(
                        "worker {worker} failed to start: {msg:?}"
                    )));
                }
                Err(_) => return Err(BenchError::failed("workers did not start in time")),
            }
        }
        Ok(())
    }

    /// Sends one command line to every worker.
    pub fn send_all(&mut self, command: &str) -> Result<(), BenchError> {
        for (w, stdin) in self.stdins.iter_mut().enumerate() {
            writeln!(stdin, "{command}")
                .and_then(|_| stdin.flush())
                .map_err(|e| BenchError::failed(format!("worker {w} is gone: {e}")))?;
        }
        Ok(())
    }

    /// The next message, if one arrives within `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<Event> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Sends `command` to every worker and collects their outcomes (in worker order),
    /// driving the progress bar `b` (time for a timed phase, else operations).
    pub fn run_phase(
        &mut self,
        command: &str,
        b: &ProgressBar,
        timed: bool,
        stop: &AtomicBool,
    ) -> Result<Vec<Outcome>, BenchError> {
        let n = self.len();
        let mut done: Vec<Option<Outcome>> = vec![None; n];
        let mut notes: Vec<Option<String>> = vec![None; n];
        let mut progress = vec![0u64; n];
        let start = Instant::now();
        let mut last_heard = Instant::now();
        self.send_all(command)?;
        while done.iter().any(Option::is_none) {
            if stop.load(Ordering::Relaxed) {
                return Err(BenchError::Interrupted); // dropping `self` kills the workers
            }
            if let Some(ev) = self.recv(Duration::from_millis(50)) {
                last_heard = Instant::now();
                match ev.msg {
                    Msg::Progress(ops) => progress[ev.worker] = ops,
                    Msg::Note(text) => notes[ev.worker] = Some(text),
                    Msg::Done(mut o) => {
                        o.first_error = notes[ev.worker].take();
                        progress[ev.worker] = o.ops;
                        done[ev.worker] = Some(o);
                    }
                    Msg::Fatal(text) => {
                        return Err(BenchError::failed(format!(
                            "worker {} failed: {text}",
                            ev.worker
                        )));
                    }
                    Msg::Gone => {
                        // Ctrl-C on a terminal reaches the workers too, and they may die
                        // before this process notices its own signal: give the flag a moment.
                        std::thread::sleep(Duration::from_millis(200));
                        if stop.load(Ordering::Relaxed) {
                            return Err(BenchError::Interrupted);
                        }
                        return Err(BenchError::failed(format!(
                            "worker {} exited unexpectedly",
                            ev.worker
                        )));
                    }
                    Msg::Ready => {}
                }
            } else if last_heard.elapsed() > STALL_TIMEOUT {
                return Err(BenchError::failed(format!(
                    "no word from the workers for {} s",
                    STALL_TIMEOUT.as_secs()
                )));
            }
            let total: u64 = progress.iter().sum();
            if timed {
                b.set_position(start.elapsed().as_millis() as u64);
                b.set_message(format!("{total} ops"));
            } else {
                b.set_position(total);
            }
        }
        Ok(done.into_iter().flatten().collect())
    }

    /// Asks every worker to quit and reaps them (killing any that do not leave in time).
    pub fn finish(mut self) {
        let _ = self.send_all("quit");
        self.stdins.clear(); // EOF for anyone who missed "quit"
        let deadline = Instant::now() + Duration::from_secs(5);
        for child in &mut self.children {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        // Drop kills and reaps whatever is left.
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.children {
            if let Ok(None) = child.try_wait() {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_parse() {
        assert_eq!(parse("ready"), Msg::Ready);
        assert_eq!(parse("progress 42"), Msg::Progress(42));
        assert_eq!(
            parse("note key 3: missing"),
            Msg::Note("key 3: missing".into())
        );
        assert_eq!(
            parse("done 1 2 3 4"),
            Msg::Done(Outcome {
                ops: 1,
                errors: 2,
                written: 3,
                nanos: 4,
                first_error: None
            })
        );
        assert!(matches!(parse("done 1"), Msg::Fatal(_)));
        assert_eq!(parse("fatal store full"), Msg::Fatal("store full".into()));
    }
}
