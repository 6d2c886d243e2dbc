//! The start-up plan, as pure functions of the configuration and what the devices offer:
//! which cores the workers and the control thread take, how many queues each port gets, how
//! many mbufs each pool needs, which ports send long copies by reference, and the TX
//! descriptors kept for originals where copies share their port. Unit-tested without DPDK.

use crate::config::{Config, Fault, Kind, Problem, Seg};
use anyhow::{bail, Result};
use dataplane::dpdk::burst::MAX_BURST;
use dataplane::dpdk::mempool::SEGMENT_LEN;
use dataplane::dpdk::port::{PortInfo, PortSetup};

/// Per-lcore mempool cache size (DPDK's usual figure).
pub const POOL_CACHE: u32 = 256;

/// Cores for the workers: configured, or the last `workers` of the `cores` the machine has.
pub fn worker_cores(cfg: &Config, cores: usize) -> Vec<usize> {
    if !cfg.dataplane.cores.is_empty() {
        return cfg.dataplane.cores.clone();
    }
    let w = cfg.dataplane.workers;
    (0..w).map(|i| if w < cores { cores - w + i } else { i % cores.max(1) }).collect()
}

/// The control thread's core: the first one no worker uses, else core 0.
pub fn control_core(cfg: &Config, cores: usize) -> usize {
    let used = worker_cores(cfg, cores);
    (0..cores).find(|c| !used.contains(c)).unwrap_or(0)
}

/// Queue counts per port: one TX queue per worker everywhere (plus one for the control thread
/// on ports in no link, where the device has it: ARP), as many RX queues as TX queues where
/// the device has them (net_tap insists), dealt out to the workers round-robin.
pub fn port_setups(cfg: &Config, infos: &[PortInfo]) -> Result<Vec<PortSetup>> {
    let workers = cfg.dataplane.workers;
    cfg.ports
        .iter()
        .zip(infos)
        .map(|(p, info)| {
            if usize::from(info.max_tx_queues) < workers {
                bail!(
                    "port {:?} ({}) has {} TX queue(s) but [dataplane] workers = {workers}: every worker needs its own{}",
                    p.name,
                    info.driver,
                    info.max_tx_queues,
                    if info.driver.contains("pcap") { " (give the device one tx_pcap= per worker)" } else { "" }
                );
            }
            let spare = !cfg.is_linked(&p.name) && usize::from(info.max_tx_queues) > workers;
            let tx_queues = workers as u16 + u16::from(spare);
            Ok(PortSetup {
                rx_queues: info.max_rx_queues.min(tx_queues),
                tx_queues,
                rx_desc: cfg.dataplane.rx_desc,
                tx_desc: cfg.dataplane.tx_desc,
                mtu: p.mtu,
            })
        })
        .collect()
}

/// Mbuf counts (received frames, copies, references): every descriptor of every ring full at
/// once, every worker's bursts and caches, and slack. Copies get their own pool sized for the
/// mirror ports' TX rings, so a slow collector never starves the originals. A copy sent by
/// reference also takes an mbuf without a data room (the segment attached to the original)
/// from a third pool of the same number, so that `copy_mbufs` still counts copies; the
/// original it refers to holds one of a TX ring's descriptors, already counted for received
/// frames.
pub fn pool_sizes(cfg: &Config, setups: &[PortSetup]) -> (u32, u32, u32) {
    let workers = cfg.dataplane.workers as u32;
    let rings: u32 = setups.iter().map(|s| u32::from(s.rx_queues) * u32::from(s.rx_desc) + u32::from(s.tx_queues) * u32::from(s.tx_desc)).sum();
    let per_worker = (MAX_BURST as u32) * 4 + POOL_CACHE * 3 / 2;
    let mirror_ports: std::collections::BTreeSet<usize> =
        cfg.targets.iter().filter_map(|t| cfg.target_destination(t)).filter_map(|d| cfg.port_index(d.port)).collect();
    let mirror_rings: u32 = mirror_ports.iter().map(|&i| u32::from(setups[i].tx_queues) * u32::from(setups[i].tx_desc)).sum();
    let round = |n: u32| (n + 1).next_power_of_two() - 1;
    let rx = if cfg.dataplane.mbufs > 0 { cfg.dataplane.mbufs } else { round(rings + workers * per_worker + 1024) };
    let copies = if cfg.dataplane.copy_mbufs > 0 {
        cfg.dataplane.copy_mbufs
    } else {
        round(mirror_rings + workers * (per_worker + (MAX_BURST as u32) * setups.len() as u32) + 1024)
    };
    let references = round(mirror_rings + workers * (per_worker + (MAX_BURST as u32) * setups.len() as u32) + 1024);
    (rx, copies, references)
}

/// A pool's per-lcore cache: DPDK refuses one above 2/3 of the pool, so small pools get less.
pub fn pool_cache(size: u32) -> u32 {
    POOL_CACHE.min(size / 4)
}

/// Whether long copies go out of each port by reference: as `copy_by_reference` says, or as
/// suits the device ([`PortInfo::copies_by_reference`]); refused where the device cannot send
/// chained mbufs at all.
pub fn copies_by_reference(cfg: &Config, infos: &[PortInfo]) -> Result<Vec<bool>> {
    cfg.ports
        .iter()
        .zip(infos)
        .map(|(p, info)| match p.copy_by_reference {
            Some(true) if !info.sends_chains() => {
                bail!("port {:?}: copy_by_reference = true, but its device ({}) cannot send chained mbufs", p.name, info.driver)
            }
            Some(on) => Ok(on),
            None => Ok(info.copies_by_reference()),
        })
        .collect()
}

/// Bytes a frame may have beyond its MTU: Ethernet header, two VLAN tags, FCS.
const FRAME_OVERHEAD: u32 = 14 + 8 + 4;

/// TX descriptors each worker keeps free for originals, by port: on a port in a link (it
/// forwards originals), room for two rounds of originals, a burst each, every frame as
/// large as the link's MTUs admit (a descriptor per mbuf of its chain). Copies leave such a
/// port only while this many descriptors stay free. `None` for ports that forward nothing.
pub fn tx_reserve(cfg: &Config) -> Vec<Option<u16>> {
    let burst = cfg.dataplane.burst_size.clamp(1, MAX_BURST) as u32;
    let peers = cfg.peers();
    cfg.ports
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let peer = usize::from(peers[i]?);
            let mtu = [p.mtu, cfg.ports[peer].mtu].into_iter().map(|m| u32::from(m.unwrap_or(1500))).max().unwrap_or(1500);
            let segments = (mtu + FRAME_OVERHEAD).div_ceil(u32::from(SEGMENT_LEN));
            Some((2 * burst * segments).min(u32::from(u16::MAX)) as u16)
        })
        .collect()
}

/// What a port's device says of its TX rings, once started.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TxRing {
    /// The device says how full the ring is (`rte_eth_tx_descriptor_status`).
    pub visible: bool,
    /// Descriptors in the ring.
    pub descriptors: u16,
}

/// Copies may leave by a port that forwards originals only where a reserve of TX descriptors
/// can be kept for the originals ([`tx_reserve`]): its device must say how full the ring is,
/// and the ring must hold the reserve and a burst of copies besides. A target sending by any
/// other such port is refused, naming it: on a slow shared port, copies would take the place
/// of originals. (The problem is boxed: it is large, and the answer is nearly always yes.)
pub fn copies_leave_room(cfg: &Config, rings: &[TxRing]) -> Result<(), Box<Problem>> {
    let reserve = tx_reserve(cfg);
    for (i, t) in cfg.targets.iter().enumerate() {
        let (Some((kind, id)), Some(d)) = (t.destination(), cfg.target_destination(t)) else { continue };
        let Some(port) = cfg.port_index(d.port) else { continue };
        let (Some(r), Some(ring)) = (reserve[port], rings.get(port)) else { continue };
        let device = &cfg.ports[port].device;
        let reason = if !ring.visible {
            format!(
                "its port {:?} forwards originals (it is in a link), and its device ({device}) cannot say how full its TX ring is (rte_eth_tx_descriptor_status; DPDK's virtual devices never can), so copies sent there could take the originals' place; mirror to a port in no link",
                d.port
            )
        } else if u32::from(r) + MAX_BURST as u32 > u32::from(ring.descriptors) {
            format!(
                "its port {:?} forwards originals and keeps {r} of its {} TX descriptors free for them, which leaves no room for a burst of copies; raise [dataplane] tx_desc",
                d.port, ring.descriptors
            )
        } else {
            continue;
        };
        let key = kind.key();
        return Err(Box::new(Problem {
            path: vec![Seg::Key("target"), Seg::Index(i), Seg::Key(key)],
            kind: Some(Kind::Target),
            item: format!("[[target]] {:?}", t.id),
            key,
            value: Some(format!("{id:?}")),
            reason,
            fault: Fault::Combination,
        }));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Link, Port};

    fn info(rx: u16, tx: u16) -> PortInfo {
        PortInfo { id: 0, mac: [0; 6], driver: "net_pcap".into(), max_rx_queues: rx, max_tx_queues: tx, socket: 0, tx_multi_seg: false }
    }

    fn cfg(workers: usize) -> Config {
        let mut c = Config::default();
        c.dataplane.workers = workers;
        for name in ["host", "uplink", "mirror"] {
            c.ports.push(Port { name: name.into(), device: format!("net_null_{name}"), mac: None, ipv4: None, ipv6: None, mtu: None, copy_by_reference: None });
        }
        c.links.push(Link { ports: vec!["host".into(), "uplink".into()] });
        c
    }

    #[test]
    fn workers_take_the_last_cores_and_control_the_first_free() {
        let c = cfg(2);
        assert_eq!(worker_cores(&c, 4), vec![2, 3]);
        assert_eq!(control_core(&c, 4), 0);
        assert_eq!(worker_cores(&c, 2), vec![0, 1]);
        assert_eq!(control_core(&c, 2), 0, "no free core: core 0");
        let mut pinned = cfg(1);
        pinned.dataplane.cores = vec![5];
        assert_eq!(worker_cores(&pinned, 8), vec![5]);
        assert_eq!(control_core(&pinned, 8), 0);
    }

    #[test]
    fn a_spare_tx_queue_only_on_unlinked_ports_that_have_one() {
        let c = cfg(1);
        let s = port_setups(&c, &[info(1, 2), info(1, 2), info(1, 2)]).unwrap();
        assert_eq!(s.iter().map(|s| s.tx_queues).collect::<Vec<_>>(), vec![1, 1, 2]);
        assert_eq!(s.iter().map(|s| s.rx_queues).collect::<Vec<_>>(), vec![1, 1, 1]);
        let s = port_setups(&c, &[info(4, 4), info(4, 4), info(1, 1)]).unwrap();
        assert_eq!(s.iter().map(|s| s.tx_queues).collect::<Vec<_>>(), vec![1, 1, 1], "no queue to spare");
        let e = port_setups(&cfg(2), &[info(1, 1), info(1, 2), info(1, 2)]).unwrap_err().to_string();
        assert!(e.contains("has 1 TX queue(s) but [dataplane] workers = 2") && e.contains("tx_pcap="), "{e}");
    }

    #[test]
    fn linked_ports_keep_two_bursts_of_the_largest_frames_for_originals() {
        let mut c = cfg(1);
        assert_eq!(tx_reserve(&c), vec![Some(64), Some(64), None], "32-frame bursts of 1500-byte frames, one mbuf each");
        c.ports[1].mtu = Some(9000);
        c.dataplane.burst_size = 16;
        assert_eq!(tx_reserve(&c), vec![Some(160), Some(160), None], "9026-byte frames take 5 mbufs");
    }

    /// `cfg` with a collector behind a target on `port`.
    fn mirroring_to(port: &str) -> Config {
        let mut c = cfg(1);
        c.network_interfaces.push(crate::config::NetworkInterface {
            id: "eni-ids".into(),
            port: port.into(),
            ipv4: Some("192.0.2.10".parse().unwrap()),
            ..Default::default()
        });
        c.targets.push(crate::config::Target::new("tmt-ids", crate::config::TargetType::NetworkInterface, "eni-ids"));
        c
    }

    #[test]
    fn copies_share_a_port_with_originals_only_where_the_ring_can_keep_their_reserve() {
        let ring = |visible, descriptors| TxRing { visible, descriptors };
        let virtual_devices = [ring(false, 1024); 3];
        assert_eq!(copies_leave_room(&mirroring_to("mirror"), &virtual_devices), Ok(()), "a port in no link carries no originals");
        let p = copies_leave_room(&mirroring_to("uplink"), &virtual_devices).unwrap_err();
        assert_eq!((p.key, p.value.as_deref(), p.fault.code()), ("network_interface_id", Some("\"eni-ids\""), "InvalidParameterCombination"));
        let file = p.in_file_terms();
        assert!(file.starts_with("[[target]] \"tmt-ids\": network_interface_id = \"eni-ids\": its port \"uplink\" forwards originals"), "{file}");
        assert!(file.contains("net_null_uplink") && file.contains("cannot say how full its TX ring is"), "{file}");
        let (_, api) = p.in_api_terms();
        assert!(api.starts_with("Value (eni-ids) for parameter NetworkInterfaceId is invalid: its port \"uplink\""), "{api}");
        let nics = [ring(true, 1024); 3];
        assert_eq!(copies_leave_room(&mirroring_to("uplink"), &nics), Ok(()), "a NIC that reports its ring keeps the reserve");
        let small = [ring(true, 64); 3];
        let e = copies_leave_room(&mirroring_to("uplink"), &small).unwrap_err().in_file_terms();
        assert!(e.contains("keeps 64 of its 64 TX descriptors free for them") && e.contains("raise [dataplane] tx_desc"), "{e}");
    }

    #[test]
    fn long_copies_go_by_reference_where_the_device_chains_or_the_port_says() {
        let mut c = cfg(2);
        let mut infos = vec![info(4, 4), info(4, 4), info(4, 4)];
        infos[0].driver = "net_ixgbe".into();
        infos[0].tx_multi_seg = true;
        infos[2].driver = "net_null".into();
        assert_eq!(copies_by_reference(&c, &infos).unwrap(), [true, false, false], "by default: where the device chains itself");
        c.ports[0].copy_by_reference = Some(false);
        c.ports[2].copy_by_reference = Some(true);
        assert_eq!(copies_by_reference(&c, &infos).unwrap(), [false, false, true], "as the ports say");
        infos[2].driver = "net_foo".into();
        let e = copies_by_reference(&c, &infos).unwrap_err().to_string();
        assert!(e.contains("port \"mirror\": copy_by_reference = true, but its device (net_foo) cannot send chained mbufs"), "{e}");
    }

    #[test]
    fn pools_hold_every_ring_and_are_powers_of_two_less_one() {
        let c = cfg(1);
        let s = port_setups(&c, &[info(1, 1), info(1, 1), info(1, 1)]).unwrap();
        let (rx, copies, references) = pool_sizes(&c, &s);
        assert!((references + 1).is_power_of_two() && references >= 1024, "{references}");
        assert!(rx >= 3 * 2 * 1024, "{rx}");
        assert!((rx + 1).is_power_of_two() && (copies + 1).is_power_of_two());
        let mut fixed = c.clone();
        fixed.dataplane.mbufs = 1000;
        fixed.dataplane.copy_mbufs = 500;
        assert_eq!(pool_sizes(&fixed, &s).0, 1000);
        assert_eq!(pool_sizes(&fixed, &s).1, 500);
        assert_eq!(pool_cache(100), 25);
        assert_eq!(pool_cache(100_000), POOL_CACHE);
    }
}
