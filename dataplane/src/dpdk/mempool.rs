//! Packet-buffer mempools.

#![allow(unsafe_code)]
// DPDK's C API and the mbuf layout: every unsafe block here carries its SAFETY line.

use crate::dpdk::eal::DpdkError;
use dpdk_sys as sys;
use std::ffi::CString;
use std::ptr::NonNull;

/// Bytes of buffer in each mbuf, headroom included: DPDK's default (2048 + 128). Frames
/// longer than its 2048 bytes of data are chained over several mbufs.
pub const DATA_ROOM: u16 = sys::RTE_MBUF_DEFAULT_BUF_SIZE as u16;

/// Bytes of a frame each mbuf of a chain holds: its data room less the headroom.
pub const SEGMENT_LEN: u16 = DATA_ROOM - sys::RTE_PKTMBUF_HEADROOM as u16;

/// An `rte_pktmbuf` pool. Thread-safe (DPDK's default ring ops are multi-producer and
/// multi-consumer); freed on drop, which must come after every port using it has closed.
pub struct Mempool {
    ptr: NonNull<sys::rte_mempool>,
    name: String,
    size: u32,
}

// SAFETY: DPDK mempools with the default ops may be used from any thread.
unsafe impl Send for Mempool {}
// SAFETY: as above; all mutation goes through DPDK's thread-safe get/put.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `size` mbufs with `data_room` bytes each (headroom included), a
    /// per-lcore cache of `cache` mbufs, on NUMA `socket` (-1 for any).
    pub fn new(name: &str, size: u32, cache: u32, data_room: u16, socket: i32) -> Result<Self, DpdkError> {
        let cname = CString::new(name).expect("pool name with a NUL byte");
        // SAFETY: cname is a valid C string; the other arguments are plain values.
        let ptr = unsafe { sys::rte_pktmbuf_pool_create(cname.as_ptr(), size, cache, 0, data_room, socket) };
        NonNull::new(ptr)
            .map(|ptr| Mempool { ptr, name: name.to_owned(), size })
            .ok_or_else(|| DpdkError::from_errno(format!("rte_pktmbuf_pool_create({name}, {size} mbufs)")))
    }

    /// The pool's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Number of mbufs the pool was made with.
    pub fn size(&self) -> u32 {
        self.size
    }

    /// Mbufs currently taken out of the pool (caches counted as free).
    pub fn in_use(&self) -> u32 {
        // SAFETY: the pool is live for as long as self.
        unsafe { sys::rte_mempool_in_use_count(self.ptr.as_ptr()) }
    }

    pub(crate) fn as_ptr(&self) -> *mut sys::rte_mempool {
        self.ptr.as_ptr()
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: owner discipline: ports using the pool are closed and no mbuf is held.
        unsafe { sys::rte_mempool_free(self.ptr.as_ptr()) };
    }
}
