//! The control plane at scale (issue 21), as the benchmark (`scripts/bench.sh --control`) and
//! its test (`tests/scale.rs`) both run it: a configuration with N sessions, three per source
//! as AWS's quota allows, and the same sequence of changes over it.

use crate::traffic::HOSTS;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::Path;

/// Filters and targets the sessions share (AWS users share a few filters among many sessions).
pub const FILTERS: usize = 100;
pub const TARGETS: usize = 10;

/// The configuration for `sessions` sessions: ceil(sessions / 3) sources on the host port
/// (replaying `input` forever), the first three with the capture's host MACs (so some sessions
/// see the traffic), filters and targets shared round-robin; the control socket at `socket`,
/// metrics on 127.0.0.1:`metrics`.
pub fn config(input: &Path, socket: &Path, metrics: u16, sessions: usize) -> String {
    let sources = sessions.div_ceil(3);
    let mut s = format!(
        r#"
[dataplane]
workers = 1
eal_args = ["--no-huge", "-m", "1024", "--no-pci"]

[control]
socket = "{}"

[metrics]
listen = "127.0.0.1:{metrics}"

[[port]]
name = "host"
device = "net_pcap0,rx_pcap={},infinite_rx=1"

[[port]]
name = "uplink"
device = "net_null0,no-rx=1"

[[port]]
name = "mirror"
device = "net_null1,no-rx=1"
ipv4 = "192.0.2.1"

[[link]]
ports = ["host", "uplink"]
"#,
        socket.display(),
        input.display()
    );
    for i in 0..sources {
        let mac = match HOSTS.get(i) {
            Some(m) => m.map(|b| format!("{b:02x}")).join(":"),
            None => format!("02:10:00:{:02x}:{:02x}:{:02x}", i >> 16, (i >> 8) & 0xff, i & 0xff),
        };
        let _ = write!(s, "\n[[network_interface]]\nid = \"eni-s{i}\"\nport = \"host\"\nmac = \"{mac}\"\n");
    }
    for t in 0..TARGETS {
        let _ = write!(
            s,
            "\n[[network_interface]]\nid = \"eni-c{t}\"\nport = \"mirror\"\nipv4 = \"192.0.2.{}\"\nnext_hop_mac = \"02:00:00:00:00:20\"\n\n[[target]]\nid = \"tmt-{t}\"\nnetwork_interface_id = \"eni-c{t}\"\n",
            10 + t
        );
    }
    for f in 0..FILTERS {
        let _ = write!(
            s,
            "\n[[filter]]\nid = \"tmf-{f}\"\n[[filter.egress_rule]]\nrule_number = 10\naction = \"reject\"\nprotocol = 6\ndestination_port = {{ from = {p}, to = {p} }}\n[[filter.egress_rule]]\nrule_number = 20\naction = \"accept\"\nprotocol = 17\nsource_port = {{ from = 1024, to = {q} }}\n[[filter.ingress_rule]]\nrule_number = 10\naction = \"accept\"\ndestination_cidr = \"10.{}.0.0/16\"\n",
            f % 256,
            p = 1000 + f,
            q = 2000 + 50 * f
        );
    }
    for i in 0..sessions {
        let _ = write!(
            s,
            "\n[[session]]\nid = \"tms-{i}\"\nsource = \"eni-s{}\"\ntarget = \"tmt-{}\"\nfilter = \"tmf-{}\"\nsession_number = {}\nvirtual_network_id = {}\npacket_length = 128\n",
            i / 3,
            i % TARGETS,
            i % FILTERS,
            i % 3 + 1,
            i + 1
        );
    }
    s
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
