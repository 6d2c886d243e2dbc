//! `ctl stats --watch`: the counters every few seconds, with the rates since the last refresh.

use crate::api::actions::DescribeCounters;
use crate::api::Client;
use crate::render::render;
use crate::report::Report;
use anyhow::Result;
use std::io::Write;
use std::time::Duration;

/// Counters every `every`, with rates since the previous refresh, until interrupted.
pub fn watch(client: &mut Client, every: Duration, json: bool) -> Result<u8> {
    let mut previous: Option<Report> = None;
    loop {
        let report = client.call(&DescribeCounters {})?.map_err(anyhow::Error::new)?;
        if json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            // Clear the terminal and go home, as `watch` does.
            print!("\x1b[2J\x1b[H{}", report.text());
            if let Some(prev) = &previous {
                print!("{}", rates(prev, &report));
            }
            previous = Some(report);
        }
        std::io::stdout().flush()?;
        std::thread::sleep(every);
    }
}

fn rates(a: &Report, b: &Report) -> String {
    let dt = (b.duration_s - a.duration_s).max(1e-6);
    let per_s = |x: u64, y: u64| (y.saturating_sub(x)) as f64 / dt;
    let mut rows = Vec::new();
    for (p, q) in a.ports.iter().zip(&b.ports) {
        rows.push(vec![
            q.name.clone(),
            format!("{:.0}", per_s(p.rx_packets, q.rx_packets)),
            format!("{:.1}", per_s(p.rx_bytes, q.rx_bytes) * 8.0 / 1e6),
            format!("{:.0}", per_s(p.tx_packets, q.tx_packets)),
            format!("{:.1}", per_s(p.tx_bytes, q.tx_bytes) * 8.0 / 1e6),
        ]);
    }
    let mut out = format!("\nrates over the last {dt:.1} s\n");
    out += &render(&["port", "rx pkt/s", "rx Mbit/s", "tx pkt/s", "tx Mbit/s"], &rows);
    let mut rows = Vec::new();
    for (s, t) in a.sessions.iter().zip(&b.sessions).filter(|(s, t)| s.id == t.id) {
        for (name, x, y) in [("ingress", &s.ingress, &t.ingress), ("egress", &s.egress, &t.egress)] {
            rows.push(vec![t.id.clone(), name.into(), format!("{:.0}", per_s(x.packets, y.packets)), format!("{:.0}", per_s(x.skip_packets, y.skip_packets))]);
        }
    }
    if !rows.is_empty() {
        out += &render(&["session", "direction", "copies/s", "skips/s"], &rows);
    }
    out
}
