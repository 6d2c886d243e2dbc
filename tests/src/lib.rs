//! The end-to-end test harness: a lab folder per test, pcap files in and out, and the real
//! `traffic-mirror` binary run as a child process with its own DPDK file prefix.
//!
//! DPDK, root and the tools a test needs are requirements, not options: a test that cannot
//! have them fails with a message saying what is missing, never passes silently.

pub mod config;
pub mod expect;
pub mod netns;
pub mod scale;
pub mod traffic;

use pcap_file::pcap::{PcapPacket, PcapReader, PcapWriter};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// Two ports, `host` and `uplink`, on the DPDK devices given (`{lab}` stands for the lab
/// folder), linked, and one worker on 256 MB of ordinary memory: the first lines of a
/// config, as TOML (its first line blank). For the tests whose text is under test (a bad
/// configuration's line numbers); others build theirs with [`config::Setup`].
pub fn linked_ports(host: &str, uplink: &str) -> String {
    format!(
        r#"
[dataplane]
workers = 1
eal_args = ["--no-huge", "-m", "256", "--no-pci"]

[[port]]
name = "host"
device = "{host}"

[[port]]
name = "uplink"
device = "{uplink}"

[[link]]
ports = ["host", "uplink"]
"#
    )
}

/// The workspace root.
pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ is inside the workspace").to_path_buf()
}

/// The `traffic-mirror` binary of the same profile as the tests, built (or found up to date)
/// once per test process.
pub fn binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| built("control", "traffic-mirror"))
}

/// Binary `bin` of workspace package `package`, of the same profile as the tests, built (or
/// found up to date) with cargo.
pub fn built(package: &str, bin: &str) -> PathBuf {
    let release = !cfg!(debug_assertions);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace()).args(["build", "--quiet", "-p", package, "--bin", bin]);
    without_cargo_test_env(&mut cmd);
    if release {
        cmd.arg("--release");
    }
    let status = cmd.status().unwrap_or_else(|e| panic!("running cargo build for {bin}: {e}"));
    assert!(status.success(), "cargo build of {bin} failed");
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace().join("target"));
    let path = target.join(if release { "release" } else { "debug" }).join(bin);
    assert!(path.is_file(), "{} was not built", path.display());
    path
}

/// Takes from `cmd` (a cargo build started by a test) what cargo set for the test process:
/// build scripts that watch such variables (ring's, through cc) would otherwise rebuild for
/// that build and again for the next `cargo test`, minutes each time.
pub fn without_cargo_test_env(cmd: &mut Command) {
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy();
        if (k.starts_with("CARGO_") && k != "CARGO_HOME" && k != "CARGO_TARGET_DIR") || k == "OUT_DIR" || k.starts_with("RUST_TEST") {
            cmd.env_remove(k.as_ref());
        }
    }
}

/// Fails the test unless running as root (DPDK's runtime directory, net_tap, namespaces).
pub fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(euid, 0, "this test needs root (DPDK runtime files, TAP devices, namespaces); run it as root");
}

/// Fails the test unless `tool` is on PATH, naming the package that provides it.
pub fn require_tool(tool: &str, package: &str) {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false);
    assert!(found, "this test needs `{tool}` (Debian package {package}); run scripts/setup.sh");
}

/// A test's working folder, removed at the end unless the test failed.
pub struct Lab {
    dir: tempfile::TempDir,
    /// DPDK file prefix, unique to this test and process.
    pub prefix: String,
}

/// A traffic-mirror started by [`Lab::spawn`]: killed when dropped, unless [`Lab::finish`]
/// took it, so that a failing test never leaves a dataplane spinning.
pub struct Running(Option<Child>);

impl Running {
    /// The process id, for signals.
    pub fn id(&self) -> u32 {
        self.0.as_ref().expect("a running process").id()
    }

    /// Whether it has exited.
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.0.as_mut().expect("a running process").try_wait()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        remove_runtime_dir(&self.prefix);
    }
}

/// Removes DPDK's runtime folder of a file prefix: DPDK leaves it behind at exit, so every
/// run of a test or benchmark would leave one.
pub fn remove_runtime_dir(file_prefix: &str) {
    let _ = std::fs::remove_dir_all(Path::new("/var/run/dpdk").join(file_prefix));
}

/// Runs a command (program and arguments), which must succeed; returns its standard output.
pub fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0]).args(&args[1..]).output().unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(out.status.success(), "{args:?} failed:\n{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What a finished run left behind.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    /// The `--stats-json` report, when one was written.
    pub stats: Option<serde_json::Value>,
}

impl Run {
    /// Panics with the run's output unless it exited 0.
    pub fn assert_ok(&self) -> &Self {
        assert_eq!(self.code, Some(0), "traffic-mirror failed\n--- stdout\n{}\n--- stderr\n{}", self.stdout, self.stderr);
        self
    }

    /// The stats report, which a successful run with `--stats-json` always has.
    pub fn stats(&self) -> &serde_json::Value {
        self.stats.as_ref().expect("the run wrote no --stats-json report")
    }
}

impl Lab {
    /// A fresh lab for test `name`.
    pub fn new(name: &str) -> Lab {
        let dir = tempfile::Builder::new().prefix(&format!("tm-{name}-")).tempdir().expect("creating a temporary folder");
        Lab { dir, prefix: format!("tm-e2e-{name}-{}", std::process::id()) }
    }

    /// A path inside the lab.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The lab folder, as a string for configs.
    pub fn root(&self) -> String {
        self.dir.path().display().to_string()
    }

    /// Writes `frames` as a pcap file.
    pub fn write_pcap<'a>(&self, name: &str, frames: impl IntoIterator<Item = &'a [u8]>) -> PathBuf {
        let path = self.path(name);
        write_pcap(&path, frames);
        path
    }

    /// Writes a config file (after replacing `{lab}` with the lab folder) and returns its path.
    /// Unless the text has a `[control]` table, the control socket goes in the lab, so that
    /// parallel tests never share one.
    pub fn config(&self, text: &str) -> PathBuf {
        let path = self.path("config.toml");
        let mut text = text.replace("{lab}", &self.root());
        if !text.contains("[control]") {
            text.push_str(&format!("\n[control]\nsocket = \"{}\"\n", self.socket().display()));
        }
        std::fs::write(&path, text).expect("writing the config");
        path
    }

    /// The control socket of this lab's runs.
    pub fn socket(&self) -> PathBuf {
        self.path("control.sock")
    }

    /// A client of the running instance's control API, once it answers requests (at most
    /// 30 s). A bound socket is not enough: connections queue before the control loop (and its
    /// signal handlers) is running.
    pub fn client(&self, child: &mut Running) -> control::api::Client {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(mut c) = control::api::Client::connect(&self.socket()) {
                if matches!(c.call(&control::api::actions::DescribePorts {}), Ok(Ok(_))) {
                    return c;
                }
            }
            if let Some(status) = child.try_wait().expect("polling traffic-mirror") {
                let log = std::fs::read_to_string(self.path("run.stderr")).unwrap_or_default();
                panic!("traffic-mirror exited ({status}) before its control socket answered:\n{log}");
            }
            assert!(std::time::Instant::now() < deadline, "the control socket never answered");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The EAL arguments every run gets: its own file prefix, quiet DPDK logs.
    pub fn eal_args(&self) -> Vec<String> {
        vec!["--file-prefix".into(), self.prefix.clone(), "--log-level=lib.eal:warning".into()]
    }

    /// Runs `traffic-mirror run` on `config` until the ports have been idle for 300 ms (at
    /// most `timeout`), with a JSON report.
    pub fn run(&self, config: &Path, timeout: Duration) -> Run {
        let stats = self.path("stats.json");
        let _ = std::fs::remove_file(&stats);
        let mut cmd = Command::new(binary());
        cmd.args(["run", "--config"]).arg(config).args(["--exit-on-idle", "300", "--stats-json"]).arg(&stats).arg("--").args(self.eal_args());
        let out = run_with_timeout(cmd, timeout);
        Run {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            stats: std::fs::read_to_string(&stats).ok().map(|s| serde_json::from_str(&s).expect("stats JSON parses")),
        }
    }

    /// Starts `traffic-mirror run` on `config` in the background (stop it with a signal). Its
    /// output goes to files in the lab, not pipes: a long run logs more than a pipe holds, and
    /// nobody reads a pipe until the end. [`Lab::finish`] collects it; if the test fails first,
    /// dropping the guard kills the process.
    pub fn spawn(&self, config: &Path, extra: &[&str]) -> Running {
        self.spawn_with_eal(config, extra, &self.eal_args())
    }

    /// [`Lab::spawn`] with these EAL arguments instead of the lab's own (its file prefix
    /// included).
    pub fn spawn_with_eal(&self, config: &Path, extra: &[&str], eal: &[String]) -> Running {
        let stats = self.path("stats.json");
        let _ = std::fs::remove_file(&stats);
        let out = std::fs::File::create(self.path("run.stdout")).expect("creating run.stdout");
        let err = std::fs::File::create(self.path("run.stderr")).expect("creating run.stderr");
        Command::new(binary())
            .args(["run", "--config"])
            .arg(config)
            .arg("--stats-json")
            .arg(&stats)
            .args(extra)
            .arg("--")
            .args(eal)
            .stdout(out)
            .stderr(err)
            .spawn()
            .map(|c| Running(Some(c)))
            .expect("starting traffic-mirror")
    }

    /// Waits for a spawned run to end (at most 60 s) and collects what it left behind.
    pub fn finish(&self, mut running: Running) -> Run {
        let mut child = running.0.take().expect("a running process");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let status = loop {
            if let Some(status) = child.try_wait().expect("waiting for traffic-mirror") {
                break status;
            }
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                panic!("traffic-mirror did not stop within 60 s\n{}", std::fs::read_to_string(self.path("run.stderr")).unwrap_or_default());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let stats = self.path("stats.json");
        Run {
            code: status.code(),
            stdout: std::fs::read_to_string(self.path("run.stdout")).unwrap_or_default(),
            stderr: std::fs::read_to_string(self.path("run.stderr")).unwrap_or_default(),
            stats: std::fs::read_to_string(&stats).ok().map(|s| serde_json::from_str(&s).expect("stats JSON parses")),
        }
    }
}

/// Runs `cmd` to completion, killing it after `timeout`. Its output is read while it runs, so
/// a chatty command never blocks on a full pipe.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> Output {
    use std::io::Read;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("starting a command");
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            buf
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("piped stdout")));
    let err = drain(Box::new(child.stderr.take().expect("piped stderr")));
    let deadline = std::time::Instant::now() + timeout;
    let status = loop {
        if let Some(status) = child.try_wait().expect("waiting for a command") {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "command timed out after {timeout:?}\n--- stdout\n{}\n--- stderr\n{}",
                String::from_utf8_lossy(&out.join().unwrap_or_default()),
                String::from_utf8_lossy(&err.join().unwrap_or_default())
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() }
}

/// Writes `frames` to a pcap file (Ethernet, microsecond timestamps).
pub fn write_pcap<'a>(path: &Path, frames: impl IntoIterator<Item = &'a [u8]>) {
    let file = std::io::BufWriter::new(std::fs::File::create(path).expect("creating a pcap file"));
    let mut w = PcapWriter::new(file).expect("pcap header");
    for (i, f) in frames.into_iter().enumerate() {
        let ts = Duration::from_micros(i as u64);
        w.write_packet(&PcapPacket::new(ts, f.len() as u32, f)).expect("writing a frame");
    }
}

/// Every frame of a pcap file.
pub fn read_pcap(path: &Path) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
    let mut r = PcapReader::new(std::io::BufReader::new(file)).expect("pcap header");
    let mut out = Vec::new();
    while let Some(p) = r.next_packet() {
        out.push(p.expect("a pcap record").data.into_owned());
    }
    out
}

/// Compares two frame lists and says where they first differ.
pub fn assert_same_frames(what: &str, got: &[Vec<u8>], want: &[Vec<u8>]) {
    if let Some(i) = got.iter().zip(want).position(|(a, b)| a != b) {
        panic!("{what}: frame {i} differs\n got  {:02x?}\n want {:02x?}", &got[i][..got[i].len().min(80)], &want[i][..want[i].len().min(80)]);
    }
    assert_eq!(got.len(), want.len(), "{what}: {} frames, expected {}", got.len(), want.len());
}
