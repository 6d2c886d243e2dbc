//! What a configuration must mirror, computed the slow and obvious way: from what the
//! generator put in each frame (not by parsing it back), with SPEC.md's linear evaluation
//! ([`dataplane::filter::reference`]) and the exclusions written out again here. Then the
//! checks that compare a mirror capture with it.

use crate::traffic::Frame;
use control::compile::filter_rules;
use control::config::Config;
use dataplane::filter::{reference, RuleSet};
use dataplane::parse::{Fields, Packet};
use dataplane::types::Direction;
use dataplane::wire::be16;
use std::collections::HashMap;
use std::net::IpAddr;

/// Frames received on one port.
pub struct Input<'a> {
    pub port: &'a str,
    pub frames: &'a [Frame],
}

/// One copy the dataplane must send.
#[derive(Clone, Debug)]
pub struct Copy {
    /// Index of the input and of the frame in it.
    pub input: usize,
    pub frame: usize,
    pub session: String,
    pub dir: Direction,
    pub vni: u32,
    /// The original, cut.
    pub inner: Vec<u8>,
    pub original_len: usize,
    /// The outer source: of the collectors' family (all of one family in these tests).
    pub src_ip: IpAddr,
    /// The target's collectors: the copy goes to exactly one.
    pub dst_ips: Vec<IpAddr>,
    /// The target's outer TTL (hop limit) and DF flag.
    pub ttl: u8,
    pub dont_fragment: bool,
    pub dst_mac: [u8; 6],
    pub src_mac: Option<[u8; 6]>,
    pub vlan: Option<u16>,
    pub udp_port: u16,
    /// The flow, the same for both directions (for the symmetric source port).
    pub flow: Vec<u32>,
}

/// Per session and direction: (packets, bytes, truncated).
pub type Totals = HashMap<(String, Direction), (u64, u64, u64)>;

const METADATA_V4: [u32; 2] = [0xa9fe_a9fe, 0xa9fe_a97b];
const METADATA_V6: [[u32; 4]; 2] = [[0xfd00_0ec2, 0, 0, 0x254], [0xfd00_0ec2, 0, 0, 0x123]];

fn excluded(p: &Fields) -> bool {
    let udp = p.protocol == 17 && p.has_ports;
    let dhcp = udp && [67, 68].iter().any(|x| *x == p.sport || *x == p.dport);
    let meta = if p.ipv6 {
        METADATA_V6.contains(&p.src) || METADATA_V6.contains(&p.dst)
    } else {
        METADATA_V4.contains(&p.src[0]) || METADATA_V4.contains(&p.dst[0])
    };
    dhcp || meta
}

fn resolver_dns(cfg: &Config, p: &Fields) -> bool {
    let mut v4 = vec![0xa9fe_a9fdu32];
    let mut v6 = vec![[0xfd00_0ec2u32, 0, 0, 0x253]];
    for r in &cfg.vpc.resolvers {
        match r {
            IpAddr::V4(a) => v4.push(u32::from(*a)),
            IpAddr::V6(a) => {
                let o = a.octets();
                v6.push([0, 4, 8, 12].map(|i| u32::from_be_bytes([o[i], o[i + 1], o[i + 2], o[i + 3]])));
            }
        }
    }
    let is = |a: &[u32; 4]| if p.ipv6 { v6.contains(a) } else { v4.contains(&a[0]) };
    p.has_ports && (is(&p.dst) && p.dport == 53 || is(&p.src) && p.sport == 53)
}

fn flow(p: &Fields) -> Vec<u32> {
    let five = !p.fragment && matches!(p.protocol, 1 | 6 | 17 | 58);
    let (sp, dp) = if five { (p.sport, p.dport) } else { (0, 0) };
    let a = (p.src, sp);
    let b = (p.dst, dp);
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    let mut k: Vec<u32> = lo.0.iter().chain(&hi.0).copied().collect();
    k.extend([u32::from(lo.1), u32::from(hi.1), u32::from(p.protocol)]);
    k
}

/// The copies each input's frames must produce, in order, and the session totals.
pub fn copies(cfg: &Config, inputs: &[Input]) -> (Vec<Vec<Copy>>, Totals) {
    let peers = cfg.peers();
    let mut totals = Totals::new();
    let mut out = Vec::new();
    for (ii, input) in inputs.iter().enumerate() {
        let port = cfg.port_index(input.port).expect("input port exists");
        let peer = peers[port].map(usize::from);
        let mut list = Vec::new();
        for (fi, f) in input.frames.iter().enumerate() {
            let Some(p) = f.packet else { continue };
            if excluded(&p) {
                continue;
            }
            let dns = resolver_dns(cfg, &p);
            let src_mac = &f.bytes[6..12];
            let dst_mac = &f.bytes[0..6];
            let mut owners = Vec::new();
            for s in cfg.network_interfaces.iter().filter(|s| s.port == input.port) {
                if s.mac.is_none_or(|m| m.0 == src_mac) {
                    owners.push((s, Direction::Egress));
                }
            }
            let out_port = peer.unwrap_or(port);
            for s in cfg.network_interfaces.iter().filter(|s| s.port == cfg.ports[out_port].name) {
                let owns = match s.mac {
                    Some(m) => m.0 == dst_mac,
                    None => peer.is_some(),
                };
                if owns {
                    owners.push((s, Direction::Ingress));
                }
            }
            for (source, dir) in owners {
                let mut sessions: Vec<_> = cfg
                    .sessions
                    .iter()
                    .filter(|s| s.enabled && s.source == source.id)
                    .filter(|s| cfg.targets.iter().any(|t| t.id == s.target) && cfg.filters.iter().any(|x| x.id == s.filter))
                    .collect();
                sessions.sort_by_key(|s| s.session_number);
                let filters: Vec<_> = sessions.iter().map(|s| filter_rules(cfg.filters.iter().find(|x| x.id == s.filter).unwrap())).collect();
                let sets: Vec<RuleSet> = filters.iter().map(|f| RuleSet { rules: f.rules(dir), amazon_dns: f.amazon_dns }).collect();
                let Some(i) = reference(&sets, &Packet::from(p), dns) else { continue };
                let s = sessions[i];
                let t = cfg.targets.iter().find(|t| t.id == s.target).unwrap();
                let dest = cfg.target_destination(t).expect("the target's destination is in the inventory");
                let mirror = cfg.ports.iter().find(|x| x.name == dest.port).unwrap();
                let hops: Vec<[u8; 6]> = dest
                    .collectors
                    .iter()
                    .map(|c| match c.hop {
                        control::config::NextHop::Mac(m) => m.0,
                        control::config::NextHop::Address(_) => panic!("the expectation model needs a configured next-hop MAC"),
                    })
                    .collect();
                let ipv6 = dest.collectors.iter().any(|c| c.address.is_ipv6());
                let limit = cfg.effective_packet_length(s).unwrap_or(u32::MAX).min(t.mtu - if ipv6 { 56 } else { 36 }) as usize;
                let cut = f.bytes.len().min(limit);
                let e = totals.entry((s.id.clone(), dir)).or_default();
                e.0 += 1;
                e.1 += cut as u64;
                e.2 += u64::from(cut < f.bytes.len());
                list.push(Copy {
                    input: ii,
                    frame: fi,
                    session: s.id.clone(),
                    dir,
                    vni: s.virtual_network_id.expect("assigned at load"),
                    inner: f.bytes[..cut].to_vec(),
                    original_len: f.bytes.len(),
                    src_ip: if ipv6 { IpAddr::V6(source.ipv6.or(mirror.ipv6).unwrap()) } else { IpAddr::V4(source.ipv4.or(mirror.ipv4).unwrap()) },
                    dst_ips: dest.collectors.iter().map(|c| c.address).collect(),
                    ttl: t.ttl,
                    dont_fragment: t.dont_fragment,
                    dst_mac: hops[0],
                    src_mac: mirror.mac.map(|m| m.0),
                    vlan: t.vlan,
                    udp_port: t.udp_port,
                    flow: flow(&p),
                });
            }
        }
        out.push(list);
    }
    (out, totals)
}

/// Checks one sent copy against its expectation, field by field: AWS's outer IPv4 header
/// (TTL 255, DF clear, identification 0 unless the target says otherwise, UDP checksum 0), or
/// an outer IPv6 header (hop limit, a UDP checksum that verifies). Returns the outer UDP
/// source port and destination address.
pub fn check_copy(got: &[u8], want: &Copy) -> Result<(u16, IpAddr), String> {
    let ctx = |what: &str| format!("copy of input {} frame {} ({} {:?}): {what}", want.input, want.frame, want.session, want.dir);
    let eth = if want.vlan.is_some() { 18 } else { 14 };
    let ipv6 = want.src_ip.is_ipv6();
    let ip_len = if ipv6 { 40 } else { 20 };
    let outer = eth + ip_len + 16;
    if got.len() != outer + want.inner.len() {
        return Err(ctx(&format!("{} bytes, expected {} + {}", got.len(), outer, want.inner.len())));
    }
    if got[0..6] != want.dst_mac {
        return Err(ctx("outer destination MAC is not the next hop"));
    }
    if let Some(m) = want.src_mac {
        if got[6..12] != m {
            return Err(ctx("outer source MAC is not the mirror port's"));
        }
    }
    if let Some(vid) = want.vlan {
        if be16(got, 12) != 0x8100 || be16(got, 14) & 0x0fff != vid {
            return Err(ctx("outer VLAN tag missing or wrong"));
        }
    }
    let ip = &got[eth..eth + ip_len];
    let udp_len = 16 + want.inner.len();
    let (src, dst) = if ipv6 {
        if be16(got, eth - 2) != 0x86dd || ip[0] >> 4 != 6 {
            return Err(ctx("outer header is not IPv6"));
        }
        if usize::from(be16(ip, 4)) != udp_len || ip[6] != 17 || ip[7] != want.ttl {
            return Err(ctx(&format!("outer IPv6 payload length/next header/hop limit wrong: {:02x?}", &ip[..8])));
        }
        let a = |at: usize| IpAddr::from(<[u8; 16]>::try_from(&ip[at..at + 16]).unwrap());
        (a(8), a(24))
    } else {
        if be16(got, eth - 2) != 0x0800 || ip[0] != 0x45 {
            return Err(ctx("outer header is not IPv4 without options"));
        }
        let df = if want.dont_fragment { 0x4000 } else { 0 };
        if usize::from(be16(ip, 2)) != 20 + udp_len || be16(ip, 4) != 0 || be16(ip, 6) != df || ip[8] != want.ttl || ip[9] != 17 {
            return Err(ctx(&format!("outer IPv4 length/id/DF/TTL/protocol wrong: {ip:02x?}")));
        }
        if words_sum(ip) != 0xffff {
            return Err(ctx("outer IPv4 checksum does not verify"));
        }
        let a = |at: usize| IpAddr::from(<[u8; 4]>::try_from(&ip[at..at + 4]).unwrap());
        (a(12), a(16))
    };
    if src != want.src_ip || !want.dst_ips.contains(&dst) {
        return Err(ctx(&format!("outer addresses {src} -> {dst}, expected {} -> one of {:?}", want.src_ip, want.dst_ips)));
    }
    let udp = &got[eth + ip_len..eth + ip_len + 8];
    let sport = be16(udp, 0);
    if sport < 49152 || be16(udp, 2) != want.udp_port || usize::from(be16(udp, 4)) != udp_len {
        return Err(ctx(&format!("outer UDP header wrong: {udp:02x?}")));
    }
    let checksum_ok = if ipv6 {
        // RFC 8200 8.1: over the pseudo-header (addresses, length, next header) and the
        // datagram; never 0.
        let mut pseudo = ip[8..40].to_vec();
        pseudo.extend_from_slice(&(udp_len as u32).to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, 17]);
        be16(udp, 6) != 0 && (words_sum(&pseudo) + words_sum(&got[eth + ip_len..])) % 0xffff == 0
    } else {
        be16(udp, 6) == 0
    };
    if !checksum_ok {
        return Err(ctx(&format!("outer UDP checksum wrong: {udp:02x?}")));
    }
    let vx = &got[outer - 8..outer];
    if vx[0] != 0x08 || vx[1..4] != [0, 0, 0] || u32::from_be_bytes([0, vx[4], vx[5], vx[6]]) != want.vni || vx[7] != 0 {
        return Err(ctx(&format!("VXLAN header wrong: {vx:02x?}, expected VNI {}", want.vni)));
    }
    if got[outer..] != want.inner[..] {
        return Err(ctx("inner frame differs from the original"));
    }
    Ok((sport, dst))
}

/// The ones'-complement sum of 16-bit words, the slow way (RFC 1071), folded: 0xffff for
/// bytes whose checksum field holds their checksum. Written apart from the dataplane's.
fn words_sum(b: &[u8]) -> u32 {
    let mut s: u32 = b.chunks(2).map(|w| u32::from(w[0]) << 8 | u32::from(*w.get(1).unwrap_or(&0))).sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    s
}

/// Checks a mirror capture against the expected copies: every copy present, in order within
/// each input, nothing else; outer headers right; both directions of a flow on one UDP source
/// port and one collector. Copies of different inputs interleave (a worker polls its ports in
/// turn), so each sent copy is matched against the next expected copy of every input.
/// Returns the expected copies in capture order.
pub fn check_capture(got: &[Vec<u8>], want: &[Vec<Copy>]) -> Vec<Copy> {
    let mut order = Vec::with_capacity(got.len());
    let mut next = vec![0usize; want.len()];
    let mut flows: HashMap<(Vec<u32>, Vec<IpAddr>), (u16, IpAddr)> = HashMap::new();
    for (n, g) in got.iter().enumerate() {
        // The copy must be the next expected one of some input (inputs interleave by burst).
        let candidates: Vec<usize> = (0..want.len()).filter(|&i| next[i] < want[i].len()).collect();
        let mut errors = Vec::new();
        let mut matched = None;
        for i in candidates {
            match check_copy(g, &want[i][next[i]]) {
                Ok(r) => {
                    matched = Some((i, r));
                    break;
                }
                Err(e) => errors.push(e),
            }
        }
        let Some((i, outer)) = matched else {
            panic!("mirror frame {n} is not the next expected copy of any input: {errors:?}\n{:02x?}", &g[..g.len().min(96)]);
        };
        let c = &want[i][next[i]];
        // Per target: a flow's two directions may be mirrored by sessions with other targets.
        if let Some(prev) = flows.insert((c.flow.clone(), c.dst_ips.clone()), outer) {
            assert_eq!(prev, outer, "copy {n}: both directions of a flow must share UDP source port and collector");
        }
        order.push(c.clone());
        next[i] += 1;
    }
    for (i, w) in want.iter().enumerate() {
        assert_eq!(next[i], w.len(), "input {i}: {} of {} expected copies were sent; first missing: {:?}", next[i], w.len(), w.get(next[i]).map(|c| (c.frame, &c.session, c.dir)));
    }
    order
}

/// Checks a mirror capture that may lack copies (dropped for want of mbufs or queue room):
/// every sent copy is a later expected copy of some input than the one before it, whole and
/// right. Returns the copies sent, in capture order.
pub fn check_sent_subset(got: &[Vec<u8>], want: &[Vec<Copy>]) -> Vec<Copy> {
    let mut next = vec![0usize; want.len()];
    let mut order = Vec::with_capacity(got.len());
    'frames: for (n, g) in got.iter().enumerate() {
        for (i, w) in want.iter().enumerate() {
            if let Some(k) = (next[i]..w.len()).find(|&k| check_copy(g, &w[k]).is_ok()) {
                order.push(w[k].clone());
                next[i] = k + 1;
                continue 'frames;
            }
        }
        panic!("mirror frame {n} matches no expected copy after the previous ones: {:02x?}", &g[..g.len().min(96)]);
    }
    order
}

/// Reads `pcap` with tshark (outer checksums verified) and checks that it decodes every frame
/// as VXLAN with the expected VNI, a good outer checksum (IPv4's header checksum, or IPv6's
/// UDP checksum), and the original's inner Ethernet and IP addresses and length; whole-frame
/// copies must decode without a malformed-packet error. `order` is the expected copies in
/// capture order.
pub fn tshark_check(pcap: &std::path::Path, order: &[Copy]) {
    crate::require_tool("tshark", "tshark");
    let mut cmd = std::process::Command::new("tshark");
    cmd.arg("-r").arg(pcap).args(["-o", "ip.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "separator=|", "-E", "occurrence=a", "-E", "aggregator=,"]);
    let mut ports: Vec<u16> = order.iter().map(|c| c.udp_port).filter(|&p| p != 4789).collect();
    ports.sort_unstable();
    ports.dedup();
    for p in ports {
        cmd.args(["-d", &format!("udp.port=={p},vxlan")]);
    }
    for f in ["frame.len", "vxlan.vni", "ip.checksum.status", "eth.src", "eth.dst", "ip.src", "ipv6.src", "_ws.malformed", "udp.checksum.status"] {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("running tshark");
    assert!(out.status.success(), "tshark failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), order.len(), "tshark read {} frames, expected {}", lines.len(), order.len());
    let mac = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<Vec<_>>().join(":");
    for (n, (line, c)) in lines.iter().zip(order).enumerate() {
        let f: Vec<&str> = line.split('|').collect();
        let ipv6 = c.src_ip.is_ipv6();
        let outer = if c.vlan.is_some() { 4 } else { 0 } + if ipv6 { 70 } else { 50 };
        let ctx = format!("tshark frame {} ({} {:?}): {line}", n + 1, c.session, c.dir);
        assert_eq!(f[0], (outer + c.inner.len()).to_string(), "{ctx}: length");
        // An inner packet may itself be UDP to 4789: the outer VNI is the first.
        assert_eq!(f[1].split(',').next(), Some(c.vni.to_string().as_str()), "{ctx}: not decoded as VXLAN with VNI {}", c.vni);
        if ipv6 {
            assert_eq!(f[8].split(',').next(), Some("1"), "{ctx}: outer UDP checksum not good");
        } else {
            assert_eq!(f[2].split(',').next(), Some("1"), "{ctx}: outer IPv4 checksum not good");
        }
        let src: Vec<&str> = f[3].split(',').collect();
        let dst: Vec<&str> = f[4].split(',').collect();
        assert!(src.len() >= 2 && dst.len() >= 2, "{ctx}: no inner Ethernet header");
        assert_eq!(src[1], mac(&c.inner[6..12]), "{ctx}: inner source MAC");
        assert_eq!(dst[1], mac(&c.inner[0..6]), "{ctx}: inner destination MAC");
        let outer_src = f[if ipv6 { 6 } else { 5 }].split(',').next().unwrap_or("");
        assert_eq!(outer_src, c.src_ip.to_string(), "{ctx}: outer source address");
        // The payloads are random bytes, which application dissectors (DNS on port 53, ...)
        // may call malformed; the headers up to the transport must never be, unless the
        // original itself was damaged (its copy carries it as it was).
        if c.inner.len() == c.original_len && as_long_as_its_ip_header_says(&c.inner) {
            let broken: Vec<&str> = f[7]
                .split(',')
                .filter_map(|m| m.strip_prefix("[Malformed Packet: ").and_then(|m| m.strip_suffix(']')))
                .filter(|proto| ["ETH", "VLAN", "IP", "IPV6", "IPv6", "UDP", "TCP", "ICMP", "ICMPv6", "VXLAN"].contains(proto))
                .collect();
            assert!(broken.is_empty(), "{ctx}: tshark reports malformed {broken:?}");
        }
    }
}

/// Whether a frame is as long as its IP header says (a damaged one, cut or lying about its
/// length, is still mirrored: SPEC.md, rule 5).
fn as_long_as_its_ip_header_says(frame: &[u8]) -> bool {
    let Ok(l2) = dataplane::wire::ethernet::untag(frame, 2) else { return false };
    let l3 = l2.offset;
    let said = match l2.ethertype {
        0x0800 if frame.len() >= l3 + 4 => usize::from(be16(frame, l3 + 2)),
        0x86dd if frame.len() >= l3 + 6 => 40 + usize::from(be16(frame, l3 + 4)),
        _ => return true,
    };
    l3 + said == frame.len()
}
