//! The concepts both crates share, one home each: which way a frame went, a rule's verdict and
//! port range, why a frame is never mirrored, why an accepted copy was not sent, the two
//! integers the packet path means by "session", and the counter slots of targets and
//! collectors.
//!
//! `Direction`, `RuleAction` and `PortRange` carry the serde shapes of the configuration file
//! and the EC2 API (`"ingress"`, `"accept"`, `{ from, to }`), so the control plane can use them
//! as they are.

use serde::{Deserialize, Serialize};

/// Which way a frame went, seen from the source (AWS's terms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[repr(u8)]
pub enum Direction {
    /// Forwarded out of the source's port: traffic into the monitored host.
    #[default]
    Ingress = 0,
    /// Received on the source's port: traffic out of the monitored host.
    Egress = 1,
}

impl Direction {
    /// Both directions, in counter order.
    pub const ALL: [Direction; 2] = [Direction::Ingress, Direction::Egress];

    /// "ingress" or "egress".
    pub fn name(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// A filter rule's verdict. The default (accept) only lets a request be built field by field;
/// a rule always states its action.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    /// Mirror the packet.
    #[default]
    Accept,
    /// Do not mirror it (and try no later rule of the filter).
    Reject,
}

impl RuleAction {
    /// "accept" or "reject".
    pub fn name(self) -> &'static str {
        match self {
            RuleAction::Accept => "accept",
            RuleAction::Reject => "reject",
        }
    }
}

/// An inclusive range of TCP or UDP ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortRange {
    /// The first port in the range.
    pub from: u16,
    /// The last port in the range.
    pub to: u16,
}

impl PortRange {
    /// Whether `port` lies in the range.
    pub fn contains(&self, port: u16) -> bool {
        self.from <= port && port <= self.to
    }
}

/// Why a frame is never a candidate for mirroring. It is forwarded all the same, and counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum NotMirrored {
    /// ARP, LLDP and every other non-IP ethertype, or more than two VLAN tags.
    NotIp = 0,
    /// Too short for the headers it announces, or inconsistent lengths.
    Malformed = 1,
    /// A session accepted it, but AWS never mirrors it: DHCP, the metadata and time services,
    /// our own copies.
    Excluded = 2,
}

impl NotMirrored {
    /// Every reason, in counter order.
    pub const ALL: [NotMirrored; 3] = [NotMirrored::NotIp, NotMirrored::Malformed, NotMirrored::Excluded];

    /// "not_ip", "malformed" or "excluded", as reports name them.
    pub fn name(self) -> &'static str {
        match self {
            NotMirrored::NotIp => "not_ip",
            NotMirrored::Malformed => "malformed",
            NotMirrored::Excluded => "excluded",
        }
    }
}

/// Why a copy a session accepted was not sent (AWS's "skip").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CopySkip {
    /// The mirror port's TX queue refused it.
    QueueFull,
    /// The copy mempool was empty.
    NoMbuf,
    /// The target's next hop has no MAC address yet.
    Unresolved,
    /// Every collector of the target's load balancer failed its health checks.
    NoHealthyCollector,
}

impl CopySkip {
    /// Every reason, in counter order.
    pub const ALL: [CopySkip; 4] = [CopySkip::QueueFull, CopySkip::NoMbuf, CopySkip::Unresolved, CopySkip::NoHealthyCollector];

    /// "queue_full", "no_mbuf", "unresolved" or "no_healthy_collector", as reports name them.
    pub fn name(self) -> &'static str {
        match self {
            CopySkip::QueueFull => "queue_full",
            CopySkip::NoMbuf => "no_mbuf",
            CopySkip::Unresolved => "unresolved",
            CopySkip::NoHealthyCollector => "no_healthy_collector",
        }
    }
}

/// A session as a table knows it: its index in [`Table::sessions`](crate::table::Table),
/// valid for that table only (the next one numbers its sessions afresh).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionIdx(pub u32);

/// A session as the counters know it: its slot in each worker's session counters, which it
/// keeps across table swaps for as long as it exists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterSlot(pub u32);

/// A target as the counters know it, as [`CounterSlot`] for a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TargetSlot(pub u32);

/// One collector of one target (a network interface's or endpoint's one, each behind a load
/// balancer) as the counters know it, as [`CounterSlot`] for a session.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CollectorSlot(pub u32);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_shapes_are_the_configs_and_the_apis() {
        assert_eq!(serde_json::to_string(&Direction::Egress).unwrap(), r#""egress""#);
        assert_eq!(serde_json::from_str::<Direction>(r#""ingress""#).unwrap(), Direction::Ingress);
        assert_eq!(serde_json::to_string(&RuleAction::Accept).unwrap(), r#""accept""#);
        assert_eq!(serde_json::from_str::<RuleAction>(r#""reject""#).unwrap(), RuleAction::Reject);
        assert!(serde_json::from_str::<RuleAction>(r#""Accept""#).is_err());
        let r: PortRange = serde_json::from_str(r#"{"from":22,"to":23}"#).unwrap();
        assert_eq!(r, PortRange { from: 22, to: 23 });
        assert!(serde_json::from_str::<PortRange>(r#"{"from":22,"to":23,"step":1}"#).is_err());
    }

    #[test]
    fn names_follow_counter_order() {
        assert_eq!(Direction::ALL.map(|d| d as usize), [0, 1]);
        assert_eq!(Direction::ALL.map(Direction::name), ["ingress", "egress"]);
        assert_eq!(NotMirrored::ALL.map(|r| r as usize), [0, 1, 2]);
        assert_eq!(NotMirrored::ALL.map(NotMirrored::name), ["not_ip", "malformed", "excluded"]);
        assert_eq!(CopySkip::ALL.map(CopySkip::name), ["queue_full", "no_mbuf", "unresolved", "no_healthy_collector"]);
        assert_eq!([RuleAction::Accept, RuleAction::Reject].map(RuleAction::name), ["accept", "reject"]);
    }

    #[test]
    fn port_ranges_are_inclusive() {
        let r = PortRange { from: 1024, to: 1025 };
        assert!(!r.contains(1023) && r.contains(1024) && r.contains(1025) && !r.contains(1026));
    }
}
