//! IPv4 (RFC 791).

pub const VER_IHL: usize = 0;
pub const TOS: usize = 1;
pub const TOTAL_LEN: usize = 2;
pub const IDENT: usize = 4;
pub const FLAGS_FRAG: usize = 6;
pub const TTL: usize = 8;
pub const PROTOCOL: usize = 9;
pub const CHECKSUM: usize = 10;
pub const SRC: usize = 12;
pub const DST: usize = 16;
pub const MIN_HEADER_LEN: usize = 20;

pub const FLAG_DF: u16 = 0x4000;
pub const FLAG_MF: u16 = 0x2000;
pub const FRAG_OFFSET_MASK: u16 = 0x1fff;
