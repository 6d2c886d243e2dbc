//! Packet buffers: an owned `rte_mbuf` handle that frees on drop. Per-packet accessors read
//! the `rte_mbuf` fields directly: an out-of-line call per packet would cost more than the
//! work it does.

#![allow(unsafe_code)]
// DPDK's C API and the mbuf layout: every unsafe block here carries its SAFETY line.

use crate::dpdk::mempool::Mempool;
use dpdk_sys as sys;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicU16, Ordering};

/// `RTE_MBUF_F_INDIRECT`: the mbuf points into another mbuf's buffer.
const F_INDIRECT: u64 = 1 << 62;
/// `RTE_MBUF_F_EXTERNAL`: the buffer is external, possibly shared.
const F_EXTERNAL: u64 = 1 << 61;

/// An owned packet (chain of segments). Dropping it returns it to its mempool.
#[repr(transparent)]
pub struct Mbuf(NonNull<sys::rte_mbuf>);

// SAFETY: an Mbuf is uniquely owned; DPDK mbufs may be freed from any thread.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Takes one mbuf from `pool`, empty, or `None` when the pool is exhausted.
    #[inline]
    pub fn alloc(pool: &Mempool) -> Option<Mbuf> {
        // SAFETY: the pool is live; a non-null result is a fresh mbuf we now own.
        NonNull::new(unsafe { sys::shim_rte_pktmbuf_alloc(pool.as_ptr()) }).map(Mbuf)
    }

    #[inline(always)]
    fn raw(&self) -> &sys::rte_mbuf {
        // SAFETY: we own a live mbuf; DPDK does not touch it while we hold it.
        unsafe { self.0.as_ref() }
    }

    /// The first segment's bytes: every header the packet path reads lives here.
    #[inline(always)]
    pub fn data(&self) -> &[u8] {
        segment(self.raw())
    }

    /// Total length over all segments.
    #[inline(always)]
    pub fn pkt_len(&self) -> usize {
        self.raw().pkt_len as usize
    }

    /// Segments in the chain: a TX descriptor each.
    #[inline(always)]
    pub fn segment_count(&self) -> u16 {
        self.raw().nb_segs
    }

    /// The segments' bytes, in order.
    pub fn segments(&self) -> impl Iterator<Item = &[u8]> + '_ {
        let mut next: *const sys::rte_mbuf = self.0.as_ptr();
        std::iter::from_fn(move || {
            // SAFETY: `next` is null or a segment of the chain we own, live while self is.
            let seg = unsafe { next.as_ref()? };
            next = seg.next;
            Some(segment(seg))
        })
    }

    /// Hints the CPU to load the first cache line of the packet data.
    #[inline(always)]
    pub fn prefetch(&self) {
        let m = self.raw();
        let p = m.buf_addr.cast::<u8>().wrapping_add(usize::from(m.data_off));
        #[cfg(target_arch = "x86_64")]
        // SAFETY: prefetch never faults, whatever the address.
        unsafe {
            std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0)
        };
    }

    /// True when no one else can see this buffer: one reference, direct, not external.
    #[inline]
    fn is_exclusive(&self) -> bool {
        let m = self.raw();
        m.ol_flags & (F_INDIRECT | F_EXTERNAL) == 0 && self.refcnt().load(Ordering::Acquire) == 1
    }

    #[inline(always)]
    fn refcnt(&self) -> &AtomicU16 {
        refcnt_of(self.0)
    }

    /// Grows the (single-segment) packet by `len` bytes at its tail and returns them, or
    /// `None` if the tailroom is short, the packet has several segments, or its buffer is
    /// shared.
    #[inline]
    pub fn append(&mut self, len: usize) -> Option<&mut [u8]> {
        if self.raw().nb_segs != 1 || !self.is_exclusive() {
            return None;
        }
        // SAFETY: exclusive single-segment mbuf: we may write its buffer and length fields.
        let m = unsafe { self.0.as_mut() };
        let end = usize::from(m.data_off) + usize::from(m.data_len);
        if end + len > usize::from(m.buf_len) {
            return None;
        }
        m.data_len += len as u16;
        m.pkt_len += len as u32;
        // SAFETY: [end, end + len) lies inside the buffer (checked above) and nobody else
        // references it (exclusive).
        Some(unsafe { std::slice::from_raw_parts_mut(m.buf_addr.cast::<u8>().add(end), len) })
    }

    /// Appends `len` bytes of `src` (from its first byte, across its segments), chaining new
    /// segments from `pool` when the tailroom runs out. On `Err` the packet may hold part of
    /// the bytes: the caller drops it.
    pub fn append_from(&mut self, pool: &Mempool, src: &Mbuf, len: usize) -> Result<(), NoMbuf> {
        if !self.is_exclusive() {
            return Err(NoMbuf);
        }
        let mut left = len;
        // SAFETY: exclusive chain (checked above): we may write its buffers and fields.
        let head = unsafe { self.0.as_mut() };
        let mut tail: *mut sys::rte_mbuf = head;
        // SAFETY: walking our own chain to its last segment.
        while let Some(next) = NonNull::new(unsafe { (*tail).next }) {
            tail = next.as_ptr();
        }
        for seg in src.segments() {
            let mut chunk = &seg[..seg.len().min(left)];
            while !chunk.is_empty() {
                // SAFETY: `tail` is the live last segment of our exclusive chain.
                let t = unsafe { &mut *tail };
                let end = usize::from(t.data_off) + usize::from(t.data_len);
                let room = usize::from(t.buf_len).saturating_sub(end);
                if room == 0 {
                    let fresh = Mbuf::alloc(pool).ok_or(NoMbuf)?;
                    let fresh = fresh.into_raw();
                    t.next = fresh;
                    head.nb_segs += 1;
                    tail = fresh;
                    continue;
                }
                let n = room.min(chunk.len());
                // SAFETY: [end, end + n) is inside the segment's buffer; src and self are
                // distinct packets, so the ranges do not overlap.
                unsafe {
                    std::ptr::copy_nonoverlapping(chunk.as_ptr(), t.buf_addr.cast::<u8>().add(end), n);
                }
                t.data_len += n as u16;
                head.pkt_len += n as u32;
                chunk = &chunk[n..];
                left -= n;
            }
            if left == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Chains behind this packet (exclusive, single-segment) a segment that refers to the
    /// first `len` bytes of `original`'s first segment instead of copying them: `segment`, a
    /// fresh mbuf, becomes an indirect mbuf attached to `original`'s buffer, whose reference
    /// count goes up, so the bytes stay alive until both packets are freed (DPDK's
    /// `rte_pktmbuf_attach`; freeing the segment detaches it). The port this packet goes out
    /// of must be able to send chained mbufs. Hands `segment` back if this packet is shared or
    /// already chained, or `len` is beyond the original's first segment.
    #[inline]
    pub fn chain_reference(&mut self, segment: Mbuf, original: &Mbuf, len: usize) -> Result<(), Mbuf> {
        if self.raw().nb_segs != 1 || !self.is_exclusive() || !segment.is_exclusive() || segment.raw().nb_segs != 1 || len > original.data().len() {
            return Err(segment);
        }
        let seg = segment.into_raw();
        // SAFETY: `seg` is a fresh, direct, exclusive mbuf (checked above), as attach requires;
        // `original` is live while we borrow it and attach takes its own reference on the
        // buffer. Afterwards `seg` is a one-segment indirect packet we own, and `self` an
        // exclusive single-segment packet whose fields we may write; `len` fits the segment.
        unsafe {
            sys::shim_rte_pktmbuf_attach(seg, original.0.as_ptr());
            (*seg).data_len = len as u16;
            (*seg).pkt_len = len as u32;
            let head = self.0.as_mut();
            head.next = seg;
            head.nb_segs = 2;
            head.pkt_len += len as u32;
        }
        Ok(())
    }

    /// Another owner of the same packet: the buffer's reference count goes up, and the packet
    /// is freed only when every owner has dropped it. Both handles see the bytes read-only
    /// from then on ([`append`](Self::append) refuses a shared buffer).
    #[inline]
    pub fn share(&self) -> Mbuf {
        let mut seg = self.0.as_ptr();
        while let Some(m) = NonNull::new(seg) {
            // Inline, as rte_mbuf_refcnt_update does it: a sole owner stores (no one else can
            // look), a shared buffer takes an atomic add.
            let r = refcnt_of(m);
            if r.load(Ordering::Relaxed) == 1 {
                r.store(2, Ordering::Relaxed);
            } else {
                r.fetch_add(1, Ordering::AcqRel);
            }
            // SAFETY: a segment of a chain we own a reference to.
            seg = unsafe { (*m.as_ptr()).next };
        }
        Mbuf(self.0)
    }

    /// Gives up ownership without freeing.
    #[inline(always)]
    pub fn into_raw(self) -> *mut sys::rte_mbuf {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: we own one reference to this chain; rte_pktmbuf_free drops it.
        unsafe { sys::shim_rte_pktmbuf_free(self.0.as_ptr()) };
    }
}

/// A segment's reference count, which DPDK itself updates atomically.
#[inline(always)]
fn refcnt_of<'a>(m: NonNull<sys::rte_mbuf>) -> &'a AtomicU16 {
    // SAFETY: refcnt is a live, aligned u16 of an mbuf the caller holds a reference to, for
    // as long as it uses the result.
    unsafe { AtomicU16::from_ptr(std::ptr::addr_of_mut!((*m.as_ptr()).refcnt)) }
}

/// The bytes of one segment.
#[inline(always)]
fn segment(m: &sys::rte_mbuf) -> &[u8] {
    // SAFETY: DPDK guarantees buf_addr + data_off .. + data_len lies inside the buffer, which
    // lives as long as the mbuf reference we borrow from.
    unsafe { std::slice::from_raw_parts(m.buf_addr.cast::<u8>().add(usize::from(m.data_off)), usize::from(m.data_len)) }
}

/// A mempool ran out of mbufs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("mempool exhausted")]
pub struct NoMbuf;
