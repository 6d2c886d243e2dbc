//! VXLAN (RFC 7348).

pub const FLAGS: usize = 0;
pub const VNI: usize = 4;
pub const HEADER_LEN: usize = 8;
/// The I flag: the VNI field is valid.
pub const FLAG_VNI_VALID: u8 = 0x08;
/// IANA-assigned UDP port.
pub const PORT: u16 = 4789;
pub const MAX_VNI: u32 = (1 << 24) - 1;
