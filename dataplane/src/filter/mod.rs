//! Classification: which of a source's sessions, if any, mirrors a packet.
//!
//! SPEC.md's model is linear: sessions in ascending session number, each trying its filter's
//! rules of the packet's direction in ascending rule number; the first matching rule decides
//! (`accept` mirrors), and the first session that accepts wins. [`reference()`] is that model,
//! written plainly; it is what the tests and the fuzzer check the compiled form against.
//!
//! [`Classifier`] is the compiled form the workers use. All the rules of all the sessions become
//! ranges over a fixed key of packet fields; the builder splits the key space field by field
//! (one level per field, like a decision diagram over the rule sets still alive), merging
//! identical sub-problems, and drops rules that can no longer decide the outcome. Each node
//! picks the field that leaves the fewest rules alive on average. A lookup is one table load for
//! the class, then at most one range search per range field (4 for IPv4, 10 for IPv6), however
//! many rules there are.
//!
//! - `rule`: the rule model ([`Rule`], [`Cidr`], [`RuleSet`]);
//! - `reference`: the linear model, the oracle;
//! - `aws`: AWS's policy, the traffic never mirrored and the resolver DNS ([`Exclusions`]);
//! - `outcome`: what a leaf stands for, session by session (which rule decided each);
//! - `node`: the node format the builder writes and the lookup reads;
//! - `classifier`: the hot lookup;
//! - `builder`: the cold builder ([`Classifier::build`]).

mod aws;
mod builder;
mod classifier;
mod node;
mod outcome;
mod reference;
mod rule;

pub use aws::{Exclusion, Exclusions, PortSet, METADATA_V4, METADATA_V6, RESOLVER_V4, RESOLVER_V6};
pub use builder::CompileError;
pub use classifier::{Classifier, Leaf};
pub use outcome::{Outcome, Verdict};
pub use reference::{reference, reference_fields, reference_outcome};
pub use rule::{Cidr, Rule, RuleSet};

/// Packets and rules for the tests of every part.
#[cfg(test)]
mod testing {
    use super::*;
    use crate::parse::{Fields, Packet};
    use crate::types::RuleAction;
    use crate::wire::proto;

    /// `p` with some fields changed.
    pub fn edit(p: Packet, change: impl FnOnce(&mut Fields)) -> Packet {
        let mut f = p.fields();
        change(&mut f);
        f.into()
    }

    pub fn v4(a: [u8; 4]) -> u32 {
        u32::from_be_bytes(a)
    }

    pub fn cidr4(a: [u8; 4], len: u8) -> Cidr {
        Cidr { addr: u128::from(v4(a)), len, ipv6: false }
    }

    pub fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16) -> Packet {
        Packet::from(Fields {
            l3_offset: 14,
            src: [v4(src), 0, 0, 0],
            dst: [v4(dst), 0, 0, 0],
            protocol: proto::TCP,
            has_ports: true,
            sport,
            dport,
            ..Fields::default()
        })
    }

    pub fn rule(number: u16, action: RuleAction) -> Rule {
        Rule {
            id: format!("r{number}").into(),
            number,
            action,
            protocol: None,
            source: None,
            destination: None,
            source_ports: None,
            destination_ports: None,
        }
    }

    /// The compiled classifier's answer, checked against the reference's, down to which rule
    /// decided each session tried.
    pub fn both(sets: &[RuleSet], p: &Packet) -> Option<usize> {
        let ex = Exclusions::new(&[], &[]);
        let c = Classifier::build(sets, p.ipv6, &ex.resolvers(p.ipv6)).unwrap();
        let got = c.classify(p);
        assert_eq!(got, reference(sets, p, ex.resolver_dns(p)), "compiled and reference disagree on {p:?}");
        assert_eq!(c.outcome(c.lookup(&p.key).outcome()), &reference_outcome(sets, p, ex.resolver_dns(p)), "what decided {p:?}");
        got
    }
}
