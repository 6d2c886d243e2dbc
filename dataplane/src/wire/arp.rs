//! ARP for IPv4 over Ethernet (RFC 826).

pub const HTYPE: usize = 0;
pub const PTYPE: usize = 2;
pub const HLEN: usize = 4;
pub const PLEN: usize = 5;
pub const OPER: usize = 6;
/// Sender hardware and protocol address.
pub const SHA: usize = 8;
pub const SPA: usize = 14;
/// Target hardware and protocol address.
pub const THA: usize = 18;
pub const TPA: usize = 24;
pub const LEN: usize = 28;
pub const HTYPE_ETHERNET: u16 = 1;
pub const OP_REQUEST: u16 = 1;
pub const OP_REPLY: u16 = 2;
