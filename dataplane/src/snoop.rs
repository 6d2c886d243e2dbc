//! Frames the control thread must see: ARP received on ports without a link (mirror ports),
//! copied out of their mbufs by the workers and handed over through a bounded queue.

/// A frame the control thread must see (ARP on a mirror port), copied out of its mbuf.
#[derive(Clone, Copy, Debug)]
pub struct Snooped {
    /// Port index it arrived on.
    pub port: u16,
    pub len: u8,
    pub bytes: [u8; SNOOP_LEN],
}

/// Bytes kept of a snooped frame: an ARP packet behind one VLAN tag is 46.
pub const SNOOP_LEN: usize = 64;

/// Where workers hand snooped frames to the control thread: bounded, lock-free; when full,
/// frames are dropped (and counted), never waited for.
pub type SnoopQueue = crossbeam_queue::ArrayQueue<Snooped>;

impl Snooped {
    /// The frame's bytes (cut at [`SNOOP_LEN`]).
    pub fn frame(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}
