//! VXLAN (RFC 7348): the 8-byte header in front of each copy's original frame.

use super::{be32, put_be32, Malformed};

/// Field ranges, from the header's first byte.
pub mod field {
    use crate::wire::Field;

    /// Flags: [`FLAG_VNI_VALID`].
    pub const FLAGS: usize = 0;
    /// The VNI (high 24 bits) and a reserved byte.
    pub const VNI: Field = 4..8;
}

/// The header: flags, reserved, VNI, reserved.
pub const HEADER_LEN: usize = 8;
/// The I flag: the VNI field is valid.
pub const FLAG_VNI_VALID: u8 = 0x08;
/// IANA-assigned UDP port.
pub const PORT: u16 = 4789;
/// The largest VNI: 24 bits.
pub const MAX_VNI: u32 = (1 << 24) - 1;

/// A view of a VXLAN header and the frame it carries.
#[derive(Clone, Copy, Debug)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// A view without a check: the accessors panic on fewer than [`HEADER_LEN`] bytes.
    #[inline(always)]
    pub const fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// A view of a buffer that holds the header.
    pub fn new_checked(buffer: T) -> Result<Self, Malformed> {
        if buffer.as_ref().len() < HEADER_LEN {
            return Err(Malformed);
        }
        Ok(Packet { buffer })
    }

    #[inline(always)]
    /// The flags byte: [`FLAG_VNI_VALID`] is the one defined.
    pub fn flags(&self) -> u8 {
        self.buffer.as_ref()[field::FLAGS]
    }

    /// The virtual network id, 0 to [`MAX_VNI`].
    #[inline(always)]
    pub fn vni(&self) -> u32 {
        be32(self.buffer.as_ref(), field::VNI.start) >> 8
    }

    /// The inner (original) frame.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    #[inline(always)]
    /// Sets the flags byte.
    pub fn set_flags(&mut self, flags: u8) {
        self.buffer.as_mut()[field::FLAGS] = flags;
    }

    /// Sets the VNI (24 bits) and clears the reserved byte after it.
    #[inline(always)]
    pub fn set_vni(&mut self, vni: u32) {
        put_be32(self.buffer.as_mut(), field::VNI.start, vni << 8);
    }
}

/// A VXLAN header: the I flag and a VNI.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Repr {
    /// The virtual network id.
    pub vni: u32,
}

impl Repr {
    /// Reads a header; `Err` unless its I flag is set.
    pub fn parse<T: AsRef<[u8]>>(p: &Packet<T>) -> Result<Repr, Malformed> {
        if p.flags() & FLAG_VNI_VALID == 0 {
            return Err(Malformed);
        }
        Ok(Repr { vni: p.vni() })
    }

    /// Writes the header at the front of `buf` ([`HEADER_LEN`] bytes).
    pub fn emit(&self, buf: &mut [u8]) {
        buf[..HEADER_LEN].fill(0);
        let mut p = Packet::new_unchecked(buf);
        p.set_flags(FLAG_VNI_VALID);
        p.set_vni(self.vni);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::testing::captured;
    use crate::wire::{ethernet, ipv4, udp};

    /// Sent by the Linux kernel's VXLAN device (VNI 4242), carrying an ARP request.
    fn header() -> &'static [u8] {
        &captured::VXLAN[ethernet::HEADER_LEN + ipv4::HEADER_LEN + udp::HEADER_LEN..]
    }

    #[test]
    fn reads_a_kernel_devices_header() {
        let p = Packet::new_checked(header()).unwrap();
        assert_eq!((p.flags(), p.vni()), (FLAG_VNI_VALID, 4242));
        assert_eq!(Repr::parse(&p), Ok(Repr { vni: 4242 }));
        let inner = ethernet::Frame::new_checked(p.payload()).unwrap();
        assert_eq!(inner.ethertype(), ethernet::TYPE_ARP);
        let outer_udp = udp::Packet::new_unchecked(&captured::VXLAN[34..]);
        assert_eq!(outer_udp.dst_port(), PORT);
    }

    #[test]
    fn writes_what_the_kernel_writes() {
        let mut h = [0xffu8; HEADER_LEN];
        Repr { vni: 4242 }.emit(&mut h);
        assert_eq!(&h[..], &header()[..HEADER_LEN]);
        let mut big = [0u8; HEADER_LEN];
        Repr { vni: MAX_VNI }.emit(&mut big);
        assert_eq!(Packet::new_unchecked(&big[..]).vni(), MAX_VNI);
        assert_eq!(big[7], 0, "the reserved byte");
    }

    #[test]
    fn a_header_without_the_i_flag_is_refused() {
        let mut h = header()[..HEADER_LEN].to_vec();
        h[0] = 0;
        assert_eq!(Repr::parse(&Packet::new_unchecked(&h[..])), Err(Malformed));
        assert!(Packet::new_checked(&h[..7]).is_err());
    }
}
