//! The per-frame decision: which sources see a frame, in which direction, which session of
//! each mirrors it, and the flow hash of its copies.

use crate::hash::flow_hash;
use crate::parse::{parse_into, Packet};
use crate::table::{SourceRules, Table};
use crate::types::{Direction, NotMirrored, SessionIdx};
use crate::wire::ethernet;

impl Table {
    /// The sources that can see a burst received on port `rx_port` and leaving by `out_port`
    /// (the same port for a tap port): resolved once per burst, not per frame.
    #[inline(always)]
    pub fn sources(&self, rx_port: usize, out_port: usize) -> Sources<'_> {
        Sources { table: self, egress: &self.ports[rx_port].egress, ingress: &self.ports[out_port].ingress }
    }

    /// The flow hash of a packet a session accepted, or `None` when it is never mirrored.
    /// Out of line on purpose: inlined, the compiler hoists the hash out of the lookup loop and
    /// computes it for every packet, most of which no session takes.
    #[inline(never)]
    fn accepted_hash(&self, p: &Packet) -> Option<u32> {
        (!self.exclusions.never_mirrored(p)).then(|| flow_hash(p))
    }
}

/// The sources of one burst's frames, by direction: see [`Table::sources`].
pub struct Sources<'t> {
    table: &'t Table,
    egress: &'t [SourceRules],
    ingress: &'t [SourceRules],
}

impl Sources<'_> {
    /// No source sees these frames: nothing to classify.
    pub fn is_empty(&self) -> bool {
        self.egress.is_empty() && self.ingress.is_empty()
    }

    /// The sessions that mirror one frame, `wire_len` bytes long of which `frame` is the first
    /// segment: calls `copy(direction, session, flow hash)` for each. `Err` says why the frame
    /// is no candidate at all. `p` is scratch for the parsed headers, kept by the caller across
    /// frames so that none pays for clearing it.
    ///
    /// The never-mirrored traffic (DHCP, metadata and time services, our own copies) is checked
    /// only once a session has accepted the packet: the rules decide nothing for it, so most
    /// packets, which no session takes, never pay for the check.
    #[inline(always)]
    pub fn mirrors(&self, frame: &[u8], wire_len: usize, p: &mut Packet, mut copy: impl FnMut(Direction, SessionIdx, u32)) -> Result<(), NotMirrored> {
        parse_into(frame, wire_len, p)?;
        // Set once a session accepts: the flow hash, or None when the packet is excluded.
        let mut hash: Option<Option<u32>> = None;
        let macs: &[u8; 12] = frame.first_chunk().expect("parse saw the Ethernet header");
        let (dst, src) = macs.split_at(ethernet::ADDR_LEN);
        self.visit(self.egress, Direction::Egress, src, p, &mut hash, &mut copy);
        self.visit(self.ingress, Direction::Ingress, dst, p, &mut hash, &mut copy);
        if hash == Some(None) {
            return Err(NotMirrored::Excluded);
        }
        Ok(())
    }

    /// The sources of one direction that own the frame, each looked up once.
    #[inline(always)]
    fn visit(
        &self,
        sources: &[SourceRules],
        dir: Direction,
        mac: &[u8],
        p: &Packet,
        hash: &mut Option<Option<u32>>,
        copy: &mut impl FnMut(Direction, SessionIdx, u32),
    ) {
        for s in sources {
            if !s.owns(mac) {
                continue;
            }
            let Some(session) = s.lookup(&p.key, p.ipv6) else { continue };
            let h = match *hash {
                Some(h) => h,
                None => *hash.insert(self.table.accepted_hash(p)),
            };
            match h {
                Some(h) => copy(dir, session, h),
                None => return,
            }
        }
    }
}
