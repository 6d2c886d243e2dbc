//! What decided a packet, session by session: the outcome a classifier's leaf stands for, and
//! what the linear model computes. Hit counters and `explain` read it; the workers read only
//! its winner.
//!
//! AWS's evaluation tries a source's sessions in ascending session number; in each, the first
//! rule of the packet's direction that matches decides. So a packet can be decided by a
//! reject rule of one session and then by an accept rule of the next. Every session tried has
//! a verdict: the rule that decided it, or none (no rule matched, or the packet is DNS to the
//! VPC resolver, which its filter does not take). Sessions after the one that accepts are
//! never tried.

/// What decided one rule set (session) for a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The set's rule at this index (in evaluation order) was the first to match, and decided.
    Rule(u32),
    /// No rule decided: none matched, or the packet is DNS to or from a VPC resolver, which a
    /// set whose filter lacks `amazon-dns` never takes (its rules are not tried).
    NoRule,
}

/// Every set tried for a packet, in order, and the set that mirrors it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Outcome {
    /// The set (session) that mirrors the packet: the last one tried, when any.
    pub winner: Option<u32>,
    /// A verdict for each set tried: every set up to the winner, or all of them.
    pub tried: Box<[Verdict]>,
}

impl Outcome {
    /// The rules that decided, as (set, rule index): what their hit counters count.
    pub fn deciding_rules(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.tried.iter().enumerate().filter_map(|(set, v)| match v {
            Verdict::Rule(i) => Some((set, *i as usize)),
            _ => None,
        })
    }
}
