//! The scenarios: what each one mirrors, as configuration text, and the configuration around it.

use crate::ovs::Job;
use e2e::TARGET_TMT;
use std::fmt::Write as _;
use std::path::Path;

/// What a scenario mirrors.
pub struct Scenario {
    pub name: &'static str,
    pub workers: usize,
    /// Its sessions' ids: switched off and on to measure against no sessions in one process.
    pub sessions: &'static [&'static str],
    /// TOML for sources, targets, filters, sessions (and quotas).
    pub mirroring: String,
    /// Another scenario measured inside this one's pairs: see [`Against`].
    pub against: Option<Against>,
    /// The floor measured with it round by round (`--bench-floor`, on as many workers): the
    /// least work its job takes on these devices.
    pub floor: Option<&'static str>,
    /// What OVS-DPDK does to do the same job, measured with it round by round.
    pub ovs: Option<Job>,
    /// Another scenario, on one worker where this one has several, measured with it round by
    /// round: how it scales.
    pub scales: Option<&'static str>,
}

/// A third window in each pair of a scenario's windows, with session s1 switched from
/// [`MAIN_FILTER`] to another filter: two filters compared a fraction of a second apart in one
/// process, as the scenarios are against no sessions. Only a direct pairing of this kind keeps
/// the 10,000-against-10-rules verdict steady on a noisy machine; the quotient of two scenarios'
/// ratios against no sessions carries the noise of both.
#[derive(Clone, Copy)]
pub struct Against {
    /// The scenario the other filter stands for (its row is measured on its own as well).
    pub scenario: &'static str,
    pub filter: &'static str,
}

/// The filter of session s1 in every scenario.
pub const MAIN_FILTER: &str = "f";


/// A filter with `extra` rules that never match the traffic, then `accept`.
pub fn filter(id: &str, extra: usize, accept: &str) -> String {
    let mut s = format!("\n[[filter]]\nid = \"{id}\"\n");
    let mut x: u64 = 0x1234_5678;
    for i in 0..extra {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let from = 1 + x % 60000;
        let _ = write!(
            s,
            "[[filter.egress_rule]]\nrule_number = {}\naction = \"{}\"\nprotocol = {}\ndestination_cidr = \"172.{}.{}.0/24\"\ndestination_port = {{ from = {from}, to = {} }}\n",
            i + 1,
            if i % 3 == 0 { "reject" } else { "accept" },
            if i % 2 == 0 { 6 } else { 17 },
            16 + (x >> 20) % 16,
            (x >> 8) % 256,
            (from + x % 200).min(65535)
        );
    }
    let _ = write!(s, "{}", accept.replace("{n}", &(extra + 1).to_string()).replace("{n2}", &(extra + 2).to_string()));
    s
}

/// Accept TCP and UDP whose source port is in the lowest tenth (1024-7475 of 1024-65535).
pub const TENTH: &str = "[[filter.egress_rule]]\nrule_number = {n}\naction = \"accept\"\nprotocol = 6\nsource_port = { from = 1024, to = 7475 }\n[[filter.egress_rule]]\nrule_number = {n2}\naction = \"accept\"\nprotocol = 17\nsource_port = { from = 1024, to = 7475 }\n";
/// Accept everything.
pub const ALL: &str = "[[filter.egress_rule]]\nrule_number = {n}\naction = \"accept\"\n";
/// Rules that look at ports and addresses but match nothing in the traffic.
pub const NOTHING: &str = "[[filter.egress_rule]]\nrule_number = {n}\naction = \"accept\"\nprotocol = 6\ndestination_port = { from = 9999, to = 9999 }\n[[filter.egress_rule]]\nrule_number = {n2}\naction = \"accept\"\nprotocol = 17\nsource_port = { from = 1, to = 1000 }\n";

pub fn session(id: &str, filter: &str, number: u32, packet_length: Option<u32>) -> String {
    let pl = packet_length.map(|l| format!("packet_length = {l}\n")).unwrap_or_default();
    format!("\n[[session]]\nid = \"{id}\"\nsource = \"src\"\ntarget = \"tmt\"\nfilter = \"{filter}\"\nsession_number = {number}\nvirtual_network_id = {number}\n{pl}")
}

pub fn one_session(f: String, packet_length: Option<u32>) -> String {
    format!("{TARGET_TMT}{f}{}", session("s1", MAIN_FILTER, 1, packet_length))
}

pub fn scenarios() -> Vec<Scenario> {
    let quota = "\n[quotas]\nrules_per_filter = 20000\n";
    let tenth = Some("copy:128/10");
    let s = |name, mirroring, floor, ovs| Scenario { name, workers: 1, sessions: &["s1"], mirroring, against: None, floor, ovs, scales: None };
    vec![
        Scenario { sessions: &[], ..s("no sessions", String::new(), Some("touch"), Some(Job::Forward)) },
        s("sessions, nothing accepted", one_session(filter(MAIN_FILTER, 0, NOTHING), Some(128)), Some("touch"), None),
        s("10% mirrored, 128 B", one_session(filter(MAIN_FILTER, 0, TENTH), Some(128)), tenth, Some(Job::Mirror { max_len: Some(128), tenth: true })),
        s("100% mirrored, 128 B", one_session(filter(MAIN_FILTER, 0, ALL), Some(128)), Some("copy:128"), Some(Job::Mirror { max_len: Some(128), tenth: false })),
        s("100% mirrored, whole", one_session(filter(MAIN_FILTER, 0, ALL), None), Some("copy:whole"), Some(Job::Mirror { max_len: None, tenth: false })),
        s("10 rules, 10% mirrored", format!("{quota}{}", one_session(filter(MAIN_FILTER, 8, TENTH), Some(128))), tenth, None),
        // Right after 10 rules: a target pair, measured close together on a noisy machine.
        Scenario {
            // The 10-rule filter (the same as the scenario before) too, to be compared with directly.
            against: Some(Against { scenario: "10 rules, 10% mirrored", filter: "f10" }),
            ..s("10,000 rules, 10% mirrored", format!("{quota}{}", one_session(filter(MAIN_FILTER, 9998, TENTH) + &filter("f10", 8, TENTH), Some(128))), tenth, None)
        },
        s("1,000 rules, 10% mirrored", format!("{quota}{}", one_session(filter(MAIN_FILTER, 998, TENTH), Some(128))), tenth, None),
        Scenario {
            sessions: &["s1", "s2", "s3"],
            ..s(
                "3 sessions, 10% mirrored",
                format!(
                    "{TARGET_TMT}{}{}{}{}{}{}",
                    filter("f1", 0, NOTHING),
                    filter("f2", 0, NOTHING),
                    filter("f3", 0, TENTH),
                    session("s1", "f1", 1, Some(128)),
                    session("s2", "f2", 2, Some(128)),
                    session("s3", "f3", 3, Some(128))
                ),
                tenth,
                None,
            )
        },
        Scenario { workers: 2, scales: Some("100% mirrored, 128 B"), ..s("2 workers, 100% mirrored, 128 B", one_session(filter(MAIN_FILTER, 0, ALL), Some(128)), Some("copy:128"), None) },
    ]
}

pub fn config(input: &Path, workers: usize, socket: &Path, mirroring: &str) -> String {
    let rx: String = (0..workers).map(|_| format!(",rx_pcap={}", input.display())).collect();
    format!(
        r#"
[dataplane]
workers = {workers}
eal_args = ["--no-huge", "-m", "1024", "--no-pci"]

[control]
socket = "{}"

[[port]]
name = "host"
device = "net_pcap0{rx},infinite_rx=1"

[[port]]
name = "uplink"
device = "net_null0,no-rx=1"

[[port]]
name = "mirror"
device = "net_null1,no-rx=1"
ipv4 = "192.0.2.1"

[[link]]
ports = ["host", "uplink"]

[[network_interface]]
id = "src"
port = "host"
{mirroring}"#,
        socket.display()
    )
}
