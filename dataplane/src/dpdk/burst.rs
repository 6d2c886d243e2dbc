//! A fixed-size burst of owned packets: what a receive fills, a send drains, and a bulk
//! allocation refills.

#![allow(unsafe_code)]
// DPDK's C API and the mbuf layout: every unsafe block here carries its SAFETY line.

use crate::dpdk::mbuf::{Mbuf, NoMbuf};
use crate::dpdk::mempool::Mempool;
use dpdk_sys as sys;
use std::mem::MaybeUninit;
use std::ops::{Deref, DerefMut};

/// Most packets a [`Burst`] holds.
pub const MAX_BURST: usize = 64;

/// Up to [`MAX_BURST`] owned packets, filled by a receive or a bulk allocation and drained by
/// a send. Dereferences to `[Mbuf]`; what is left at drop is freed.
pub struct Burst {
    len: usize,
    slots: [MaybeUninit<Mbuf>; MAX_BURST],
}

impl Default for Burst {
    fn default() -> Self {
        Self::new()
    }
}

impl Burst {
    /// An empty burst.
    pub const fn new() -> Self {
        Burst { len: 0, slots: [const { MaybeUninit::uninit() }; MAX_BURST] }
    }

    /// True when no more packets fit.
    #[inline(always)]
    pub fn is_full(&self) -> bool {
        self.len == MAX_BURST
    }

    /// Adds a packet at the end, or hands it back when full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) -> Result<(), Mbuf> {
        if self.is_full() {
            return Err(m);
        }
        self.slots[self.len].write(m);
        self.len += 1;
        Ok(())
    }

    /// Takes the last packet out.
    #[inline]
    pub fn pop(&mut self) -> Option<Mbuf> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        // SAFETY: slot `len` was initialised and is now outside the live range.
        Some(unsafe { self.slots[self.len].assume_init_read() })
    }

    /// Frees every packet.
    #[inline]
    pub fn clear(&mut self) {
        let n = self.len;
        self.len = 0;
        if n > 0 {
            // SAFETY: slots [0, n) were initialised; reading them as raw pointers takes over
            // their ownership, and len is already 0 so they are not freed twice.
            unsafe {
                let ptrs = self.slots.as_mut_ptr().cast::<*mut sys::rte_mbuf>();
                sys::rte_pktmbuf_free_bulk(ptrs, n as u32);
            }
        }
    }

    /// Fills the burst up to `n` packets with fresh mbufs from `pool`, all or nothing.
    #[inline]
    pub fn alloc_bulk(&mut self, pool: &Mempool, n: usize) -> Result<(), NoMbuf> {
        let want = n.min(MAX_BURST).saturating_sub(self.len);
        if want == 0 {
            return Ok(());
        }
        // SAFETY: slots [len, len + want) are free; on success DPDK wrote `want` mbuf pointers
        // there, which Mbuf (repr(transparent) over NonNull) represents exactly.
        unsafe {
            let at = self.slots.as_mut_ptr().add(self.len).cast::<*mut sys::rte_mbuf>();
            if sys::shim_rte_pktmbuf_alloc_bulk(pool.as_ptr(), at, want as u32) != 0 {
                return Err(NoMbuf);
            }
        }
        self.len += want;
        Ok(())
    }

    /// Free slots, for a receive to fill: (first free slot, count).
    #[inline(always)]
    pub(crate) fn spare(&mut self) -> (*mut *mut sys::rte_mbuf, usize) {
        // SAFETY: pointer arithmetic within the slots array.
        let at = unsafe { self.slots.as_mut_ptr().add(self.len) };
        (at.cast(), MAX_BURST - self.len)
    }

    /// Marks `n` more slots (just written by DPDK with valid mbufs) as live.
    ///
    /// # Safety
    /// The `n` slots after the current length hold mbufs the caller owns.
    #[inline(always)]
    pub(crate) unsafe fn grow(&mut self, n: usize) {
        debug_assert!(self.len + n <= MAX_BURST);
        self.len += n;
    }

    /// The live slots as raw pointers, for a send.
    #[inline(always)]
    pub(crate) fn as_raw(&mut self) -> (*mut *mut sys::rte_mbuf, usize) {
        (self.slots.as_mut_ptr().cast(), self.len)
    }

    /// Forgets the first `n` packets (a send took them) and moves the rest to the front.
    #[inline]
    pub(crate) fn forget_front(&mut self, n: usize) {
        let n = n.min(self.len);
        // SAFETY: moves the still-owned slots [n, len) to the front; the first n were handed
        // to DPDK and are overwritten without being dropped.
        unsafe {
            let base = self.slots.as_mut_ptr();
            std::ptr::copy(base.add(n), base, self.len - n);
        }
        self.len -= n;
    }
}

impl Deref for Burst {
    type Target = [Mbuf];

    #[inline(always)]
    fn deref(&self) -> &[Mbuf] {
        // SAFETY: slots [0, len) are initialised.
        unsafe { std::slice::from_raw_parts(self.slots.as_ptr().cast::<Mbuf>(), self.len) }
    }
}

impl DerefMut for Burst {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [Mbuf] {
        // SAFETY: slots [0, len) are initialised; swapping or replacing elements keeps every
        // slot owning exactly one mbuf.
        unsafe { std::slice::from_raw_parts_mut(self.slots.as_mut_ptr().cast::<Mbuf>(), self.len) }
    }
}

impl Drop for Burst {
    fn drop(&mut self) {
        self.clear();
    }
}
