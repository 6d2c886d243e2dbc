//! The rule model: filter rules as SPEC.md defines them, and a session's rules in one
//! direction.

use crate::types::{PortRange, RuleAction};
use std::sync::Arc;

/// An IPv4 or IPv6 prefix; host bits are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cidr {
    /// The address, IPv4 in the low 32 bits.
    pub addr: u128,
    /// Prefix length in bits.
    pub len: u8,
    /// IPv6 rather than IPv4.
    pub ipv6: bool,
}

/// One filter rule, as SPEC.md defines it. `None` fields match everything.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// The rule's id (`tmfr-...`): what its hits are counted and explained under. Never read
    /// by classification.
    pub id: Arc<str>,
    /// Rule number: rules are tried in ascending order.
    pub number: u16,
    /// What a match decides.
    pub action: RuleAction,
    /// IANA protocol number; `None`: every protocol.
    pub protocol: Option<u8>,
    /// Source prefix.
    pub source: Option<Cidr>,
    /// Destination prefix.
    pub destination: Option<Cidr>,
    /// Source ports (TCP and UDP only).
    pub source_ports: Option<PortRange>,
    /// Destination ports (TCP and UDP only).
    pub destination_ports: Option<PortRange>,
}

impl Rule {
    /// The address family the rule is limited to: `Some(true)` IPv6, `Some(false)` IPv4, `None`
    /// both (a rule with neither CIDR). Validation rejects a rule that mixes families.
    pub fn family(&self) -> Option<bool> {
        self.source.or(self.destination).map(|c| c.ipv6)
    }
}

/// One session's view of its filter in one direction: the rules in evaluation (ascending
/// rule-number) order, and whether DNS to the VPC resolver is allowed through (`amazon-dns`).
#[derive(Clone, Copy, Debug)]
pub struct RuleSet<'a> {
    /// The rules, in ascending rule number.
    pub rules: &'a [Rule],
    /// The `amazon-dns` network service: DNS to or from the VPC resolver may be mirrored.
    pub amazon_dns: bool,
}
