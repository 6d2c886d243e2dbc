//! The Debian package as an administrator meets it: built by scripts/package.sh, installed on
//! this machine with `dpkg -i`, its binary, example configuration, man pages, completions and
//! systemd unit where Debian puts them and working; then `dpkg -r` and `dpkg -P` leave nothing
//! behind but what Debian keeps (the conffile, until the purge).
//!
//! Root and dpkg are requirements: without them the test fails, it never skips. The package is
//! purged however the test ends, so a failure never leaves it installed.

use e2e::{require_root, require_tool, without_cargo_test_env, workspace};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

const PACKAGE: &str = "traffic-mirror";
const BIN: &str = "/usr/bin/traffic-mirror";
const CONFIG: &str = "/etc/traffic-mirror/traffic-mirror.toml";
const UNIT: &str = "/usr/lib/systemd/system/traffic-mirror.service";
const STATE: &str = "/var/lib/traffic-mirror";
/// Generous: this machine is shared with builds.
const PATIENCE: Duration = Duration::from_secs(120);

/// What an administrator looks for, and where Debian puts it.
const INSTALLED: &[&str] = &[
    BIN,
    CONFIG,
    UNIT,
    "/usr/share/man/man1/traffic-mirror.1.gz",
    "/usr/share/man/man1/traffic-mirror-run.1.gz",
    "/usr/share/man/man1/traffic-mirror-ctl.1.gz",
    "/usr/share/man/man1/traffic-mirror-ctl-create-traffic-mirror-session.1.gz",
    "/usr/share/bash-completion/completions/traffic-mirror",
    "/usr/share/zsh/vendor-completions/_traffic-mirror",
    "/usr/share/fish/vendor_completions.d/traffic-mirror.fish",
    "/usr/share/doc/traffic-mirror/README.md",
    "/usr/share/doc/traffic-mirror/copyright",
    "/usr/share/doc/traffic-mirror/examples/nic-pair.toml",
];

#[test]
fn the_package_installs_works_and_is_removed_and_purged_without_a_trace() {
    require_root();
    require_tool("dpkg", "dpkg");
    let status = dpkg_status();
    assert!(status.is_none(), "{PACKAGE} is already known to dpkg ({status:?}); this test installs and purges its own: dpkg -P {PACKAGE} first");
    assert!(!Path::new(BIN).exists(), "{BIN} exists but belongs to no package; the test would replace it");

    let deb = build();
    let _purge = PurgeOnDrop;
    ok(Command::new("dpkg").arg("-i").arg(&deb));
    assert_eq!(dpkg_status().as_deref(), Some("install ok installed"));
    let files = owned_files();
    for path in INSTALLED {
        assert!(files.iter().any(|f| f == Path::new(path)), "{path} is not in the package: {files:?}");
        assert!(Path::new(path).is_file(), "{path} was not installed");
    }

    let version = ok(Command::new(BIN).arg("--version"));
    assert_eq!(version, format!("traffic-mirror {}\n", env!("CARGO_PKG_VERSION")));
    let valid = ok(Command::new(BIN).args(["validate", CONFIG]));
    assert!(valid.contains(": valid: 3 ports"), "{valid}");
    man_pages_are_found_and_compressed();
    completions_are_the_binarys_own();
    the_unit_is_the_repositorys_and_enabled_but_not_started();
    the_example_runs_and_answers_the_api();

    // Removed: every file but the conffile goes; dpkg keeps its configuration.
    ok(Command::new("dpkg").args(["-r", PACKAGE]));
    assert_eq!(dpkg_status().as_deref(), Some("deinstall ok config-files"));
    for f in files.iter().filter(|f| !f.is_dir() && *f != Path::new(CONFIG)) {
        assert!(!f.exists(), "{} is left after dpkg -r", f.display());
    }
    assert!(!Path::new("/usr/share/doc/traffic-mirror").exists(), "/usr/share/doc/traffic-mirror is left after dpkg -r");
    assert!(Path::new(CONFIG).is_file(), "dpkg -r removed the conffile {CONFIG}; only a purge does");

    // Purged: the conffile, the journal the API wrote beside it, the state folder, the unit's
    // enablement; dpkg forgets the package.
    ok(Command::new("dpkg").args(["-P", PACKAGE]));
    assert_eq!(dpkg_status(), None, "dpkg still knows {PACKAGE} after the purge");
    let enabled = "/etc/systemd/system/multi-user.target.wants/traffic-mirror.service";
    for path in [CONFIG, "/etc/traffic-mirror", STATE, enabled, "/etc/systemd/system/traffic-mirror.service"] {
        assert!(!Path::new(path).exists() && !Path::new(path).is_symlink(), "{path} is left after dpkg -P");
    }
}

/// Builds the package with scripts/package.sh; returns the .deb it printed last.
fn build() -> PathBuf {
    let mut cmd = Command::new(workspace().join("scripts/package.sh"));
    without_cargo_test_env(&mut cmd);
    let out = ok(&mut cmd);
    let deb = PathBuf::from(out.lines().last().unwrap_or_default());
    assert!(deb.extension().is_some_and(|e| e == "deb") && deb.is_file(), "scripts/package.sh printed no .deb path last:\n{out}");
    deb
}

fn man_pages_are_found_and_compressed() {
    for page in ["traffic-mirror", "traffic-mirror-ctl-create-traffic-mirror-session"] {
        let path = ok(Command::new("man").args(["-w", page]));
        assert_eq!(path.trim(), format!("/usr/share/man/man1/{page}.1.gz"));
        let bytes = std::fs::read(path.trim()).expect("reading the man page");
        assert_eq!(bytes[..2], [0x1f, 0x8b], "{page}'s page is not gzipped");
    }
}

fn completions_are_the_binarys_own() {
    let bash = std::fs::read_to_string("/usr/share/bash-completion/completions/traffic-mirror").expect("reading the bash completions");
    for word in ["create-traffic-mirror-session", "describe-traffic-mirror-filters", "--traffic-mirror-filter-id", "import-aws"] {
        assert!(bash.contains(word), "the bash completions lack {word}");
    }
    for (shell, path) in [
        ("bash", "/usr/share/bash-completion/completions/traffic-mirror"),
        ("zsh", "/usr/share/zsh/vendor-completions/_traffic-mirror"),
        ("fish", "/usr/share/fish/vendor_completions.d/traffic-mirror.fish"),
    ] {
        let installed = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
        assert!(installed == ok(Command::new(BIN).args(["completions", shell])), "{path} is not what `traffic-mirror completions {shell}` prints");
    }
}

fn the_unit_is_the_repositorys_and_enabled_but_not_started() {
    let unit = std::fs::read_to_string(UNIT).expect("reading the installed unit");
    assert_eq!(unit, std::fs::read_to_string(workspace().join("scripts/traffic-mirror.service")).expect("reading scripts/traffic-mirror.service"));
    assert!(unit.contains(&format!("ExecStart={BIN} run --config {CONFIG} ")), "{unit}");
    let postinst = std::fs::read_to_string(format!("/var/lib/dpkg/info/{PACKAGE}.postinst")).expect("reading the postinst");
    assert!(postinst.contains("deb-systemd-helper enable traffic-mirror.service"), "the postinst does not enable the unit:\n{postinst}");
    assert!(!postinst.contains("deb-systemd-invoke start"), "the postinst starts the unit:\n{postinst}");
    if Path::new("/run/systemd/system").is_dir() {
        let shown = ok(Command::new("systemctl").args(["cat", PACKAGE]));
        assert!(shown.contains(&format!("ExecStart={BIN} run --config {CONFIG} ")), "{shown}");
        assert_eq!(ok(Command::new("systemctl").args(["is-enabled", PACKAGE])).trim(), "enabled");
        let active = Command::new("systemctl").args(["is-active", PACKAGE]).output().expect("running systemctl is-active");
        assert_eq!(String::from_utf8_lossy(&active.stdout).trim(), "inactive", "installing started the service");
    } else {
        // No systemd running (a container): enabling is the symlink deb-systemd-helper made.
        let wants = Path::new("/etc/systemd/system/multi-user.target.wants/traffic-mirror.service");
        assert_eq!(std::fs::canonicalize(wants).ok(), std::fs::canonicalize(UNIT).ok(), "{} does not point at {UNIT}", wants.display());
    }
}

/// The example runs as installed, answers ctl, and a change goes to the journal and into the
/// file, as the example's header says; the purge must then clean up after it.
fn the_example_runs_and_answers_the_api() {
    let logs = tempfile::tempdir().expect("creating a temporary folder");
    let prefix = format!("tm-package-{}", std::process::id());
    let child = Command::new(BIN)
        .args(["run", "--config", CONFIG, "--", "--file-prefix", &prefix, "--log-level=lib.eal:warning"])
        .stdout(std::fs::File::create(logs.path().join("stdout")).expect("creating a log"))
        .stderr(std::fs::File::create(logs.path().join("stderr")).expect("creating a log"))
        .spawn()
        .expect("starting the installed traffic-mirror");
    let mut running = KillOnDrop(child, prefix);
    let log = || std::fs::read_to_string(logs.path().join("stderr")).unwrap_or_default();
    let ctl = |args: &[&str]| Command::new(BIN).args(["ctl", "--config", CONFIG]).args(args).output().expect("running traffic-mirror ctl");

    let deadline = Instant::now() + PATIENCE;
    loop {
        if ctl(&["describe-traffic-mirror-sessions"]).status.success() {
            break;
        }
        if let Some(status) = running.0.try_wait().expect("polling traffic-mirror") {
            panic!("the installed example exited ({status}) before answering ctl:\n{}", log());
        }
        assert!(Instant::now() < deadline, "the installed example never answered ctl:\n{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let created = ctl(&["create-traffic-mirror-filter", "--description", "made by the package test"]);
    assert!(created.status.success(), "ctl create-traffic-mirror-filter failed:\n{}", String::from_utf8_lossy(&created.stderr));
    assert!(Path::new(&format!("{CONFIG}.journal")).is_file(), "an accepted change left no journal beside {CONFIG}");
    // Stopped once the change is in the file, so no rewrite is half done.
    let deadline = Instant::now() + PATIENCE;
    while !std::fs::read_to_string(CONFIG).unwrap_or_default().contains("made by the package test") {
        assert!(Instant::now() < deadline, "the change never reached {CONFIG}:\n{}", log());
        std::thread::sleep(Duration::from_millis(100));
    }

    // SAFETY: kill has no memory-safety preconditions; the pid is our child's.
    unsafe { libc::kill(running.0.id() as i32, libc::SIGTERM) };
    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = running.0.try_wait().expect("waiting for traffic-mirror") {
            break status;
        }
        assert!(Instant::now() < deadline, "the installed example did not stop on SIGTERM:\n{}", log());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "the installed example exited with {status}:\n{}", log());
    assert!(Path::new(STATE).join("mirror.pcap").is_file(), "the example's mirror port wrote no {STATE}/mirror.pcap");
}

/// Runs `cmd`, which must succeed; returns its standard output.
fn ok(cmd: &mut Command) -> String {
    let out: Output = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| panic!("starting {cmd:?}: {e}"));
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert!(out.status.success(), "{cmd:?} failed ({}):\n--- stdout\n{}\n--- stderr\n{}", out.status, text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

/// dpkg's status of the package (`install ok installed`, ...), or None when dpkg does not know it.
fn dpkg_status() -> Option<String> {
    let out = Command::new("dpkg-query").args(["-W", "-f=${Status}", PACKAGE]).output().expect("running dpkg-query");
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned()).filter(|s| !s.starts_with("unknown") && !s.contains("not-installed"))
}

/// The paths dpkg says the installed package owns.
fn owned_files() -> Vec<PathBuf> {
    ok(Command::new("dpkg").args(["-L", PACKAGE])).lines().filter(|l| l.starts_with('/')).map(PathBuf::from).collect()
}

/// Purges the package when the test ends, however it ends.
struct PurgeOnDrop;

impl Drop for PurgeOnDrop {
    fn drop(&mut self) {
        if dpkg_status().is_some() {
            let _ = Command::new("dpkg").args(["-P", PACKAGE]).status();
        }
    }
}

/// Kills the installed traffic-mirror if the test fails while it runs, and removes its DPDK
/// runtime folder.
struct KillOnDrop(Child, String);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        e2e::remove_runtime_dir(&self.1);
    }
}
