//! The per-queue handles workers own: one RX queue per port polled, one TX queue per port
//! sent on. DPDK queues are not thread-safe, so each handle has one owner.

#![allow(unsafe_code)]
// DPDK's C API and the mbuf layout: every unsafe block here carries its SAFETY line.

use crate::dpdk::burst::Burst;
use dpdk_sys as sys;

/// One RX queue of a port. Owned by exactly one worker: DPDK queues are not thread-safe.
pub struct RxQueue {
    port: u16,
    queue: u16,
}

impl RxQueue {
    pub(crate) fn new(port: u16, queue: u16) -> Self {
        RxQueue { port, queue }
    }

    /// Receives at most `max` packets into the free slots of `burst`; returns how many
    /// arrived.
    #[inline]
    pub fn receive_up_to(&mut self, burst: &mut Burst, max: usize) -> usize {
        let (at, room) = burst.spare();
        let room = room.min(max);
        // SAFETY: `at` has room for `room` pointers; this handle is the queue's only user.
        let n = usize::from(unsafe { sys::shim_rte_eth_rx_burst(self.port, self.queue, at, room as u16) });
        // SAFETY: DPDK wrote n owned mbufs into those slots.
        unsafe { burst.grow(n) };
        n
    }
}

/// One TX queue of a port. Owned by exactly one worker.
pub struct TxQueue {
    port: u16,
    queue: u16,
}

/// `RTE_ETH_TX_DESC_DONE`: the device is done with the descriptor; it can take a packet.
const TX_DESC_DONE: i32 = 1;

impl TxQueue {
    pub(crate) fn new(port: u16, queue: u16) -> Self {
        TxQueue { port, queue }
    }

    /// Whether the next `n` descriptors of the ring are free, as the device says
    /// (`rte_eth_tx_descriptor_status` of the n-th: the ring fills in order, so it being done
    /// means every one before it is). `None` when the device cannot say. One call into the
    /// driver, reading one descriptor: once per burst, not per packet.
    #[inline]
    pub fn free_at_least(&mut self, n: u16) -> Option<bool> {
        let Some(last) = n.checked_sub(1) else { return Some(true) };
        // SAFETY: this handle is the queue's only user, on a started port.
        let status = unsafe { sys::shim_rte_eth_tx_descriptor_status(self.port, self.queue, last) };
        match status {
            TX_DESC_DONE => Some(true),
            s if s == -libc::ENOTSUP => None,
            // In use, kept by the driver, or beyond the ring (-EINVAL): not free.
            _ => Some(false),
        }
    }

    /// Offers every packet of `burst` to the queue; those taken leave the burst, those
    /// refused stay at its front. Returns how many were taken.
    #[inline]
    pub fn send(&mut self, burst: &mut Burst) -> usize {
        let (at, len) = burst.as_raw();
        if len == 0 {
            return 0;
        }
        // SAFETY: `at` holds len owned mbufs; DPDK takes ownership of the first n it returns.
        let n = usize::from(unsafe { sys::shim_rte_eth_tx_burst(self.port, self.queue, at, len as u16) });
        burst.forget_front(n);
        n
    }
}
