//! SPEC.md's evaluation, written plainly: the oracle the property tests and the fuzzer check
//! the compiled [`Classifier`](super::Classifier) against. Never on the fast path.

use super::outcome::{Outcome, Verdict};
use super::rule::{Cidr, Rule, RuleSet};
use crate::parse::Packet;
use crate::types::{PortRange, RuleAction};

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
