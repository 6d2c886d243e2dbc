//! The DPDK Environment Abstraction Layer: initialised once per process, torn down at drop.

#![allow(unsafe_code)]
// DPDK's C API and the mbuf layout: every unsafe block here carries its SAFETY line.

use dpdk_sys as sys;
use std::ffi::{CStr, CString};
use std::sync::atomic::{AtomicBool, Ordering};

/// A failed DPDK call: which one, and DPDK's reason.
#[derive(Debug, thiserror::Error)]
#[error("{op}: {reason} (error {code})")]
pub struct DpdkError {
    /// The DPDK call that failed, with its arguments.
    pub op: String,
    /// DPDK's error number (positive).
    pub code: i32,
    /// DPDK's text for it.
    pub reason: String,
}

impl DpdkError {
    /// Builds the error for `op` from a negative return value or an `rte_errno` value.
    pub fn new(op: impl Into<String>, code: i32) -> Self {
        let code = code.abs();
        // SAFETY: rte_strerror returns a pointer to a static or thread-local string for any code.
        let reason = unsafe { CStr::from_ptr(sys::rte_strerror(code)) }.to_string_lossy().into_owned();
        DpdkError { op: op.into(), code, reason }
    }

    /// The error for `op` from the calling thread's `rte_errno`.
    pub fn from_errno(op: impl Into<String>) -> Self {
        // SAFETY: reads the calling thread's rte_errno.
        Self::new(op, unsafe { sys::shim_rte_errno() })
    }
}

/// The CPU's time-stamp counter, for cycle accounting once per poll iteration.
#[inline(always)]
pub fn tsc() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: RDTSC has no preconditions on x86_64.
    unsafe {
        std::arch::x86_64::_rdtsc()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        std::time::Instant::now().elapsed().as_nanos() as u64
    }
}

static INITIALISED: AtomicBool = AtomicBool::new(false);

/// The initialised EAL. Dropping it calls `rte_eal_cleanup`; everything made from DPDK must be
/// released first.
pub struct Eal {
    _private: (),
}

impl Eal {
    /// Initialises the EAL with `args` (without the program name). Fails on a second call in
    /// the same process: DPDK cannot be initialised twice.
    pub fn init(args: &[String]) -> Result<Eal, DpdkError> {
        if INITIALISED.swap(true, Ordering::SeqCst) {
            return Err(DpdkError { op: "rte_eal_init".into(), code: libc::EALREADY, reason: "already initialised in this process".into() });
        }
        let owned: Vec<CString> = std::iter::once("traffic-mirror")
            .chain(args.iter().map(String::as_str))
            .map(|a| CString::new(a).expect("EAL argument with a NUL byte"))
            .collect();
        // rte_eal_init may permute argv and keeps pointers into it: leak both for the process.
        let mut argv: Vec<*mut libc::c_char> = owned.into_iter().map(CString::into_raw).collect();
        let argc = argv.len() as i32;
        let argv_ptr = argv.as_mut_ptr();
        std::mem::forget(argv);
        // SAFETY: argv holds argc valid NUL-terminated strings that live for the process.
        let rc = unsafe { sys::rte_eal_init(argc, argv_ptr) };
        if rc < 0 {
            return Err(DpdkError::from_errno("rte_eal_init"));
        }
        Ok(Eal { _private: () })
    }

    /// DPDK's version string, e.g. "DPDK 22.11.11".
    pub fn version() -> String {
        // SAFETY: rte_version returns a static string.
        unsafe { CStr::from_ptr(sys::shim_rte_version()) }.to_string_lossy().into_owned()
    }

    /// The runtime directory of this process (where the telemetry socket lives).
    pub fn runtime_dir(&self) -> String {
        // SAFETY: valid after rte_eal_init; returns a static string.
        unsafe { CStr::from_ptr(sys::rte_eal_get_runtime_dir()) }.to_string_lossy().into_owned()
    }

    /// Whether the EAL runs on hugepages (no `--no-huge`): memory other DPDK processes, such
    /// as `dpdk-pdump`, can map.
    pub fn has_hugepages(&self) -> bool {
        // SAFETY: valid after rte_eal_init; reads the EAL's configuration.
        unsafe { sys::rte_eal_has_hugepages() != 0 }
    }

    /// Registers the calling (non-EAL) thread with DPDK so it gets an lcore id and per-lcore
    /// mempool caches. Undone when the returned guard drops, on the same thread. From then on
    /// DPDK refuses secondary processes (`dpdk-pdump`): it disables multi-process for good.
    pub fn register_thread(&self) -> Result<ThreadRegistration, DpdkError> {
        // SAFETY: called from the thread being registered, after rte_eal_init.
        if unsafe { sys::rte_thread_register() } < 0 {
            return Err(DpdkError::from_errno("rte_thread_register"));
        }
        Ok(ThreadRegistration { _not_send: std::marker::PhantomData })
    }
}

impl Drop for Eal {
    fn drop(&mut self) {
        // SAFETY: every port and mempool was released before the Eal (owner discipline).
        unsafe { sys::rte_eal_cleanup() };
    }
}

/// A DPDK registration of the current thread; unregisters on drop.
pub struct ThreadRegistration {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Drop for ThreadRegistration {
    fn drop(&mut self) {
        // SAFETY: the guard is !Send, so this runs on the thread that registered.
        unsafe { sys::rte_thread_unregister() };
    }
}
