//! dpdk-testpmd on the same capture and devices: the devices' own forwarding path, for reference.

use crate::process::{Killed, RuntimeDir};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Mpps and Gbit/s of dpdk-testpmd forwarding (`mode`: io, say) from the
/// capture into net_null, on one core.
///
/// testpmd prints port statistics once a second; its first print has no rate yet. The stats are
/// read as they come and testpmd is stopped once the warm-up and window seconds are sampled, so a
/// slow start on a loaded machine only delays the measurement rather than losing it.
pub fn measure_testpmd(input: &Path, mode: &str, warm: Duration, window: Duration) -> (f64, f64) {
    use std::io::BufRead as _;
    let prefix = format!("tm-bench-testpmd-{}", std::process::id());
    let _runtime = RuntimeDir(prefix.clone());
    let child = Command::new("dpdk-testpmd")
        .args(["--no-huge", "-m", "1024", "--no-pci", "-l", "0-1", "--log-level=lib.eal:warning"])
        .args(["--file-prefix", &prefix])
        .arg("--vdev")
        .arg(format!("net_pcap0,rx_pcap={},infinite_rx=1", input.display()))
        .args(["--vdev", "net_null0,no-rx=1", "--"])
        .arg(format!("--forward-mode={mode}"))
        .args(["--auto-start", "--stats-period=1", "--nb-cores=1", "--total-num-mbufs=16384"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("running dpdk-testpmd (scripts/setup.sh installs it)");
    let mut child = Killed(child);
    // The first non-zero rate already covers the second second of forwarding: the first one
    // was warm-up.
    let skip = (warm.as_secs_f64().ceil() as usize).saturating_sub(1);
    let want = skip + (window.as_secs_f64().ceil() as usize).max(1);
    // The reader ends when testpmd exits; Killed ends it after the deadline at the latest.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.0.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30) + (warm + window) * 2;
    let (mut text, mut samples) = (String::new(), Vec::<(f64, f64)>::new());
    while samples.len() < want {
        let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) else { break };
        text.push_str(&line);
        text.push('\n');
        // Port 1 (net_null, no-rx) always reads 0; port 0's first print does too.
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first() == Some(&"Rx-pps:") {
            if let (Some(Ok(pps)), Some(Ok(bps))) = (f.get(1).map(|v| v.parse::<f64>()), f.get(3).map(|v| v.parse::<f64>())) {
                if pps > 0.0 {
                    samples.push((pps, bps));
                }
            }
        }
    }
    drop(child);
    assert!(samples.len() >= want, "testpmd printed {} of {want} rates in time:\n{text}", samples.len());
    let used = &samples[skip..];
    let n = used.len() as f64;
    (used.iter().map(|s| s.0).sum::<f64>() / n / 1e6, used.iter().map(|s| s.1).sum::<f64>() / n / 1e9)
}
