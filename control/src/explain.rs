//! `explain`: what traffic-mirror does with given frames, and why. For each frame: which
//! sources saw it in which direction, the sessions each tried in order and the rule of which
//! filter decided each (or that none matched), why it is never mirrored when it is not, and
//! the copies: their VNI, length and outer UDP ports, byte for byte.
//!
//! The answer is the workers' own: the frames go through the very decision the workers run
//! ([`Sources::decide`]) on a compiled table, with an observer that records what decided, and
//! the copies are written by the same headers templates. Against a running appliance
//! (`ExplainFrames`) the table is the one in force; against a configuration file it is
//! compiled as `run` compiles it, with the ports' MACs from the file (else zeros) and next
//! hops found by ARP taken as resolved to 00:00:00:00:00:00.

use crate::api::actions::ExplainFrames;
use crate::api::{ApiError, Client};
use crate::state::appliance::EXPLAIN_FRAMES;
use anyhow::Context;
use std::path::Path;
use crate::compile::{Compiler, Env};
use crate::config::{Config, ConfigError, Direction, Refs, RuleAction};
use crate::counters::Slots;
use dataplane::decide::{Mirror, Observer};
use dataplane::filter::{Exclusion, Verdict};
use dataplane::hash::source_port;
use dataplane::parse::{parse, Packet};
use dataplane::table::{Compiled, SourceRules, Table};
use dataplane::types::NotMirrored;
use dataplane::wire::{ethernet, ipv4, ipv6, udp, vxlan};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Longest frame `explain` takes: an IPv4 packet's largest, with its Ethernet header and tags.
pub const MAX_FRAME: usize = 65535 + 22;

/// One frame explained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FrameExplanation {
    /// Its place among the frames asked about, from 1.
    pub frame: usize,
    /// The port it arrived on.
    pub port: String,
    pub length: usize,
    /// Its IP headers, when it has whole ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet: Option<PacketSummary>,
    /// Why it is never mirrored: not-ip, malformed (its IP header is incomplete or invalid),
    /// excluded (a session accepted it, but AWS never mirrors it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_mirrored: Option<String>,
    /// For excluded frames: dhcp, metadata-service or own-copy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub excluded: Option<String>,
    /// The sources that saw it, in the order the workers ask them.
    pub sources: Vec<SourceExplanation>,
    /// The copies made of it.
    pub copies: Vec<CopyExplanation>,
}

/// The fields classification reads.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PacketSummary {
    pub source: IpAddr,
    pub destination: IpAddr,
    /// IANA number, after IPv6 extension headers.
    pub protocol: u8,
    /// TCP and UDP only, and only when the ports are in the frame (not a later fragment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_port: Option<u16>,
    pub fragment: bool,
}

/// A source that saw the frame, and its sessions tried.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SourceExplanation {
    pub network_interface_id: String,
    pub direction: Direction,
    /// Its enabled sessions tried, in ascending session number, up to the one that mirrors.
    pub sessions: Vec<SessionTried>,
}

/// One session tried, and what decided it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SessionTried {
    pub traffic_mirror_session_id: String,
    pub session_number: u32,
    pub traffic_mirror_filter_id: String,
    /// rule (a rule matched first and decided), no-rule-matched, or resolver-dns (DNS to or
    /// from the VPC resolver, which a filter without amazon-dns never mirrors: its rules are
    /// not tried).
    pub decided_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_mirror_filter_rule_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_number: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_action: Option<RuleAction>,
    /// This session mirrors the frame (the source tries none after it).
    pub accepted: bool,
}

/// A copy of the frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CopyExplanation {
    pub traffic_mirror_session_id: String,
    pub direction: Direction,
    /// The mirror port it leaves by.
    pub port: String,
    /// Bytes of the frame it carries (packet length and MTU).
    pub inner_length: usize,
    pub truncated: bool,
    /// Why it is not sent (`unresolved`: the next hop has no MAC yet; `no_healthy_collector`:
    /// every collector of its load balancer failed its health checks); then nothing below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_network_id: Option<u32>,
    /// Bytes of the whole copy, outer headers included.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer_source: Option<IpAddr>,
    /// The collector it goes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outer_destination: Option<IpAddr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_source_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_destination_port: Option<u16>,
    /// The copy as it is sent, in hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<String>,
}

/// The table `cfg` compiles to, as `run` would make it, without DPDK: ports' MACs from the
/// file or zeros, next hops found by ARP resolved to zeros.
pub fn offline_table(cfg: &Config) -> Result<Table, ConfigError> {
    let mut slots = Slots::new(cfg.sessions.len());
    slots.assign_all(cfg, &[])?;
    let macs: Vec<[u8; 6]> = cfg.ports.iter().map(|p| p.mac.map_or([0; 6], |m| m.0)).collect();
    let env = Env { port_macs: &macs, slots: &slots, resolved: &|_| Some([0; 6]) };
    Compiler::default().compile_all(cfg, &Refs::of(cfg), &env, 1)
}

/// Explains `frames`, all arriving on port `port`, against `table` (compiled from `cfg`).
pub fn explain(cfg: &Config, table: &Table, port: &str, frames: &[Vec<u8>]) -> Result<Vec<FrameExplanation>, ApiError> {
    let rx = cfg.port_index(port).ok_or_else(|| {
        let names: Vec<&str> = cfg.ports.iter().map(|p| p.name.as_str()).collect();
        ApiError::invalid("Port", port, format!("no such port (the ports are {})", names.join(", ")))
    })?;
    // As the workers do: a frame leaves by the link's other port, a tap port's by none.
    let out = cfg.peers()[rx].map_or(rx, usize::from);
    let sources = table.sources(rx, out);
    let numbers: HashMap<&str, u32> = cfg.sessions.iter().map(|s| (s.id.as_str(), s.session_number)).collect();
    let mut p = Packet::default();
    let mut explained = Vec::with_capacity(frames.len());
    for (i, frame) in frames.iter().enumerate() {
        let mut e = FrameExplanation {
            frame: i + 1,
            port: port.to_owned(),
            length: frame.len(),
            packet: None,
            not_mirrored: None,
            excluded: None,
            sources: Vec::new(),
            copies: Vec::new(),
        };
        if sources.is_empty() {
            // The workers do not even parse such frames: nothing on this port is a source's.
            e.packet = parse(frame).ok().map(|p| summary(&p));
            explained.push(e);
            continue;
        }
        let mut trace = Trace { numbers: &numbers, table, sources: Vec::new(), excluded: None };
        let mut mirrors: Vec<Mirror> = Vec::new();
        let decided = sources.decide(frame, &mut p, &mut trace, |m| mirrors.push(m));
        e.sources = trace.sources;
        e.excluded = trace.excluded.map(|x| x.name().to_owned());
        match decided {
            Err(NotMirrored::NotIp) => e.not_mirrored = Some("not-ip".into()),
            Err(NotMirrored::Malformed) => e.not_mirrored = Some("malformed".into()),
            Err(NotMirrored::Excluded) => {
                e.packet = Some(summary(&p));
                e.not_mirrored = Some("excluded".into());
            }
            Ok(()) => e.packet = Some(summary(&p)),
        }
        e.copies = mirrors.iter().map(|m| copy(cfg, table, frame, m)).collect();
        explained.push(e);
    }
    Ok(explained)
}

/// Records, as the decision runs, what decided for each source.
struct Trace<'a> {
    /// Session numbers, by session id.
    numbers: &'a HashMap<&'a str, u32>,
    table: &'a Table,
    sources: Vec<SourceExplanation>,
    excluded: Option<Exclusion>,
}

impl Observer for Trace<'_> {
    fn decided(&mut self, dir: Direction, source: &SourceRules, family: &Compiled, p: &Packet, outcome: u32) {
        let outcome = family.classifier.outcome(outcome);
        let sessions = outcome
            .tried
            .iter()
            .enumerate()
            .map(|(set, verdict)| {
                let id = &self.table.session(source.sessions[set]).id;
                let filter = &source.filters[set];
                let number = self.numbers.get(&**id).copied().unwrap_or_default();
                let mut tried = SessionTried {
                    traffic_mirror_session_id: id.to_string(),
                    session_number: number,
                    traffic_mirror_filter_id: filter.id.to_string(),
                    decided_by: String::new(),
                    traffic_mirror_filter_rule_id: None,
                    rule_number: None,
                    rule_action: None,
                    accepted: outcome.winner == Some(set as u32),
                };
                match verdict {
                    Verdict::Rule(i) => {
                        let rule = &filter.rules(dir)[*i as usize];
                        tried.decided_by = "rule".into();
                        tried.traffic_mirror_filter_rule_id = Some(rule.id.to_string());
                        tried.rule_number = Some(u32::from(rule.number));
                        tried.rule_action = Some(rule.action);
                    }
                    // Which of the two it is, said in words: the classifier's answer is the same.
                    Verdict::NoRule if !filter.amazon_dns && self.table.exclusions.resolver_dns(p) => tried.decided_by = "resolver-dns".into(),
                    Verdict::NoRule => tried.decided_by = "no-rule-matched".into(),
                }
                tried
            })
            .collect();
        self.sources.push(SourceExplanation { network_interface_id: source.id.to_string(), direction: dir, sessions });
    }

    fn excluded(&mut self, why: Exclusion) {
        self.excluded = Some(why);
    }
}

/// The copy the workers make for `m`: written by the session's headers template, then read
/// back.
fn copy(cfg: &Config, table: &Table, frame: &[u8], m: &Mirror) -> CopyExplanation {
    let s = table.session(m.session);
    let inner = frame.len().min(s.max_inner as usize);
    let mut c = CopyExplanation {
        traffic_mirror_session_id: s.id.to_string(),
        direction: m.dir,
        port: cfg.ports.get(usize::from(s.port)).map(|p| p.name.clone()).unwrap_or_default(),
        inner_length: inner,
        truncated: inner < frame.len(),
        skipped: None,
        virtual_network_id: None,
        length: None,
        outer_source: None,
        outer_destination: None,
        udp_source_port: None,
        udp_destination_port: None,
        bytes: None,
    };
    // The flow hash picks the collector, as the workers do.
    let Some(collector) = s.collector(m.hash) else {
        c.skipped = Some(s.empty.name().into());
        return c;
    };
    let outer = &collector.outer;
    let mut bytes = vec![0; outer.len() + inner];
    let (head, rest) = bytes.split_at_mut(outer.len());
    outer.write(head, &frame[..inner], source_port(m.hash));
    rest.copy_from_slice(&frame[..inner]);
    // The template wrote these headers, so they read back whole.
    let ip = ethernet::untag(&bytes, 1).expect("an outer Ethernet header").offset;
    let (src, dst, l4): (IpAddr, IpAddr, usize) = if outer.is_ipv6() {
        let h = ipv6::Packet::new_unchecked(&bytes[ip..]);
        (ipv6_of(h.src_addr()).into(), ipv6_of(h.dst_addr()).into(), ip + ipv6::HEADER_LEN)
    } else {
        let h = ipv4::Packet::new_unchecked(&bytes[ip..]);
        (Ipv4Addr::from(h.src_addr()).into(), Ipv4Addr::from(h.dst_addr()).into(), ip + ipv4::HEADER_LEN)
    };
    let u = udp::Packet::new_unchecked(&bytes[l4..]);
    let vni = vxlan::Packet::new_unchecked(&bytes[l4 + udp::HEADER_LEN..]).vni();
    c.virtual_network_id = Some(vni);
    c.length = Some(bytes.len());
    c.outer_source = Some(src);
    c.outer_destination = Some(dst);
    c.udp_source_port = Some(u.src_port());
    c.udp_destination_port = Some(u.dst_port());
    c.bytes = Some(hex::encode(&bytes));
    c
}

/// An IPv6 address from its four 32-bit words, as the dataplane keeps it.
fn ipv6_of(w: [u32; 4]) -> Ipv6Addr {
    Ipv6Addr::from(w.iter().fold(0u128, |a, x| a << 32 | u128::from(*x)))
}

fn summary(p: &Packet) -> PacketSummary {
    let addr = |w: [u32; 4]| -> IpAddr {
        if p.ipv6 {
            ipv6_of(w).into()
        } else {
            Ipv4Addr::from(w[0]).into()
        }
    };
    let ports = p.has_ports();
    PacketSummary {
        source: addr(p.src()),
        destination: addr(p.dst()),
        protocol: p.protocol(),
        source_port: ports.then(|| p.sport()),
        destination_port: ports.then(|| p.dport()),
        fragment: p.fragment,
    }
}

/// What `traffic-mirror explain` explains against.
pub enum Against<'a> {
    /// A configuration file (and its journal), compiled here.
    Config(&'a Path),
    /// The control socket of a running traffic-mirror: the table in force.
    Socket(&'a Path),
}

/// Most hex characters one ExplainFrames request carries (a request line holds at most
/// [`MAX_LINE`](crate::api::socket::MAX_LINE) bytes).
const REQUEST_HEX: usize = 512 * 1024;

/// `frames`, arriving on `port`, explained against a configuration or a running appliance.
pub fn explain_frames(against: Against, port: &str, frames: &[Vec<u8>]) -> anyhow::Result<Vec<FrameExplanation>> {
    match against {
        Against::Config(path) => {
            let cfg = crate::store::load(path).map_err(|e| anyhow::anyhow!("{e}"))?.cfg;
            let table = offline_table(&cfg).map_err(|e| anyhow::anyhow!("{e}"))?;
            Ok(explain(&cfg, &table, port, frames)?)
        }
        Against::Socket(path) => {
            let mut client = Client::connect(path)?;
            let mut out: Vec<FrameExplanation> = Vec::with_capacity(frames.len());
            let mut rest = frames;
            while !rest.is_empty() {
                // As many frames as fit one request.
                let (mut n, mut size) = (0, 0);
                while n < rest.len() && n < EXPLAIN_FRAMES && (n == 0 || size + 2 * rest[n].len() <= REQUEST_HEX) {
                    size += 2 * rest[n].len();
                    n += 1;
                }
                let request = ExplainFrames { port: port.to_owned(), frames: rest[..n].iter().map(hex::encode).collect() };
                let done = out.len();
                let reply = client.call(&request)?.map_err(|e| anyhow::anyhow!("{e}"))?;
                out.extend(reply.frames.into_iter().map(|mut f| {
                    f.frame += done;
                    f
                }));
                rest = &rest[n..];
            }
            Ok(out)
        }
    }
}

/// The frames of a classic pcap file (what tcpdump -w, Wireshark's "pcap" and DPDK's
/// net_pcap write), microsecond or nanosecond, either byte order.
pub fn read_pcap(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let bad = |why: &str| anyhow::anyhow!("{}: {why}", path.display());
    let magic = bytes.get(..4).ok_or_else(|| bad("not a pcap file (too short)"))?;
    let word = |b: &[u8]| -> u32 {
        let b: [u8; 4] = b.try_into().expect("four bytes");
        if magic == [0xa1, 0xb2, 0xc3, 0xd4] || magic == [0xa1, 0xb2, 0x3c, 0x4d] { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) }
    };
    match magic {
        [0xa1, 0xb2, 0xc3, 0xd4] | [0xd4, 0xc3, 0xb2, 0xa1] | [0xa1, 0xb2, 0x3c, 0x4d] | [0x4d, 0x3c, 0xb2, 0xa1] => {}
        [0x0a, 0x0d, 0x0d, 0x0a] => return Err(bad("a pcapng file: convert it with `editcap -F pcap IN OUT` (Wireshark's)")),
        _ => return Err(bad("not a pcap file (unknown magic number)")),
    }
    let link = bytes.get(20..24).map(word).ok_or_else(|| bad("the pcap header is cut short"))?;
    if link != 1 {
        return Err(bad(&format!("link type {link}, not Ethernet (1)")));
    }
    let mut frames = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let header = bytes.get(at..at + 16).ok_or_else(|| bad(&format!("record {} is cut short", frames.len() + 1)))?;
        let len = word(&header[8..12]) as usize;
        let frame = bytes.get(at + 16..at + 16 + len).ok_or_else(|| bad(&format!("record {} is cut short", frames.len() + 1)))?;
        frames.push(frame.to_vec());
        at += 16 + len;
    }
    Ok(frames)
}

/// A frame given in hex (spaces, colons and a 0x prefix allowed), as member `member` names it.
pub fn frame_from_hex(member: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    let digits: String = text.trim().trim_start_matches("0x").chars().filter(|c| !c.is_whitespace() && *c != ':').collect();
    let bytes = hex::decode(&digits).map_err(|e| ApiError::invalid(member, shorten(text), format!("not hex: {e}")))?;
    if bytes.len() > MAX_FRAME {
        return Err(ApiError::invalid(member, shorten(text), format!("a frame has at most {MAX_FRAME} bytes, this one {}", bytes.len())));
    }
    Ok(bytes)
}

/// A long value cut for an error message.
fn shorten(s: &str) -> String {
    if s.chars().count() > 40 { format!("{}...", s.chars().take(40).collect::<String>()) } else { s.to_owned() }
}

/// The explanations as text, one block per frame.
pub fn render(frames: &[FrameExplanation]) -> String {
    let mut out = String::new();
    for f in frames {
        let _ = write!(out, "frame {}: {} bytes on port {}", f.frame, f.length, f.port);
        if let Some(p) = &f.packet {
            let name = match p.protocol {
                1 => "ICMP".to_owned(),
                6 => "TCP".to_owned(),
                17 => "UDP".to_owned(),
                58 => "ICMPv6".to_owned(),
                n => format!("protocol {n}"),
            };
            let end = |a: &IpAddr, port: Option<u16>| match (a, port) {
                (IpAddr::V6(a), Some(port)) => format!("[{a}]:{port}"),
                (a, Some(port)) => format!("{a}:{port}"),
                (a, None) => a.to_string(),
            };
            let _ = write!(out, ": {name} {} > {}", end(&p.source, p.source_port), end(&p.destination, p.destination_port));
            if p.fragment {
                out.push_str(" (fragment)");
            }
        }
        out.push('\n');
        match f.not_mirrored.as_deref() {
            Some("not-ip") => out.push_str("  never mirrored: not IP (ARP, LLDP, ... or more than two VLAN tags)\n"),
            Some("malformed") => out.push_str("  never mirrored: malformed (its IP header is incomplete or invalid)\n"),
            _ => {}
        }
        if f.sources.is_empty() && f.not_mirrored.is_none() {
            out.push_str("  no source sees it: it is from or to no network interface with an enabled session on its way\n");
        }
        for s in &f.sources {
            let _ = writeln!(out, "  {} of {}:", s.direction.name(), s.network_interface_id);
            if s.sessions.is_empty() {
                out.push_str("    no rule of its sessions' filters can match it\n");
            }
            for t in &s.sessions {
                let _ = write!(out, "    session {} {} (filter {}): ", t.session_number, t.traffic_mirror_session_id, t.traffic_mirror_filter_id);
                match (t.decided_by.as_str(), t.rule_number, &t.traffic_mirror_filter_rule_id, t.rule_action) {
                    ("rule", Some(n), Some(id), Some(a)) => {
                        let _ = write!(out, "rule {n} ({id}) matched: {}", a.name());
                    }
                    ("resolver-dns", ..) => out.push_str("DNS to or from the VPC resolver, and the filter lacks amazon-dns: no rule tried"),
                    _ => out.push_str("no rule matched"),
                }
                out.push_str(if t.accepted { " -> mirrored\n" } else { " -> not mirrored\n" });
            }
        }
        if let Some(x) = &f.excluded {
            let why = match x.as_str() {
                "dhcp" => "DHCP",
                "metadata-service" => "to or from the instance metadata or time service",
                _ => "one of traffic-mirror's own copies",
            };
            let _ = writeln!(out, "  never mirrored all the same: {why} (as in AWS)");
        }
        for c in &f.copies {
            let _ = write!(out, "  copy of {} ({}) out of port {}: ", c.traffic_mirror_session_id, c.direction.name(), c.port);
            match (&c.skipped, c.virtual_network_id, c.length, c.outer_source, c.outer_destination, c.udp_source_port, c.udp_destination_port) {
                (None, Some(vni), Some(len), Some(src), Some(dst), Some(sp), Some(dp)) => {
                    let _ = write!(out, "VNI {vni}, {len} bytes ({} of the frame{}), {} > {}", c.inner_length, if c.truncated { ", cut" } else { "" }, SocketAddr::new(src, sp), SocketAddr::new(dst, dp));
                }
                _ => {
                    let _ = write!(out, "skipped ({})", c.skipped.as_deref().unwrap_or("?"));
                }
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::wire::testing::FrameBuilder;

    const WEB: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const ROUTER: [u8; 6] = [2, 0, 0, 0, 1, 1];

    fn default_config() -> Config {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../config/default.toml")).unwrap();
        crate::config::parse(&text, "default.toml").unwrap()
    }

    fn one(cfg: &Config, port: &str, frame: Vec<u8>) -> FrameExplanation {
        let table = offline_table(cfg).unwrap();
        explain(cfg, &table, port, &[frame]).unwrap().remove(0)
    }

    #[test]
    fn a_frame_mirrored_says_which_rule_decided_and_what_the_copy_is() {
        let cfg = default_config();
        let frame = FrameBuilder::ipv4([10, 0, 0, 5], [198, 51, 100, 7]).macs(ROUTER, WEB).tcp(40000, 443).size(300).build();
        let e = one(&cfg, "host", frame.clone());
        assert_eq!(e.not_mirrored, None);
        assert_eq!(e.sources.len(), 1);
        let s = &e.sources[0];
        assert_eq!((s.network_interface_id.as_str(), s.direction), ("eni-web", Direction::Egress));
        let t = &s.sessions[0];
        assert_eq!((t.traffic_mirror_session_id.as_str(), t.traffic_mirror_filter_id.as_str(), t.rule_number, t.rule_action, t.accepted), ("tms-web", "tmf-web", Some(200), Some(RuleAction::Accept), true));
        let c = &e.copies[0];
        assert_eq!((c.virtual_network_id, c.inner_length, c.truncated, c.length), (Some(100), 128, true, Some(128 + 50)));
        assert_eq!((c.outer_source, c.outer_destination, c.udp_destination_port), (Some(Ipv4Addr::new(10, 0, 0, 5).into()), Some(Ipv4Addr::new(192, 0, 2, 10).into()), Some(4789)));
        let bytes = hex::decode(c.bytes.as_ref().unwrap()).unwrap();
        assert_eq!(&bytes[50..], &frame[..128], "the copy carries the frame's first 128 bytes");
        assert_eq!(u16::from_be_bytes([bytes[34], bytes[35]]), c.udp_source_port.unwrap());
        assert!(render(&[e]).contains("session 1 tms-web (filter tmf-web): rule 200"), "the text names the rule");
    }

    #[test]
    fn a_reject_says_so_and_no_copy_is_made() {
        let cfg = default_config();
        let ssh = FrameBuilder::ipv4([10, 0, 0, 5], [198, 51, 100, 7]).macs(ROUTER, WEB).tcp(40000, 22).build();
        let e = one(&cfg, "host", ssh);
        let t = &e.sources[0].sessions[0];
        assert_eq!((t.rule_number, t.rule_action, t.accepted), (Some(100), Some(RuleAction::Reject), false));
        assert!(e.copies.is_empty());
        let text = render(&[e]);
        assert!(text.contains("rule 100") && text.contains("reject -> not mirrored"), "{text}");
    }

    #[test]
    fn never_mirrored_frames_say_why() {
        let cfg = default_config();
        let arp = FrameBuilder::raw(ethernet::TYPE_ARP, &[0; 28]).macs([0xff; 6], WEB).build();
        assert_eq!(one(&cfg, "host", arp).not_mirrored.as_deref(), Some("not-ip"));
        let udp = FrameBuilder::ipv4([10, 0, 0, 5], [198, 51, 100, 7]).macs(ROUTER, WEB).udp(5000, 53).build();
        assert_eq!(one(&cfg, "host", udp[..30].to_vec()).not_mirrored.as_deref(), Some("malformed"));
        let dhcp = FrameBuilder::ipv4([0; 4], [255; 4]).macs([0xff; 6], WEB).udp(68, 67).build();
        let e = one(&cfg, "host", dhcp);
        assert_eq!((e.not_mirrored.as_deref(), e.excluded.as_deref()), (Some("excluded"), Some("dhcp")));
        assert!(e.sources[0].sessions[0].accepted, "accepted by its rule, excluded after");
        assert!(e.copies.is_empty());
    }

    #[test]
    fn the_uplinks_frames_are_the_sources_ingress_and_unknown_ports_are_refused() {
        let cfg = default_config();
        let icmp_in = FrameBuilder::ipv4([198, 51, 100, 7], [10, 0, 0, 5]).macs(WEB, ROUTER).icmp_echo(8, 7, 1).build();
        let e = one(&cfg, "uplink", icmp_in);
        assert_eq!((e.sources[0].network_interface_id.as_str(), e.sources[0].direction), ("eni-web", Direction::Ingress));
        assert_eq!(e.sources[0].sessions[0].rule_number, Some(200));
        assert_eq!(e.copies[0].virtual_network_id, Some(100));
        let table = offline_table(&cfg).unwrap();
        let err = explain(&cfg, &table, "nic9", &[vec![0; 60]]).unwrap_err();
        assert_eq!(err.code, "InvalidParameterValue");
        assert!(err.message.contains("nic9") && err.message.contains("host, uplink, mirror"), "{err}");
    }

    #[test]
    fn pcap_files_are_read_in_either_byte_order() {
        let dir = tempfile::tempdir().unwrap();
        let frames = [vec![1u8; 60], vec![2u8; 61]];
        for little in [true, false] {
            let w = |v: u32| if little { v.to_le_bytes() } else { v.to_be_bytes() };
            let mut file = Vec::new();
            for v in [0xa1b2_c3d4, 0x0004_0002, 0, 0, 65535, 1] {
                file.extend(if v == 0x0004_0002 { if little { [2, 0, 4, 0] } else { [0, 2, 0, 4] } } else { w(v) });
            }
            for f in &frames {
                for v in [0, 0, f.len() as u32, f.len() as u32] {
                    file.extend(w(v));
                }
                file.extend(f);
            }
            let path = dir.path().join("x.pcap");
            std::fs::write(&path, &file).unwrap();
            assert_eq!(read_pcap(&path).unwrap(), frames);
            std::fs::write(&path, &file[..file.len() - 1]).unwrap();
            assert!(read_pcap(&path).unwrap_err().to_string().contains("record 2 is cut short"));
        }
    }

    #[test]
    fn hex_frames_are_read_leniently_and_refused_by_member() {
        assert_eq!(frame_from_hex("Frames.1", "0x02 00:00 0a").unwrap(), [2, 0, 0, 0x0a]);
        let e = frame_from_hex("Frames.2", "zz").unwrap_err();
        assert!(e.message.starts_with("Value (zz) for parameter Frames.2 is invalid: not hex"), "{e}");
    }
}
