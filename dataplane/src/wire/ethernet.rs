//! Ethernet II.

pub const DST: usize = 0;
pub const SRC: usize = 6;
pub const ETHERTYPE: usize = 12;
pub const HEADER_LEN: usize = 14;
pub const ADDR_LEN: usize = 6;
/// An 802.1Q/802.1ad tag: TCI (2 bytes) then the next ethertype (2 bytes).
pub const VLAN_TAG_LEN: usize = 4;

pub const TYPE_IPV4: u16 = 0x0800;
pub const TYPE_ARP: u16 = 0x0806;
pub const TYPE_IPV6: u16 = 0x86dd;
pub const TYPE_VLAN: u16 = 0x8100;
pub const TYPE_QINQ: u16 = 0x88a8;
/// Pre-standard QinQ outer tag, still seen on older switches.
pub const TYPE_QINQ_OLD: u16 = 0x9100;

/// True for the ethertypes that introduce a VLAN tag.
pub fn is_vlan(ethertype: u16) -> bool {
    matches!(ethertype, TYPE_VLAN | TYPE_QINQ | TYPE_QINQ_OLD)
}
