//! Above IP: the IANA protocol numbers the packet path cares about, and the UDP, TCP and ICMP
//! fields it reads.

/// IANA protocol numbers the packet path cares about.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
    pub const ICMPV6: u8 = 58;
}

/// UDP (RFC 768).
pub mod udp {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
    pub const LENGTH: usize = 4;
    pub const CHECKSUM: usize = 6;
    pub const HEADER_LEN: usize = 8;
}

/// TCP: only the ports are read.
pub mod tcp {
    pub const SRC_PORT: usize = 0;
    pub const DST_PORT: usize = 2;
}

/// ICMP and ICMPv6 share this layout for echo messages.
pub mod icmp {
    pub const TYPE: usize = 0;
    pub const ECHO_IDENT: usize = 4;
    pub const ECHO_HEADER_LEN: usize = 8;
    pub const V4_ECHO_REPLY: u8 = 0;
    pub const V4_ECHO_REQUEST: u8 = 8;
    pub const V6_ECHO_REQUEST: u8 = 128;
    pub const V6_ECHO_REPLY: u8 = 129;
}
