//! Ethernet ports: look-up by device name, configuration with one RX and one TX queue per
//! worker, start/stop, statistics. The per-queue handles workers own are in [`queue`](super::queue).

#![allow(unsafe_code)]
// DPDK's C API and the mbuf layout: every unsafe block here carries its SAFETY line.

use crate::dpdk::eal::DpdkError;
use crate::dpdk::queue::{RxQueue, TxQueue};
use crate::dpdk::mempool::{Mempool, DATA_ROOM};
use dpdk_sys as sys;
use std::ffi::{CStr, CString};

/// `RTE_ETH_TX_OFFLOAD_MULTI_SEGS`: the port can send chained mbufs.
const TX_OFFLOAD_MULTI_SEGS: u64 = 1 << 15;
/// `RTE_ETH_RX_OFFLOAD_SCATTER`: the port can receive frames larger than one mbuf.
const RX_OFFLOAD_SCATTER: u64 = 1 << 13;

/// What a probed device offers.
#[derive(Clone, Debug)]
pub struct PortInfo {
    /// DPDK's port id.
    pub id: u16,
    /// The poll-mode driver's name.
    pub driver: String,
    /// Most RX queues the device offers.
    pub max_rx_queues: u16,
    /// Most TX queues the device offers.
    pub max_tx_queues: u16,
    /// The device's MAC address.
    pub mac: [u8; 6],
    /// NUMA socket of the device (-1: unknown).
    pub socket: i32,
    /// The device says it can send chained mbufs (`RTE_ETH_TX_OFFLOAD_MULTI_SEGS`).
    pub tx_multi_seg: bool,
}

/// Drivers that send chained mbufs whatever they advertise: `net_null` frees them, `net_pcap`
/// gathers them into one buffer (`rte_pktmbuf_read`) before writing.
const GATHERING_DRIVERS: [&str; 2] = ["net_null", "net_pcap"];

impl PortInfo {
    /// Can a packet of several segments be sent out of this port at all?
    pub fn sends_chains(&self) -> bool {
        self.tx_multi_seg || GATHERING_DRIVERS.contains(&self.driver.as_str())
    }

    /// Are long copies out of this port best sent by reference, unless the configuration says?
    /// Where the device sends chained mbufs itself (a NIC, net_tap): its DMA reads the bytes
    /// where they lie, and copying them would read them first. The virtual devices that only
    /// gather or free chains in software keep the copy: there the original's bytes are still
    /// in the cache and two atomic reference counts cost more than copying them (0.83 of the
    /// rate with IMIX whole-frame copies on net_null, measured).
    pub fn copies_by_reference(&self) -> bool {
        self.tx_multi_seg
    }
}

/// How to set a port up.
#[derive(Clone, Debug)]
pub struct PortSetup {
    /// RX queues: one per worker.
    pub rx_queues: u16,
    /// TX queues: one per worker, and one for the control thread where it sends.
    pub tx_queues: u16,
    /// Descriptors per RX queue.
    pub rx_desc: u16,
    /// Descriptors per TX queue.
    pub tx_desc: u16,
    /// Frame MTU to set, if the config asks for one.
    pub mtu: Option<u16>,
}

/// Counters DPDK keeps for a port.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Frames received.
    pub rx_packets: u64,
    /// Bytes received.
    pub rx_bytes: u64,
    /// Frames sent.
    pub tx_packets: u64,
    /// Bytes sent.
    pub tx_bytes: u64,
    /// Frames the NIC dropped because no RX descriptor was free.
    pub rx_missed: u64,
    /// Frames received with errors.
    pub rx_errors: u64,
    /// Frames the device failed to send.
    pub tx_errors: u64,
    /// Frames dropped for want of an mbuf to receive into.
    pub rx_no_mbuf: u64,
}

/// Finds the port DPDK made for `device` (a `--vdev` name such as `net_pcap0`, or a PCI
/// address).
pub fn lookup(device_name: &str) -> Result<u16, DpdkError> {
    let c = CString::new(device_name).expect("device name with a NUL byte");
    let mut id = 0u16;
    // SAFETY: valid C string and out-pointer.
    let rc = unsafe { sys::rte_eth_dev_get_port_by_name(c.as_ptr(), &mut id) };
    if rc != 0 {
        return Err(DpdkError::new(format!("no DPDK port named {device_name:?}"), rc));
    }
    Ok(id)
}

/// What the device behind port `id` offers.
pub fn info(id: u16) -> Result<PortInfo, DpdkError> {
    let mut di = sys::rte_eth_dev_info::default();
    // SAFETY: valid out-pointer; the port id was returned by DPDK.
    let rc = unsafe { sys::rte_eth_dev_info_get(id, &mut di) };
    if rc != 0 {
        return Err(DpdkError::new(format!("rte_eth_dev_info_get(port {id})"), rc));
    }
    let driver = if di.driver_name.is_null() {
        String::new()
    } else {
        // SAFETY: DPDK's driver name is a static C string.
        unsafe { CStr::from_ptr(di.driver_name) }.to_string_lossy().into_owned()
    };
    let mut mac = sys::rte_ether_addr::default();
    // SAFETY: valid out-pointer.
    let rc = unsafe { sys::rte_eth_macaddr_get(id, &mut mac) };
    if rc != 0 {
        return Err(DpdkError::new(format!("rte_eth_macaddr_get(port {id})"), rc));
    }
    // SAFETY: plain query.
    let socket = unsafe { sys::rte_eth_dev_socket_id(id) };
    let tx_multi_seg = di.tx_offload_capa & TX_OFFLOAD_MULTI_SEGS != 0;
    Ok(PortInfo { id, driver, max_rx_queues: di.max_rx_queues, max_tx_queues: di.max_tx_queues, mac: mac.addr_bytes, socket, tx_multi_seg })
}

/// A configured, started port. Stop it (or drop it) only after the workers using its queues
/// have stopped.
pub struct Port {
    id: u16,
    started: bool,
}

impl Port {
    /// Configures and starts port `id`: `setup.rx_queues` RX queues filled from `pool`,
    /// `setup.tx_queues` TX queues. Returns the port and the queue handles, which workers
    /// take ownership of.
    pub fn start(id: u16, setup: &PortSetup, pool: &Mempool) -> Result<(Port, Vec<RxQueue>, Vec<TxQueue>), DpdkError> {
        let mut di = sys::rte_eth_dev_info::default();
        // SAFETY: valid out-pointer.
        let rc = unsafe { sys::rte_eth_dev_info_get(id, &mut di) };
        if rc != 0 {
            return Err(DpdkError::new(format!("rte_eth_dev_info_get(port {id})"), rc));
        }
        let mut conf = sys::rte_eth_conf::default();
        // Copies and large originals may be chained mbufs; never ask for fast-free: originals
        // being mirrored are sent while a second reference is held.
        conf.txmode.offloads = di.tx_offload_capa & TX_OFFLOAD_MULTI_SEGS;
        if let Some(mtu) = setup.mtu {
            conf.rxmode.mtu = u32::from(mtu);
            if u32::from(mtu) + 18 > u32::from(DATA_ROOM) - sys::RTE_PKTMBUF_HEADROOM {
                conf.rxmode.offloads |= di.rx_offload_capa & RX_OFFLOAD_SCATTER;
            }
        }
        // SAFETY: valid conf pointer; queue counts checked by DPDK against the device.
        let rc = unsafe { sys::rte_eth_dev_configure(id, setup.rx_queues, setup.tx_queues, &conf) };
        if rc != 0 {
            return Err(DpdkError::new(
                format!("rte_eth_dev_configure(port {id}, {} rx / {} tx queues)", setup.rx_queues, setup.tx_queues),
                rc,
            ));
        }
        let (mut rxd, mut txd) = (setup.rx_desc, setup.tx_desc);
        // SAFETY: valid out-pointers.
        let rc = unsafe { sys::rte_eth_dev_adjust_nb_rx_tx_desc(id, &mut rxd, &mut txd) };
        if rc != 0 {
            return Err(DpdkError::new(format!("rte_eth_dev_adjust_nb_rx_tx_desc(port {id})"), rc));
        }
        // SAFETY: plain query.
        let socket = unsafe { sys::rte_eth_dev_socket_id(id) }.max(0) as u32;
        for q in 0..setup.rx_queues {
            // SAFETY: queue index < configured count; pool outlives the port (owner discipline).
            let rc = unsafe { sys::rte_eth_rx_queue_setup(id, q, rxd, socket, std::ptr::null(), pool.as_ptr()) };
            if rc != 0 {
                return Err(DpdkError::new(format!("rte_eth_rx_queue_setup(port {id}, queue {q})"), rc));
            }
        }
        for q in 0..setup.tx_queues {
            // SAFETY: queue index < configured count; default TX config.
            let rc = unsafe { sys::rte_eth_tx_queue_setup(id, q, txd, socket, std::ptr::null()) };
            if rc != 0 {
                return Err(DpdkError::new(format!("rte_eth_tx_queue_setup(port {id}, queue {q})"), rc));
            }
        }
        // SAFETY: configured port.
        let rc = unsafe { sys::rte_eth_dev_start(id) };
        if rc != 0 {
            return Err(DpdkError::new(format!("rte_eth_dev_start(port {id})"), rc));
        }
        // A bump in the wire forwards frames for every MAC. Not every virtual device supports
        // the switch (net_null does not need it): a failure only matters on real NICs, where
        // it is logged.
        // SAFETY: started port.
        let rc = unsafe { sys::rte_eth_promiscuous_enable(id) };
        if rc != 0 && rc != -libc::ENOTSUP {
            log::warn!("port {id}: cannot enable promiscuous mode: {}", DpdkError::new("", rc).reason);
        }
        let rx = (0..setup.rx_queues).map(|queue| RxQueue::new(id, queue)).collect();
        let tx = (0..setup.tx_queues).map(|queue| TxQueue::new(id, queue)).collect();
        Ok((Port { id, started: true }, rx, tx))
    }

    /// DPDK's counters for the port.
    pub fn stats(&self) -> PortStats {
        let mut s = sys::rte_eth_stats::default();
        // SAFETY: valid out-pointer.
        if unsafe { sys::rte_eth_stats_get(self.id, &mut s) } != 0 {
            return PortStats::default();
        }
        PortStats {
            rx_packets: s.ipackets,
            rx_bytes: s.ibytes,
            tx_packets: s.opackets,
            tx_bytes: s.obytes,
            rx_missed: s.imissed,
            rx_errors: s.ierrors,
            tx_errors: s.oerrors,
            rx_no_mbuf: s.rx_nombuf,
        }
    }

    /// Stops and closes the port, releasing the mbufs its queues hold.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if self.started {
            self.started = false;
            // SAFETY: no worker uses the queues any more (owner discipline).
            unsafe {
                sys::rte_eth_dev_stop(self.id);
                sys::rte_eth_dev_close(self.id);
            }
        }
    }
}

impl Drop for Port {
    fn drop(&mut self) {
        self.shutdown();
    }
}
