//! Prometheus metrics over HTTP (`[metrics] listen`), and DPDK telemetry commands.
//!
//! Both ask the control thread for the counters (the same request as the API's
//! DescribeCounters), so no worker ever serves them. The exposition format comes from
//! prometheus-client; each scrape builds a fresh registry from the report.

use crate::api::{Pending, Request};
use crate::report::Report;
use anyhow::{Context, Result};
use dataplane::dpdk::telemetry::{self, Value as Tel};
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicU64;
use std::time::Duration;

type Labels = Vec<(&'static str, String)>;
/// A port counter: metric name, help, and where it is in the report.
type PortCounter = (&'static str, &'static str, fn(&crate::report::PortReport) -> u64);

/// Asks the control thread; `None` when it does not answer within a second (shutting down).
fn ask(to_control: &crossbeam::channel::Sender<Pending>, req: Request) -> Option<Value> {
    let (tx, rx) = crossbeam::channel::bounded(1);
    to_control.send((req, tx)).ok()?;
    rx.recv_timeout(Duration::from_secs(1)).ok().filter(|v| v.get("Error").is_none())
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

/// Serves `GET /metrics` on `addr` from a thread of its own.
pub fn serve(addr: SocketAddr, to_control: crossbeam::channel::Sender<Pending>) -> Result<()> {
    let listener = TcpListener::bind(addr).with_context(|| format!("binding the metrics endpoint {addr} ([metrics] listen)"))?;
    // Port 0 picks a free port: say which.
    let addr = listener.local_addr().unwrap_or(addr);
    std::thread::Builder::new().name("tm-metrics".into()).spawn(move || {
        for conn in listener.incoming().flatten() {
            let _ = conn.set_read_timeout(Some(Duration::from_secs(2)));
            let _ = respond(conn, &to_control);
        }
    })?;
    log::info!("Prometheus metrics on http://{addr}/metrics");
    Ok(())
}

fn respond(conn: TcpStream, to_control: &crossbeam::channel::Sender<Pending>) -> std::io::Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut request = String::new();
    reader.read_line(&mut request)?;
    // Skip the headers: nothing in them changes the answer.
    let mut line = String::new();
    while reader.read_line(&mut line)? > 2 {
        line.clear();
    }
    let path = request.split_whitespace().nth(1).unwrap_or("");
    let (status, kind, body) = if !request.starts_with("GET ") {
        ("405 Method Not Allowed", "text/plain", "only GET\n".to_owned())
    } else if path == "/metrics" {
        match ask(to_control, Request::DescribeCounters {}).and_then(|v| serde_json::from_value::<Report>(v).ok()) {
            Some(r) => ("200 OK", "application/openmetrics-text; version=1.0.0; charset=utf-8", exposition(&r)),
            None => ("503 Service Unavailable", "text/plain", "traffic-mirror is not answering (shutting down?)\n".to_owned()),
        }
    } else if path == "/" {
        ("200 OK", "text/plain", "traffic-mirror: metrics at /metrics\n".to_owned())
    } else {
        ("404 Not Found", "text/plain", "not found; metrics are at /metrics\n".to_owned())
    };
    let mut out = conn;
    write!(out, "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    out.flush()
}

/// Registers `/traffic_mirror/sessions` and `/traffic_mirror/stats` with DPDK telemetry.
pub fn register_telemetry(to_control: crossbeam::channel::Sender<Pending>) -> Result<()> {
    let unavailable = || Tel::Dict(vec![("error".into(), Tel::Str("traffic-mirror is not answering".into()))]);
    let tx = to_control.clone();
    telemetry::register(
        "/traffic_mirror/sessions",
        "Traffic mirror sessions: id, source, target, filter, number, VNI, packet length, enabled. Parameter: a session id.",
        move |params| {
            let ids = (!params.is_empty()).then(|| vec![params.to_owned()]);
            let Some(v) = ask(&tx, Request::DescribeTrafficMirrorSessions { traffic_mirror_session_ids: ids }) else { return unavailable() };
            // DPDK's arrays cannot hold dictionaries: one dictionary entry per session, the key
            // its id made telemetry-safe, the id itself inside. At most 256 entries.
            Tel::Dict(
                v["TrafficMirrorSessions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .take(256)
                    .map(|s| {
                        let str = |k: &str| Tel::Str(s[k].as_str().unwrap_or_default().to_owned());
                        let num = |k: &str| Tel::U64(s[k].as_u64().unwrap_or(0));
                        let id = s["TrafficMirrorSessionId"].as_str().unwrap_or_default().to_owned();
                        (id, Tel::Dict(vec![
                            ("id".into(), str("TrafficMirrorSessionId")),
                            ("source".into(), str("NetworkInterfaceId")),
                            ("target".into(), str("TrafficMirrorTargetId")),
                            ("filter".into(), str("TrafficMirrorFilterId")),
                            ("session_number".into(), num("SessionNumber")),
                            ("vni".into(), num("VirtualNetworkId")),
                            ("packet_length".into(), num("PacketLength")),
                            ("enabled".into(), Tel::U64(u64::from(s["Enabled"].as_bool().unwrap_or(true)))),
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
            let Some(r) = ask(&to_control, Request::DescribeCounters {}).and_then(|v| serde_json::from_value::<Report>(v).ok()) else {
                return unavailable();
            };
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
