//! IPv6 (RFC 8200) and the extension headers SPEC.md says to walk past.

pub const PAYLOAD_LEN: usize = 4;
pub const NEXT_HEADER: usize = 6;
pub const SRC: usize = 8;
pub const DST: usize = 24;
pub const HEADER_LEN: usize = 40;

pub const EXT_HOP_BY_HOP: u8 = 0;
pub const EXT_ROUTING: u8 = 43;
pub const EXT_FRAGMENT: u8 = 44;
pub const EXT_DEST_OPTS: u8 = 60;
/// Fragment header: next header, reserved, offset+flags (2), identification (4).
pub const FRAG_HEADER_LEN: usize = 8;
pub const FRAG_OFFSET_FLAGS: usize = 2;
pub const FRAG_MORE: u16 = 0x0001;
pub const FRAG_OFFSET_MASK: u16 = 0xfff8;
