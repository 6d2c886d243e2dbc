//! Prometheus metrics over HTTP (`[metrics] listen`), and DPDK telemetry commands.
//!
//! Both ask the control thread for the counters (the same request as the API's
//! DescribeCounters), so no worker ever serves them. The exposition format comes from
//! prometheus-client; each scrape builds a fresh registry from the report.

use crate::api::actions::{DescribeCounters, DescribeTrafficMirrorSessions};
use crate::api::{call, Pending};
use crate::report::Report;
use anyhow::{Context, Result};
use dataplane::telemetry::{self, Value as Tel};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use crate::http::{self, HttpRequest, HttpResponse, HttpServer, Limits};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

type Labels = Vec<(&'static str, String)>;
/// A port counter: metric name, help, and where it is in the report.
type PortCounter = (&'static str, &'static str, fn(&crate::report::PortReport) -> u64);

/// How long a scrape waits for the control thread.
const PATIENCE: Duration = Duration::from_secs(1);

/// The counters, from the control thread; `None` when it does not answer in time.
fn counters(to_control: &crossbeam::channel::Sender<Pending>) -> Option<Report> {
    call(to_control, DescribeCounters {}, PATIENCE).ok()
}

/// The counters in Prometheus's text format (OpenMetrics).
pub fn exposition(r: &Report) -> String {
    let mut reg = Registry::with_prefix("traffic_mirror");
    let counter = |reg: &mut Registry, name: &str, help: &str| {
        let f = Family::<Labels, Counter>::default();
        reg.register(name, help, f.clone());
        f
    };
    let gauge = |reg: &mut Registry, name: &str, help: &str| {
        let f = Family::<Labels, Gauge<f64, AtomicU64>>::default();
        reg.register(name, help, f.clone());
        f
    };

    let packets = counter(&mut reg, "session_packets", "Copies sent (AWS NetworkPacketsMirrorIn/Out)");
    let bytes = counter(&mut reg, "session_bytes", "Bytes of originals carried by the copies sent (AWS NetworkMirrorIn/Out)");
    let truncated = counter(&mut reg, "session_truncated", "Copies cut short of their original");
    let skipped = counter(&mut reg, "session_skipped_packets", "Copies accepted but not sent, by reason (AWS NetworkPacketsSkipMirrorIn/Out)");
    let skipped_bytes = counter(&mut reg, "session_skipped_bytes", "Bytes of copies not sent (AWS NetworkSkipMirrorIn/Out)");
    for s in &r.sessions {
        for (dir, d) in [("ingress", &s.ingress), ("egress", &s.egress)] {
            let l: Labels = vec![("session", s.id.clone()), ("direction", dir.into())];
            packets.get_or_create(&l).inc_by(d.packets);
            bytes.get_or_create(&l).inc_by(d.bytes);
            truncated.get_or_create(&l).inc_by(d.truncated);
            skipped_bytes.get_or_create(&l).inc_by(d.skip_bytes);
            for (reason, n) in [("queue_full", d.skip_queue_full), ("no_mbuf", d.skip_no_mbuf), ("unresolved", d.skip_unresolved)] {
                let mut l = l.clone();
                l.push(("reason", reason.into()));
                skipped.get_or_create(&l).inc_by(n);
            }
        }
    }

    let port_counters: [PortCounter; 9] = [
        ("port_rx_packets", "Frames received", |p| p.rx_packets),
        ("port_rx_bytes", "Bytes received", |p| p.rx_bytes),
        ("port_tx_packets", "Frames sent (originals and copies)", |p| p.tx_packets),
        ("port_tx_bytes", "Bytes sent", |p| p.tx_bytes),
        ("port_rx_missed", "Frames the device dropped for want of RX descriptors", |p| p.rx_missed),
        ("port_rx_errors", "Receive errors", |p| p.rx_errors),
        ("port_tx_errors", "Transmit errors", |p| p.tx_errors),
        ("port_tx_dropped", "Originals the TX queue refused after retries", |p| p.tx_dropped),
        ("port_copies_dropped", "Copies the TX queue refused", |p| p.copies_dropped),
    ];
    for (name, help, get) in port_counters {
        let f = counter(&mut reg, name, help);
        for p in &r.ports {
            f.get_or_create(&vec![("port", p.name.clone())]).inc_by(get(p));
        }
    }

    let not_mirrored = counter(&mut reg, "frames_not_mirrored", "Frames forwarded but never candidates for mirroring, by reason");
    for (reason, n) in [("not_ip", r.not_mirrored.not_ip), ("malformed", r.not_mirrored.malformed), ("excluded", r.not_mirrored.excluded)] {
        not_mirrored.get_or_create(&vec![("reason", reason.into())]).inc_by(n);
    }

    counter(&mut reg, "control_frames_dropped", "Frames for the control thread (ARP on mirror ports) dropped because its queue was full")
        .get_or_create(&vec![])
        .inc_by(r.control_frames_dropped);

    let busy = gauge(&mut reg, "worker_busy_ratio", "Share of poll time spent on iterations that received frames, since start");
    let busy_cycles = counter(&mut reg, "worker_busy_cycles", "TSC cycles of poll iterations that received frames");
    let cycles = counter(&mut reg, "worker_cycles", "TSC cycles of all poll iterations");
    for w in &r.workers {
        let l: Labels = vec![("worker", w.id.to_string()), ("core", w.core.to_string())];
        busy.get_or_create(&l).set(w.busy_ratio);
        busy_cycles.get_or_create(&l).inc_by(w.busy_cycles);
        cycles.get_or_create(&l).inc_by(w.total_cycles);
    }

    let in_use = gauge(&mut reg, "mempool_in_use", "Mbufs taken out of the mempool");
    let size = gauge(&mut reg, "mempool_size", "Mbufs in the mempool");
    for p in &r.mempools {
        let l: Labels = vec![("pool", p.name.clone())];
        in_use.get_or_create(&l).set(f64::from(p.in_use));
        size.get_or_create(&l).set(f64::from(p.size));
    }
    for (name, help, n) in [
        ("arp_requests_sent", "ARP requests sent to resolve next hops", r.arp.requests_sent),
        ("arp_replies_sent", "ARP replies sent for the mirror ports' addresses", r.arp.replies_sent),
        ("arp_received", "ARP packets received on mirror ports", r.arp.received),
    ] {
        counter(&mut reg, name, help).get_or_create(&vec![]).inc_by(n);
    }
    let resolved = gauge(&mut reg, "next_hop_resolved", "1 when a next hop named by address has a MAC, 0 while copies to it are skipped");
    for n in &r.neighbours {
        resolved.get_or_create(&vec![("port", n.port.clone()), ("ip", n.ip.to_string())]).set(if n.mac.is_some() { 1.0 } else { 0.0 });
    }
    let uptime = gauge(&mut reg, "uptime_seconds", "Seconds since the dataplane started");
    uptime.get_or_create(&vec![]).set(r.duration_s);
    let table = gauge(&mut reg, "table_generation", "Tables published so far (one per accepted change)");
    table.get_or_create(&vec![]).set(r.table as f64);

    let mut out = String::new();
    encode(&mut out, &reg).expect("encoding to a String cannot fail");
    out
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
            let request = DescribeTrafficMirrorSessions { traffic_mirror_session_ids: ids, ..Default::default() };
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
