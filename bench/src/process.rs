//! Child processes of a benchmark run: killed and cleaned up after, whatever happens.

use std::process::Child;
use std::time::{Duration, Instant};

/// DPDK's runtime folder of a file prefix, removed when dropped (a benchmark run makes one per
/// scenario). Declared before the process handle, so dropped after the process has ended.
pub struct RuntimeDir(pub String);

impl Drop for RuntimeDir {
    fn drop(&mut self) {
        e2e::remove_runtime_dir(&self.0);
    }
}

pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        // SAFETY: signalling our own child.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGTERM) };
        // A process that stops cleanly writes out its capture files as it goes: on a loaded
        // machine (OVS pinned to a busy core) that took longer than 10 s, and a kill then
        // left ovs-copies.pcap cut in the middle of a frame.
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
