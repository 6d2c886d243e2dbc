//! DPDK's packet-capture server: lets `dpdk-pdump` (a secondary process sharing this process's
//! hugepage memory) capture the RX and TX of any port and queue while the workers run.
//!
//! Serving costs nothing on the packet path until a capture starts: `rte_pdump_init` only
//! registers an IPC handler and reserves a small memzone; the per-packet copy callbacks are
//! installed on the queues by `dpdk-pdump` and removed when it stops. But secondary processes
//! can only attach while no thread has called [`Eal::register_thread`] (DPDK disables
//! multi-process for good then).

#![allow(unsafe_code)]
// DPDK's C API: every unsafe block here carries its SAFETY line.

use super::eal::{DpdkError, Eal};
use dpdk_sys as sys;
use std::marker::PhantomData;

/// The capture server, registered until dropped (which must happen before the EAL's cleanup,
/// hence the borrow).
pub struct Pdump<'eal> {
    _eal: PhantomData<&'eal Eal>,
}

impl<'eal> Pdump<'eal> {
    /// Registers the server. Fails where the EAL shares no memory with other processes
    /// (`--in-memory`, `--no-shconf`): `dpdk-pdump` could not attach there anyway.
    pub fn serve(_eal: &'eal Eal) -> Result<Pdump<'eal>, DpdkError> {
        // SAFETY: the EAL is initialised (the borrow proves it); called once, from the main thread.
        if unsafe { sys::rte_pdump_init() } < 0 {
            return Err(DpdkError::from_errno("rte_pdump_init"));
        }
        Ok(Pdump { _eal: PhantomData })
    }
}

impl Drop for Pdump<'_> {
    fn drop(&mut self) {
        // SAFETY: rte_pdump_init succeeded and the EAL is still up (the borrow outlives us).
        unsafe { sys::rte_pdump_uninit() };
    }
}
