//! The control plane at scale (issue 21), as the benchmark (`scripts/bench.sh --control`) and
//! its test (`tests/scale.rs`) both run it: a configuration with N sessions, three per source
//! as AWS's quota allows, and the same sequence of changes over it.

use crate::config::{Eni, Filter, Port, Rule, Session, Setup, Target};
use crate::traffic::HOSTS;
use serde_json::{json, Value};
use std::path::Path;

/// Filters and targets the sessions share (AWS users share a few filters among many sessions).
pub const FILTERS: usize = 100;
pub const TARGETS: usize = 10;

/// The appliance the benchmarks run: `workers` workers on 1 GB of ordinary memory, the host
/// port replaying `input` forever (read once per worker, so that each has a queue to take),
/// linked to a sink, the collectors' port `mirror` another sink; the control socket at
/// `socket`. No source, target, filter or session yet.
pub fn appliance(input: &Path, workers: usize, socket: &Path) -> Setup {
    let input = input.display().to_string();
    let host = (0..workers).fold(Port::pcap("host"), |p, _| p.rx(&input)).infinite();
    Setup::lab()
        .with(|c| {
            c.dataplane.workers = workers;
            c.dataplane.eal_args = ["--no-huge", "-m", "1024", "--no-pci"].map(String::from).to_vec();
            c.control.socket = socket.display().to_string();
        })
        .port(host)
        .port(Port::null("uplink"))
        .link("host", "uplink")
        .port(Port::null("mirror").ipv4("192.0.2.1"))
}

/// The configuration for `sessions` sessions: ceil(sessions / 3) sources on the host port
/// (replaying `input` forever), the first three with the capture's host MACs (so some sessions
/// see the traffic), filters and targets shared round-robin; the control socket at `socket`,
/// metrics on 127.0.0.1:`metrics`.
pub fn config(input: &Path, socket: &Path, metrics: u16, sessions: usize) -> String {
    let mut setup = appliance(input, 1, socket).with(|c| c.metrics = Some(control::config::Metrics { listen: ([127, 0, 0, 1], metrics).into() }));
    for i in 0..sessions.div_ceil(3) {
        let mac = match HOSTS.get(i) {
            Some(m) => m.map(|b| format!("{b:02x}")).join(":"),
            None => format!("02:10:00:{:02x}:{:02x}:{:02x}", i >> 16, (i >> 8) & 0xff, i & 0xff),
        };
        setup = setup.eni(Eni::new(&format!("eni-s{i}"), "host").mac(&mac));
    }
    for t in 0..TARGETS {
        let eni = format!("eni-c{t}");
        setup = setup.eni(Eni::collector(&eni, "mirror", &format!("192.0.2.{}", 10 + t)).next_hop_mac("02:00:00:00:00:20")).target(Target::eni(&format!("tmt-{t}"), &eni));
    }
    for f in 0..FILTERS {
        let (p, q) = (1000 + f as u16, 2000 + 50 * f as u16);
        setup = setup.filter(
            Filter::new(&format!("tmf-{f}"))
                .egress(Rule::reject(10).protocol(6).destination_port(p, p))
                .egress(Rule::accept(20).protocol(17).source_port(1024, q))
                .ingress(Rule::accept(10).destination(&format!("10.{}.0.0/16", f % 256))),
        );
    }
    for i in 0..sessions {
        let session = Session::new(&format!("tms-{i}"), (i % 3 + 1) as u32)
            .source(&format!("eni-s{}", i / 3))
            .target(&format!("tmt-{}", i % TARGETS))
            .filter(&format!("tmf-{}", i % FILTERS))
            .vni(i as u32 + 1)
            .packet_length(128);
        setup = setup.session(session);
    }
    setup.toml()
}

/// Changes in a row over the sessions of [`config`]: a Modify (another filter), then a Delete,
/// then the Create that puts the deleted session back, each time over a session picked
/// across the whole table (so that no change is the cheap end of a list).
pub struct Changes {
    sessions: usize,
    n: usize,
    pick: u64,
    deleted: Option<usize>,
}

impl Changes {
    pub fn new(sessions: usize) -> Self {
        Changes { sessions, n: 0, pick: 0x9e37_79b9_7f4a_7c15, deleted: None }
    }

    fn next_session(&mut self) -> usize {
        self.pick ^= self.pick << 13;
        self.pick ^= self.pick >> 7;
        self.pick ^= self.pick << 17;
        (self.pick % self.sessions as u64) as usize
    }
}

impl Iterator for Changes {
    type Item = Value;

    fn next(&mut self) -> Option<Value> {
        let n = self.n;
        self.n += 1;
        Some(match (n % 3, self.deleted) {
            (2, Some(i)) => {
                self.deleted = None;
                json!({"Action": "CreateTrafficMirrorSession", "TrafficMirrorSessionId": format!("tms-{i}"), "NetworkInterfaceId": format!("eni-s{}", i / 3),
                       "TrafficMirrorTargetId": format!("tmt-{}", i % TARGETS), "TrafficMirrorFilterId": format!("tmf-{}", i % FILTERS),
                       "SessionNumber": i % 3 + 1, "VirtualNetworkId": i + 1, "PacketLength": 128})
            }
            (1, None) => {
                let i = self.next_session();
                self.deleted = Some(i);
                json!({"Action": "DeleteTrafficMirrorSession", "TrafficMirrorSessionId": format!("tms-{i}")})
            }
            _ => {
                let i = self.next_session();
                json!({"Action": "ModifyTrafficMirrorSession", "TrafficMirrorSessionId": format!("tms-{i}"), "TrafficMirrorFilterId": format!("tmf-{}", (i + n) % FILTERS)})
            }
        })
    }
}
