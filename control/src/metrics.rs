//! Prometheus metrics over HTTP (`[metrics] listen`), and DPDK telemetry commands.
//!
//! Both ask the control thread for the counters (the same action as the API's
//! DescribeCounters, typed), so no worker ever serves them. The exposition is written here, in
//! one fixed order, so that series come out alike on every scrape.

use crate::api::actions::{DescribeCounters, DescribeTrafficMirrorSessions};
use crate::api::{call, Pending};
use crate::http::{self, HttpRequest, HttpResponse, HttpServer, Limits};
use crate::report::Report;
use anyhow::{Context, Result};
use dataplane::dpdk::telemetry::{self, Value as Tel};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

/// A port counter: metric name, help, and where it is in the report.
type PortCounter = (&'static str, &'static str, fn(&crate::report::PortReport) -> u64);

/// How long a scrape waits for the control thread.
const PATIENCE: Duration = Duration::from_secs(1);

/// The counters, from the control thread; `None` when it does not answer in time.
fn counters(to_control: &crossbeam::channel::Sender<Pending>) -> Option<Report> {
    call(to_control, DescribeCounters {}, PATIENCE).ok()
}

/// One metric family being written: its samples follow its `# HELP` and `# TYPE`.
struct Family<'o> {
    out: &'o mut String,
    name: String,
    suffix: &'static str,
}

impl Family<'_> {
    /// One sample. Written piece by piece: a scrape with 10,000 sessions writes some 150,000.
    fn sample(&mut self, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        use std::fmt::Write;
        self.out.push_str(&self.name);
        self.out.push_str(self.suffix);
        if !labels.is_empty() {
            self.out.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.out.push(',');
                }
                self.out.push_str(k);
                self.out.push_str("=\"");
                self.out.push_str(&escaped(v));
                self.out.push('"');
            }
            self.out.push('}');
        }
        let _ = writeln!(self.out, " {value}");
    }
}

/// A label value as OpenMetrics writes it: backslash, quote and newline escaped (ids rarely
/// have them, and a scrape writes tens of thousands of labels, so most are written as they are).
fn escaped(v: &str) -> std::borrow::Cow<'_, str> {
    if !v.bytes().any(|b| matches!(b, b'\\' | b'"' | b'\n')) {
        return v.into();
    }
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").into()
}

/// The OpenMetrics text, written in one order: families as below, samples in the report's
/// order (ports as configured, sessions as configured), so that two scrapes list their series
/// alike.
struct Exposition {
    out: String,
}

impl Exposition {
    fn family(&mut self, name: &str, kind: &str, help: &str) -> Family<'_> {
        use std::fmt::Write;
        let name = format!("traffic_mirror_{name}");
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
        let suffix = match kind {
            "counter" => "_total",
            "info" => "_info",
            _ => "",
        };
        Family { out: &mut self.out, name, suffix }
    }

    fn counter(&mut self, name: &str, help: &str) -> Family<'_> {
        self.family(name, "counter", help)
    }

    fn gauge(&mut self, name: &str, help: &str) -> Family<'_> {
        self.family(name, "gauge", help)
    }
}

/// The counters in Prometheus's text format (OpenMetrics), with info series that join
/// sessions to their sources, targets, filters and VNIs, and targets to their collectors.
pub fn exposition(r: &Report) -> String {
    // About 1.5 kB of samples a session: written once, never moved.
    let mut e = Exposition { out: String::with_capacity(2048 * r.sessions.len() + 16384) };
    type Dir<'a> = (&'a str, &'a str, &'a crate::report::DirReport);
    let dirs: Vec<Dir> = r.sessions.iter().flat_map(|s| [(s.id.as_str(), "ingress", &s.ingress), (s.id.as_str(), "egress", &s.egress)]).collect();
    // A session's series of a direction: name, help, and the counter it reads.
    type Series = (&'static str, &'static str, fn(&crate::report::DirReport) -> u64);
    let per_session: [Series; 4] = [
        ("session_packets", "Copies sent (AWS NetworkPacketsMirrorIn/Out)", |d| d.packets),
        ("session_bytes", "Bytes of originals carried by the copies sent (AWS NetworkMirrorIn/Out)", |d| d.bytes),
        ("session_truncated", "Copies cut short of their original", |d| d.truncated),
        ("session_skipped_bytes", "Bytes of copies not sent (AWS NetworkSkipMirrorIn/Out)", |d| d.skip_bytes),
    ];
    for (name, help, get) in per_session {
        let mut f = e.counter(name, help);
        for (id, dir, d) in &dirs {
            f.sample(&[("session", id), ("direction", dir)], get(d));
        }
    }
    let mut f = e.counter("session_skipped_packets", "Copies accepted but not sent, by reason (AWS NetworkPacketsSkipMirrorIn/Out)");
    for (id, dir, d) in &dirs {
        for (reason, n) in [("queue_full", d.skip_queue_full), ("no_mbuf", d.skip_no_mbuf), ("unresolved", d.skip_unresolved), ("no_healthy_collector", d.skip_no_healthy)] {
            f.sample(&[("session", id), ("direction", dir), ("reason", reason)], n);
        }
    }
    let mut f = e.family("session", "info", "A session's source, target, filter and VNI, to join its series with (value 1)");
    for s in &r.sessions {
        let vni = s.virtual_network_id.to_string();
        f.sample(&[("session", &s.id), ("source", &s.source), ("target", &s.target), ("filter", &s.filter), ("vni", &vni)], 1);
    }
    let mut f = e.counter("rule_hits", "Packets a filter rule decided (accepted or rejected), once for each session it decided one for");
    for rule in &r.rules {
        f.sample(&[("filter", &rule.filter), ("rule", &rule.rule), ("direction", rule.direction.name()), ("action", rule.action.name())], rule.hits);
    }
    let mut f = e.family("target", "info", "A target's kind, destination (network interface, load balancer or endpoint) and mirror port (value 1)");
    for t in &r.targets {
        f.sample(&[("target", &t.id), ("type", &t.kind), ("destination", &t.destination), ("port", &t.port)], 1);
    }
    let mut f = e.family("collector", "info", "Each collector address a target sends to (value 1)");
    for t in &r.targets {
        for c in &t.collectors {
            f.sample(&[("target", &t.id), ("collector", &c.to_string()), ("port", &t.port)], 1);
        }
    }
    targets_and_collectors(&mut e, r);

    let port_counters: [PortCounter; 10] = [
        ("port_rx_packets", "Frames received", |p| p.rx_packets),
        ("port_rx_bytes", "Bytes received", |p| p.rx_bytes),
        ("port_tx_packets", "Frames sent (originals and copies)", |p| p.tx_packets),
        ("port_tx_bytes", "Bytes sent", |p| p.tx_bytes),
        ("port_rx_missed", "Frames the device dropped for want of RX descriptors", |p| p.rx_missed),
        ("port_rx_errors", "Receive errors", |p| p.rx_errors),
        ("port_tx_errors", "Transmit errors the device reported", |p| p.tx_errors),
        ("port_tx_unwritten", "Frames counted as sent that are not in the port's tx_pcap files (net_pcap on a full disk)", |p| p.tx_unwritten),
        ("port_tx_dropped", "Originals the TX queue refused after retries", |p| p.tx_dropped),
        ("port_copies_dropped", "Copies the TX queue refused", |p| p.copies_dropped),
    ];
    for (name, help, get) in port_counters {
        let mut f = e.counter(name, help);
        for p in &r.ports {
            f.sample(&[("port", &p.name)], get(p));
        }
    }

    let mut f = e.counter("frames_not_mirrored", "Frames forwarded but never candidates for mirroring, by reason");
    for (reason, n) in [("not_ip", r.not_mirrored.not_ip), ("malformed", r.not_mirrored.malformed), ("excluded", r.not_mirrored.excluded)] {
        f.sample(&[("reason", reason)], n);
    }
    e.counter("control_frames_dropped", "Frames for the control thread (ARP and health-check answers on mirror ports) dropped because its queue was full").sample(&[], r.control_frames_dropped);

    let mut f = e.gauge("worker_busy_ratio", "Share of poll time spent on iterations that received frames, over the last 10 s");
    for w in &r.workers {
        f.sample(&[("worker", &w.id.to_string()), ("core", &w.core.to_string())], w.busy_ratio);
    }
    let mut f = e.counter("worker_busy_cycles", "TSC cycles of poll iterations that received frames (rate() of it over worker_cycles is the busy share)");
    for w in &r.workers {
        f.sample(&[("worker", &w.id.to_string()), ("core", &w.core.to_string())], w.busy_cycles);
    }
    let mut f = e.counter("worker_cycles", "TSC cycles of all poll iterations");
    for w in &r.workers {
        f.sample(&[("worker", &w.id.to_string()), ("core", &w.core.to_string())], w.total_cycles);
    }

    let mut f = e.gauge("mempool_in_use", "Mbufs taken out of the mempool");
    for p in &r.mempools {
        f.sample(&[("pool", &p.name)], p.in_use);
    }
    let mut f = e.gauge("mempool_size", "Mbufs in the mempool");
    for p in &r.mempools {
        f.sample(&[("pool", &p.name)], p.size);
    }
    for (name, help, n) in [
        ("arp_requests_sent", "ARP requests sent to resolve next hops", r.arp.requests_sent),
        ("arp_replies_sent", "ARP replies sent for the mirror ports' addresses", r.arp.replies_sent),
        ("arp_received", "ARP packets received on mirror ports", r.arp.received),
        ("nd_solicitations_sent", "Neighbor Solicitations sent to resolve IPv6 next hops", r.nd.solicitations_sent),
        ("nd_advertisements_sent", "Neighbor Advertisements sent for the mirror ports' IPv6 addresses", r.nd.advertisements_sent),
        ("nd_received", "Neighbor Discovery messages received on mirror ports", r.nd.received),
    ] {
        e.counter(name, help).sample(&[], n);
    }
    let mut f = e.gauge("next_hop_resolved", "1 when a next hop named by address has a MAC, 0 while copies to it are skipped");
    for n in &r.neighbours {
        f.sample(&[("port", &n.port), ("ip", &n.ip.to_string())], u8::from(n.mac.is_some()));
    }
    e.gauge("uptime_seconds", "Seconds since the dataplane started").sample(&[], r.duration_s);
    e.gauge("table_generation", "Tables published so far (one per accepted change)").sample(&[], r.table);
    e.counter("control_changes", "Changes made through the API and put in force").sample(&[], r.control.changes);
    e.counter("control_reloads_stuck", "Reloads whose reading of the configuration file did not come back in time (a hung mount); the running configuration was kept").sample(&[], r.control.reloads_stuck);
    e.counter("control_writes_stuck", "Changes whose write to the journal did not come back in time (a hung mount); their callers were told, and changes were refused until it came back").sample(&[], r.control.writes_stuck);
    let mut f = e.counter("control_change_work", "What those changes cost the control thread: resources validated, sessions compiled, sources whose classifiers were built");
    for (work, n) in [("validated", r.control.total.validated), ("sessions_compiled", r.control.total.sessions_compiled), ("sources_built", r.control.total.sources_built)] {
        f.sample(&[("work", work)], n);
    }
    let mut f = e.counter("control_change_seconds", "Where those changes' time went on the control thread, by step");
    for (step, n) in r.control.nanos.steps() {
        f.sample(&[("step", step)], n as f64 / 1e9);
    }
    e.out.push_str("# EOF\n");
    e.out
}

/// Per target and per collector: copies, bytes, skips by reason; behind a load balancer, each
/// collector's health and its changes.
fn targets_and_collectors(e: &mut Exposition, r: &Report) {
    use dataplane::types::CopySkip;
    let mut f = e.counter("target_copies", "Copies sent to a target's collectors");
    for t in &r.targets {
        f.sample(&[("target", &t.id)], t.packets);
    }
    let mut f = e.counter("target_bytes", "Bytes of originals carried by the copies sent to a target's collectors");
    for t in &r.targets {
        f.sample(&[("target", &t.id)], t.bytes);
    }
    let mut f = e.counter("target_skipped_packets", "Copies for a target not sent, by reason");
    for t in &r.targets {
        for reason in CopySkip::ALL {
            f.sample(&[("target", &t.id), ("reason", reason.name())], t.skipped.by(reason));
        }
    }
    let mut f = e.counter("target_skipped_bytes", "Bytes of the copies for a target not sent");
    for t in &r.targets {
        f.sample(&[("target", &t.id)], t.skipped.bytes);
    }
    let collectors: Vec<(&str, String, &crate::report::CollectorReport)> =
        r.targets.iter().flat_map(|t| t.collector_counters.iter().map(move |c| (t.id.as_str(), c.address.to_string(), c))).collect();
    let mut f = e.counter("collector_copies", "Copies sent to a collector of a target");
    for (t, a, c) in &collectors {
        f.sample(&[("target", t), ("collector", a)], c.packets);
    }
    let mut f = e.counter("collector_bytes", "Bytes of originals carried by the copies sent to a collector");
    for (t, a, c) in &collectors {
        f.sample(&[("target", t), ("collector", a)], c.bytes);
    }
    let mut f = e.counter("collector_skipped_packets", "Copies for a collector, once picked, not sent, by reason");
    for (t, a, c) in &collectors {
        for reason in [CopySkip::QueueFull, CopySkip::NoMbuf] {
            f.sample(&[("target", t), ("collector", a), ("reason", reason.name())], c.skipped.by(reason));
        }
    }
    let checked: Vec<_> = collectors.iter().filter_map(|(t, a, c)| c.health.as_ref().map(|h| (*t, a.as_str(), h))).collect();
    let mut f = e.gauge("collector_healthy", "1 while a load balancer's collector is in service (healthy, initial or unchecked), 0 while it failed its health checks and its flows go to the others");
    for (t, a, h) in &checked {
        f.sample(&[("target", t), ("collector", a), ("load_balancer", &h.load_balancer)], u8::from(h.state.in_service()));
    }
    let mut f = e.counter("collector_health_transitions", "Changes of a load balancer's collector's health, by the state entered");
    for (t, a, h) in &checked {
        f.sample(&[("target", t), ("collector", a), ("to", "healthy")], h.became_healthy);
        f.sample(&[("target", t), ("collector", a), ("to", "unhealthy")], h.became_unhealthy);
    }
    let mut f = e.counter("collector_health_checks", "Health checks sent to a load balancer's collector");
    for (t, a, h) in &checked {
        f.sample(&[("target", t), ("collector", a)], h.checks);
    }
}

/// Serves `GET /metrics` on `addr` from threads of their own (the bounded HTTP server: a slow
/// or silent client holds its own connection only, never another's scrape). The returned
/// server stops when dropped.
pub fn serve(addr: SocketAddr, to_control: crossbeam::channel::Sender<Pending>) -> Result<HttpServer> {
    let listener = TcpListener::bind(addr).with_context(|| format!("binding the metrics endpoint {addr} ([metrics] listen)"))?;
    let limits = Limits {
        // A scrape is a request line and a few headers; nothing a client sends needs more.
        max_request_line: 2048,
        max_head: 8 * 1024,
        max_body: 0,
        ..Limits::default()
    };
    let server = http::serve_http("metrics", listener, None, limits, Arc::new(move |req: &HttpRequest| respond(req, &to_control)))
        .with_context(|| format!("starting the metrics endpoint {addr}"))?;
    log::info!("Prometheus metrics on http://{}/metrics", server.local_addr());
    Ok(server)
}

fn respond(req: &HttpRequest, to_control: &crossbeam::channel::Sender<Pending>) -> HttpResponse {
    if req.method != "GET" {
        return HttpResponse::text(405, "only GET");
    }
    match req.path() {
        "/metrics" => match counters(to_control) {
            Some(r) => HttpResponse::new(200, "application/openmetrics-text; version=1.0.0; charset=utf-8", exposition(&r)),
            None => HttpResponse::text(503, "traffic-mirror is not answering (shutting down?)"),
        },
        "/" => HttpResponse::text(200, "traffic-mirror: metrics at /metrics"),
        _ => HttpResponse::text(404, "not found; metrics are at /metrics"),
    }
}

/// Registers `/traffic_mirror/sessions` and `/traffic_mirror/stats` with DPDK telemetry.
pub fn register_telemetry(to_control: crossbeam::channel::Sender<Pending>) -> Result<()> {
    let unavailable = || Tel::Dict(vec![("error".into(), Tel::Str("traffic-mirror is not answering".into()))]);
    let tx = to_control.clone();
    telemetry::register(
        "/traffic_mirror/sessions",
        "Traffic mirror sessions: id, source, target, filter, number, VNI, packet length, enabled. Parameter: a session id.",
        move |params| {
            let ids = if params.is_empty() { Vec::new() } else { vec![params.to_owned()] };
            // A page: DPDK's dictionaries hold 256 entries.
            let request = DescribeTrafficMirrorSessions { traffic_mirror_session_ids: ids, max_results: Some(256), ..Default::default() };
            let Ok(reply) = call(&tx, request, PATIENCE) else { return unavailable() };
            // DPDK's arrays cannot hold dictionaries: one dictionary entry per session, the key
            // its id, the id itself inside. At most 256 entries.
            Tel::Dict(
                reply
                    .traffic_mirror_sessions
                    .into_iter()
                    .take(256)
                    .map(|s| {
                        (s.traffic_mirror_session_id.clone(), Tel::Dict(vec![
                            ("id".into(), Tel::Str(s.traffic_mirror_session_id)),
                            ("source".into(), Tel::Str(s.network_interface_id)),
                            ("target".into(), Tel::Str(s.traffic_mirror_target_id)),
                            ("filter".into(), Tel::Str(s.traffic_mirror_filter_id)),
                            ("session_number".into(), Tel::U64(u64::from(s.session_number))),
                            ("vni".into(), Tel::U64(u64::from(s.virtual_network_id.unwrap_or(0)))),
                            ("packet_length".into(), Tel::U64(u64::from(s.packet_length.unwrap_or(0)))),
                            ("enabled".into(), Tel::U64(u64::from(s.enabled.unwrap_or(true)))),
                        ]))
                    })
                    .collect(),
            )
        },
    )?;
    telemetry::register(
        "/traffic_mirror/stats",
        "Traffic mirror counters: totals, then per port and per session and direction (ids in the name field).",
        move |_| {
            let Some(r) = counters(&to_control) else { return unavailable() };
            let mut d = vec![
                ("uptime_s".to_owned(), Tel::U64(r.duration_s as u64)),
                ("table".into(), Tel::U64(r.table)),
                ("not_ip".into(), Tel::U64(r.not_mirrored.not_ip)),
                ("malformed".into(), Tel::U64(r.not_mirrored.malformed)),
                ("excluded".into(), Tel::U64(r.not_mirrored.excluded)),
            ];
            for p in &r.ports {
                let c = [("rx_packets", p.rx_packets), ("rx_bytes", p.rx_bytes), ("tx_packets", p.tx_packets), ("tx_bytes", p.tx_bytes), ("rx_missed", p.rx_missed), ("tx_dropped", p.tx_dropped), ("copies_dropped", p.copies_dropped)];
                let mut e = vec![("name".to_owned(), Tel::Str(p.name.clone()))];
                e.extend(c.iter().map(|(k, v)| ((*k).to_owned(), Tel::U64(*v))));
                d.push((format!("port_{}", p.name), Tel::Dict(e)));
            }
            for s in &r.sessions {
                for (dir, x) in [("ingress", &s.ingress), ("egress", &s.egress)] {
                    let e = vec![
                        ("name".to_owned(), Tel::Str(s.id.clone())),
                        ("direction".into(), Tel::Str(dir.into())),
                        ("packets".into(), Tel::U64(x.packets)),
                        ("bytes".into(), Tel::U64(x.bytes)),
                        ("truncated".into(), Tel::U64(x.truncated)),
                        ("skip_packets".into(), Tel::U64(x.skip_packets)),
                        ("skip_bytes".into(), Tel::U64(x.skip_bytes)),
                    ];
                    d.push((format!("session_{}_{dir}", s.id), Tel::Dict(e)));
                }
            }
            // DPDK's dictionaries hold 256 entries.
            d.truncate(256);
            Tel::Dict(d)
        },
    )?;
    Ok(())
}
