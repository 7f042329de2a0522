//! Binaries run as separate processes — the services, the runner — for tests that kill them.
//!
//! A test that panics must not leave its process running: the orphan would keep the test's output
//! pipe open and the test run would never end. The guard kills the process when it is dropped.

use std::process::{Child, Command, ExitStatus};

/// A running process that is killed (SIGKILL) and reaped when this guard is dropped.
pub struct GuardedProcess(Child);

impl GuardedProcess {
    /// Starts `command`.
    pub fn spawn(command: &mut Command) -> Self {
        Self(command.spawn().expect("start the binary"))
    }

    /// Whether it has exited, and how (`None`: still running).
    pub fn finished(&mut self) -> Option<ExitStatus> {
        self.0.try_wait().expect("the process's status")
    }

    /// Kills the process at once, as a crash would (SIGKILL), and waits for it to go.
    pub fn kill(mut self) {
        self.kill_now();
    }

    fn kill_now(&mut self) {
        // It may already have exited; either way nothing is left running.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for GuardedProcess {
    fn drop(&mut self) {
        self.kill_now();
    }
}
