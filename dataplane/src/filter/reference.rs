//! SPEC.md's evaluation, written plainly: the oracle the property tests and the fuzzer check
//! the compiled [`Classifier`](super::Classifier) against, and what a frame is classified on
//! ([`reference_fields`]), the oracle for [`parse`](crate::parse::parse). Never on the fast
//! path.

use super::outcome::{Outcome, Verdict};
use super::rule::{Cidr, Rule, RuleSet};
use crate::parse::{Fields, Packet};
use crate::types::{NotMirrored, PortRange, RuleAction};

impl Cidr {
    /// Does the prefix contain the address `words` (laid out as [`Packet::src`])?
    pub fn contains(&self, ipv6: bool, words: &[u32; 4]) -> bool {
        if ipv6 != self.ipv6 {
            return false;
        }
        let (addr, bits) = if ipv6 {
            let a = words.iter().fold(0u128, |acc, w| (acc << 32) | u128::from(*w));
            (a, 128)
        } else {
            (u128::from(words[0]), 32)
        };
        let shift = bits - u32::from(self.len);
        shift >= bits || (addr ^ self.addr) >> shift == 0
    }
}

impl Rule {
    /// The linear model's match test.
    pub fn matches(&self, p: &Packet) -> bool {
        if self.family().is_some_and(|v6| v6 != p.ipv6) {
            return false;
        }
        let port_ok = |r: Option<PortRange>, port: u16| {
            r.is_none_or(|r| p.has_ports() && r.contains(port))
        };
        self.protocol.is_none_or(|x| x == p.protocol())
            && self.source.is_none_or(|c| c.contains(p.ipv6, &p.src()))
            && self.destination.is_none_or(|c| c.contains(p.ipv6, &p.dst()))
            && port_ok(self.source_ports, p.sport())
            && port_ok(self.destination_ports, p.dport())
    }
}

/// SPEC.md's evaluation, literally: the index of the first rule set (session) that accepts the
/// packet. `resolver_dns` says the packet is DNS to or from the VPC resolver.
pub fn reference(sets: &[RuleSet], p: &Packet, resolver_dns: bool) -> Option<usize> {
    reference_outcome(sets, p, resolver_dns).winner.map(|w| w as usize)
}

/// [`reference`] with what decided each set tried.
pub fn reference_outcome(sets: &[RuleSet], p: &Packet, resolver_dns: bool) -> Outcome {
    let mut tried = Vec::with_capacity(sets.len());
    for (i, set) in sets.iter().enumerate() {
        if resolver_dns && !set.amazon_dns {
            tried.push(Verdict::NoRule);
            continue;
        }
        match set.rules.iter().position(|r| r.matches(p)) {
            Some(r) => {
                tried.push(Verdict::Rule(r as u32));
                if set.rules[r].action == RuleAction::Accept {
                    return Outcome { winner: Some(i as u32), tried: tried.into() };
                }
            }
            None => tried.push(Verdict::NoRule),
        }
    }
    Outcome { winner: None, tried: tried.into() }
}

/// What SPEC.md's evaluation classifies a frame on, read byte by byte as the spec says it:
/// Ethernet and up to two VLAN tags to IP (else not IP); then rule 5: a complete IP header
/// (IPv4: version 4, IHL >= 5, all IHL bytes present; IPv6: version 6, the fixed header and
/// every extension header up to the upper-layer protocol present) gives the addresses and the
/// protocol whatever the length fields say, and ports when the packet is a first fragment and
/// the 4 port bytes are in the frame. Anything else with an IP ethertype is malformed. The
/// ICMP echo identifier stands in both ports (for the flow hash only). Slow and plain on
/// purpose: the parser must answer the same.
pub fn reference_fields(frame: &[u8]) -> Result<Fields, NotMirrored> {
    const IPV4: u16 = 0x0800;
    const IPV6: u16 = 0x86dd;
    let word = |at: usize| frame.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]]));
    let words = |at: usize, n: usize| -> [u32; 4] {
        let mut w = [0u32; 4];
        for (i, x) in w.iter_mut().enumerate().take(n) {
            let b = &frame[at + 4 * i..at + 4 * i + 4];
            *x = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        }
        w
    };
    let mut ethertype = word(12).ok_or(NotMirrored::Malformed)?;
    let mut l3 = 14;
    for _ in 0..2 {
        if !matches!(ethertype, 0x8100 | 0x88a8 | 0x9100) {
            break;
        }
        ethertype = word(l3 + 2).ok_or(NotMirrored::Malformed)?;
        l3 += 4;
    }
    let mut f = Fields { l3_offset: l3 as u16, ..Fields::default() };
    let upper;
    match ethertype {
        IPV4 => {
            let first = *frame.get(l3).ok_or(NotMirrored::Malformed)?;
            let header = usize::from(first & 0x0f) * 4;
            if first >> 4 != 4 || header < 20 || frame.len() < l3 + header {
                return Err(NotMirrored::Malformed);
            }
            let offset = word(l3 + 6).unwrap_or_default() & 0x1fff;
            let more = word(l3 + 6).unwrap_or_default() & 0x2000 != 0;
            f.fragment = offset != 0 || more;
            f.protocol = frame[l3 + 9];
            f.src = words(l3 + 12, 1);
            f.dst = words(l3 + 16, 1);
            upper = (offset == 0).then_some(l3 + header);
        }
        IPV6 => {
            if frame.len() < l3 + 40 || frame[l3] >> 4 != 6 {
                return Err(NotMirrored::Malformed);
            }
            f.ipv6 = true;
            f.src = words(l3 + 8, 4);
            f.dst = words(l3 + 24, 4);
            let (mut next, mut at, mut first_fragment) = (frame[l3 + 6], l3 + 40, true);
            let mut walked = 0;
            while matches!(next, 0 | 43 | 44 | 60) {
                // SPEC.md: hop-by-hop, routing, fragment and destination options; the walk
                // is bounded (8 headers), a longer chain is not a complete header.
                walked += 1;
                let len = if next == 44 { 8 } else { (usize::from(*frame.get(at + 1).ok_or(NotMirrored::Malformed)?) + 1) * 8 };
                if walked > 8 || frame.len() < at + len {
                    return Err(NotMirrored::Malformed);
                }
                if next == 44 {
                    f.fragment = true;
                    first_fragment &= word(at + 2).unwrap_or_default() & 0xfff8 == 0;
                }
                next = frame[at];
                at += len;
            }
            f.protocol = next;
            upper = first_fragment.then_some(at);
        }
        _ => return Err(NotMirrored::NotIp),
    }
    let Some(l4) = upper else { return Ok(f) };
    match f.protocol {
        6 | 17 => {
            if let (Some(sport), Some(dport)) = (word(l4), word(l4 + 2)) {
                (f.has_ports, f.sport, f.dport) = (true, sport, dport);
            }
        }
        1 | 58 if frame.len() >= l4 + 8 => {
            let echo = if f.protocol == 1 { matches!(frame[l4], 0 | 8) } else { matches!(frame[l4], 128 | 129) };
            if echo {
                let id = word(l4 + 4).unwrap_or_default();
                (f.sport, f.dport) = (id, id);
            }
        }
        _ => {}
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{cidr4, v4};
    use super::*;

    #[test]
    fn cidr_contains() {
        let c = cidr4([10, 0, 0, 0], 8);
        assert!(c.contains(false, &[v4([10, 1, 2, 3]), 0, 0, 0]));
        assert!(!c.contains(false, &[v4([11, 0, 0, 0]), 0, 0, 0]));
        assert!(!c.contains(true, &[v4([10, 0, 0, 0]), 0, 0, 0]));
        assert!(cidr4([0, 0, 0, 0], 0).contains(false, &[u32::MAX, 0, 0, 0]));
        let v6 = Cidr { addr: 0x2001_0db8 << 96, len: 32, ipv6: true };
        assert!(v6.contains(true, &[0x2001_0db8, 1, 2, 3]));
        assert!(!v6.contains(true, &[0x2001_0db9, 0, 0, 0]));
    }
}
