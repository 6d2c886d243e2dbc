//! Port device strings: a DPDK `--vdev` (`net_pcap0,rx_pcap=in.pcap`) or a PCI address.

/// The name DPDK gives the device: the vdev name before its arguments, or the PCI address.
pub fn device_name(device: &str) -> &str {
    device.split(',').next().unwrap_or("").trim()
}

/// True when `device` is a PCI address (`0000:00:05.0` or `00:05.0`) rather than a vdev.
pub fn is_pci(device: &str) -> bool {
    let name = device_name(device);
    let parts: Vec<&str> = name.split([':', '.']).collect();
    (parts.len() == 3 || parts.len() == 4) && parts.iter().all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// `key=value` arguments of a vdev string.
pub fn devargs(device: &str) -> impl Iterator<Item = (&str, &str)> {
    device.split(',').skip(1).filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.trim(), v.trim()))
}

/// The name DPDK registers the port under (PCI addresses in full domain form).
pub fn dpdk_name(device: &str) -> String {
    let name = device_name(device);
    if is_pci(device) && name.matches(':').count() == 1 {
        format!("0000:{name}")
    } else {
        name.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pci_or_vdev() {
        assert!(is_pci("0000:00:05.0"));
        assert!(is_pci("00:05.0"));
        assert!(!is_pci("net_pcap0,rx_pcap=x"));
        assert_eq!(device_name("net_pcap0,rx_pcap=x"), "net_pcap0");
    }

    #[test]
    fn devargs_and_names() {
        let d = "net_pcap0,rx_pcap=in.pcap, tx_pcap=out/o.pcap,infinite_rx=1";
        assert_eq!(devargs(d).collect::<Vec<_>>(), vec![("rx_pcap", "in.pcap"), ("tx_pcap", "out/o.pcap"), ("infinite_rx", "1")]);
        assert_eq!(dpdk_name("00:05.0"), "0000:00:05.0");
        assert_eq!(dpdk_name(d), "net_pcap0");
    }
}
