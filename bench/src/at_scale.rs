//! The control plane at scale (`--control`): for 100, 1,000 and 10,000 sessions in force (three
//! per source, as AWS's quota allows), how long traffic-mirror takes to start, and how long a
//! single Create, Modify or Delete takes to be answered while a worker forwards traffic, one
//! client scrapes `/metrics` and another pages through DescribeTrafficMirrorSessions.
//!
//! A change is timed from the request's first byte to its reply through the control socket:
//! validated, compiled, on disk (the journal) and published to the workers, as the API promises
//! before it answers. The scraper's and describer's slowest answers show that neither waits for
//! the changes.

use crate::figures::median_of;
use crate::process::{Killed, RuntimeDir};
use crate::Args;
use control::api::Client;
use e2e::scale::{config, Changes};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One size's figures.
pub struct Measured {
    pub sessions: usize,
    pub sources: usize,
    /// From spawning the process to its control API answering with every session in force.
    pub startup: Duration,
    /// Every change's latency, in the order made.
    pub changes: Vec<Duration>,
    /// The wall time of all the changes in a row.
    pub all_changes: Duration,
    /// The slowest `/metrics` scrape and Describe page while the changes ran, and how many of
    /// each answered (any failure panics).
    pub slowest_scrape: Duration,
    pub scrapes: usize,
    pub slowest_describe: Duration,
    pub describes: usize,
    /// Resident memory once started.
    pub rss_kib: u64,
    /// The control thread's time for the changes by step (its `control_change_seconds`), in
    /// all, and the longest each step took (since start-up).
    pub steps: Vec<(String, Duration, Duration)>,
}

/// A GET of `/metrics`: the time it took; panics unless it is a 200.
fn scrape(port: u16) -> Duration {
    let t = Instant::now();
    let mut c = TcpStream::connect(("127.0.0.1", port)).expect("connecting to /metrics");
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n").unwrap();
    let mut body = Vec::new();
    c.read_to_end(&mut body).expect("reading /metrics");
    assert!(body.starts_with(b"HTTP/1.1 200"), "/metrics answered {:?}", String::from_utf8_lossy(&body[..body.len().min(80)]));
    t.elapsed()
}

/// One page of 100 sessions, starting at `token`: the time it took and the next token.
fn describe_page(c: &mut Client, token: Option<String>) -> (Duration, Option<String>) {
    let t = Instant::now();
    let mut req = json!({"Action": "DescribeTrafficMirrorSessions", "MaxResults": 100});
    if let Some(tok) = token {
        req["NextToken"] = json!(tok);
    }
    let r = c.call_value(&req).expect("talking to traffic-mirror").expect("DescribeTrafficMirrorSessions");
    assert!(!r["TrafficMirrorSessions"].as_array().expect("a list of sessions").is_empty(), "an empty page: {r}");
    (t.elapsed(), r["NextToken"].as_str().map(str::to_owned))
}

/// A change through the control API, timed; panics if it is refused.
fn change(c: &mut Client, req: Value) -> Duration {
    let t = Instant::now();
    if let Err(e) = c.call_value(&req).expect("talking to traffic-mirror") {
        panic!("{req}: refused: {e:?}");
    }
    t.elapsed()
}

/// The control thread's time for changes so far by step, and the longest each took
/// (DescribeCounters' `control`).
fn steps(c: &mut Client) -> Vec<(String, Duration, Duration)> {
    let r = c.call_value(&json!({"Action": "DescribeCounters"})).expect("talking to traffic-mirror").expect("DescribeCounters");
    let nanos = |v: &Value| Duration::from_nanos(v.as_u64().expect("nanoseconds"));
    let total = r["control"]["nanos"].as_object().expect("DescribeCounters has control.nanos");
    total.iter().map(|(step, n)| (step.clone(), nanos(n), nanos(&r["control"]["slowest"][step]))).collect()
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok()).unwrap_or(0)
}

/// Starts traffic-mirror with `sessions` sessions over `input` and makes `changes` changes in
/// a row (a Modify, then a Delete, then the Create that puts the deleted session back, over
/// sessions spread across the table), while two other clients scrape and describe.
pub fn measure(a: &Args, input: &Path, sessions: usize, changes: usize) -> Measured {
    let tag = format!("control{sessions}");
    let socket = a.out.join(format!("{tag}.sock"));
    let cfg = a.out.join(format!("{tag}.toml"));
    let _ = std::fs::remove_file(cfg.with_extension("toml.journal"));
    let metrics = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    std::fs::write(&cfg, config(input, &socket, metrics, sessions)).unwrap();
    let log = a.out.join(format!("{tag}.log"));
    let prefix = format!("tm-bench-{tag}-{}", std::process::id());
    let _runtime = RuntimeDir(prefix.clone());
    let started = Instant::now();
    let child = Command::new(&a.binary)
        .args(["run", "--config"])
        .arg(&cfg)
        .args(["--", "--file-prefix", &prefix, "--log-level=lib.eal:warning"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("starting traffic-mirror");
    let mut child = Killed(child);
    let deadline = started + Duration::from_secs(300);
    let mut client = loop {
        if let Ok(mut c) = Client::connect(&socket) {
            if matches!(c.call_value(&json!({"Action": "DescribePorts"})), Ok(Ok(_))) {
                break c;
            }
        }
        if let Ok(Some(st)) = child.0.try_wait() {
            panic!("{sessions} sessions: traffic-mirror exited ({st}); see {}", log.display());
        }
        assert!(Instant::now() < deadline, "{sessions} sessions: traffic-mirror did not start in 300 s; see {}", log.display());
        std::thread::sleep(Duration::from_millis(10));
    };
    let startup = started.elapsed();
    let rss_kib = rss_kib(child.0.id());

    // The two other clients, until the changes are done.
    let done = Arc::new(AtomicBool::new(false));
    let scraper = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut slowest = (Duration::ZERO, 0);
            while !done.load(Ordering::Relaxed) {
                slowest = (slowest.0.max(scrape(metrics)), slowest.1 + 1);
                std::thread::sleep(Duration::from_millis(50));
            }
            slowest
        })
    };
    let describer = {
        let done = done.clone();
        let socket = socket.clone();
        std::thread::spawn(move || {
            let mut c = Client::connect(&socket).expect("a second client");
            let (mut slowest, mut n, mut token) = (Duration::ZERO, 0, None);
            while !done.load(Ordering::Relaxed) {
                let (t, next) = describe_page(&mut c, token);
                (slowest, n, token) = (slowest.max(t), n + 1, next);
                std::thread::sleep(Duration::from_millis(50));
            }
            (slowest, n)
        })
    };

    let steps_before = steps(&mut client);
    let mut latencies = Vec::with_capacity(changes);
    let all = Instant::now();
    for req in Changes::new(sessions).take(changes) {
        latencies.push(change(&mut client, req));
    }
    let all_changes = all.elapsed();
    let steps = steps(&mut client).into_iter().zip(steps_before).map(|((name, after, slowest), (_, before, _))| (name, after.saturating_sub(before), slowest)).collect();
    done.store(true, Ordering::Relaxed);
    let (slowest_scrape, scrapes) = scraper.join().expect("the scraper");
    let (slowest_describe, describes) = describer.join().expect("the describer");
    if let Ok(Some(st)) = child.0.try_wait() {
        panic!("{sessions} sessions: traffic-mirror exited ({st}) during the changes; see {}", log.display());
    }
    drop(child);
    Measured { sessions, sources: sessions.div_ceil(3), startup, changes: latencies, all_changes, slowest_scrape, scrapes, slowest_describe, describes, rss_kib, steps }
}

/// The value at quantile `q` (0-1) of some durations, in milliseconds.
fn quantile_ms(v: &[Duration], q: f64) -> f64 {
    let mut ms: Vec<f64> = v.iter().map(|d| d.as_secs_f64() * 1e3).collect();
    if q == 0.5 {
        return median_of(ms);
    }
    ms.sort_by(f64::total_cmp);
    ms[((ms.len() as f64 * q).ceil() as usize).clamp(1, ms.len()) - 1]
}

/// The sizes side by side, with the memory each session adds (between the smallest and the
/// largest size) and the targets at the largest.
pub fn render(rows: &[Measured]) -> String {
    let ms = |d: Duration| format!("{:.1}", d.as_secs_f64() * 1e3);
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|m| {
            vec![
                m.sessions.to_string(),
                m.sources.to_string(),
                format!("{:.2}", m.startup.as_secs_f64()),
                format!("{:.2}", quantile_ms(&m.changes, 0.5)),
                format!("{:.2}", quantile_ms(&m.changes, 0.99)),
                format!("{:.2}", m.all_changes.as_secs_f64()),
                format!("{} ({})", ms(m.slowest_scrape), m.scrapes),
                format!("{} ({})", ms(m.slowest_describe), m.describes),
                format!("{:.1}", m.rss_kib as f64 / 1024.0),
            ]
        })
        .collect();
    let changes = rows.first().map_or(0, |m| m.changes.len());
    let mut out = format!("\ncontrol plane: {changes} changes in a row (Modify, Delete, Create), one worker forwarding, one client scraping /metrics, one describing\n");
    out += &control::render::render(
        &["sessions", "sources", "start-up s", "change ms (median)", "change ms (p99)", "all changes s", "slowest scrape ms (n)", "slowest describe ms (n)", "RSS MiB"],
        &cells,
    );
    for m in rows {
        let n = m.changes.len().max(1) as f64;
        let mean_ms = |d: Duration| d.as_secs_f64() * 1e3 / n;
        let on_thread: Duration = m.steps.iter().map(|(_, d, _)| *d).sum();
        let total: Duration = m.changes.iter().sum();
        let parts: Vec<String> = m.steps.iter().map(|(step, d, slowest)| format!("{step} {:.3} ({:.1})", mean_ms(*d), slowest.as_secs_f64() * 1e3)).collect();
        let _ = writeln!(
            out,
            "where a change's time went at {} sessions, ms mean (slowest): {}; the rest (socket, JSON, jobs queued ahead) {:.3}",
            m.sessions,
            parts.join(", "),
            mean_ms(total.saturating_sub(on_thread))
        );
    }
    if let (Some(lo), Some(hi)) = (rows.first(), rows.last()) {
        if hi.sessions > lo.sessions {
            let per = (hi.rss_kib as f64 - lo.rss_kib as f64) * 1024.0 / (hi.sessions - lo.sessions) as f64;
            let _ = writeln!(out, "memory per session (RSS, {} to {} sessions): {:.1} KiB", lo.sessions, hi.sessions, per / 1024.0);
        }
        let (med, p99) = (quantile_ms(&hi.changes, 0.5), quantile_ms(&hi.changes, 0.99));
        let per_1000 = hi.all_changes.as_secs_f64() * 1000.0 / hi.changes.len().max(1) as f64;
        let verdict = |ok: bool| if ok { "met" } else { "NOT met" };
        let _ = writeln!(out, "targets at {} sessions:", hi.sessions);
        let _ = writeln!(out, "  change median <= 10 ms: {med:.2} ms, {}", verdict(med <= 10.0));
        let _ = writeln!(out, "  change p99 <= 50 ms: {p99:.2} ms, {}", verdict(p99 <= 50.0));
        let _ = writeln!(out, "  1,000 changes < 20 s: {per_1000:.1} s, {}", verdict(per_1000 < 20.0));
        let _ = writeln!(out, "  start-up < 5 s: {:.2} s, {}", hi.startup.as_secs_f64(), verdict(hi.startup.as_secs_f64() < 5.0));
    }
    out
}
