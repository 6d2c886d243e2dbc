//! The EAL command line: the configuration's arguments, a device per port, a main lcore and a
//! file prefix unless given, then the command line's extra arguments.

use crate::config::{is_pci, Config};

/// The EAL arguments for `cfg`, the control thread on `control_core`.
pub fn eal_args(cfg: &Config, extra: &[String], control_core: usize) -> Vec<String> {
    let mut args = cfg.dataplane.eal_args.clone();
    for p in &cfg.ports {
        args.push(if is_pci(&p.device) { "-a" } else { "--vdev" }.into());
        args.push(p.device.clone());
    }
    let given = |names: &[&str]| cfg.dataplane.eal_args.iter().chain(extra).any(|a| names.iter().any(|n| a == n || a.starts_with(&format!("{n}="))));
    if !given(&["-l", "-c", "--lcores"]) {
        // The main lcore is the control thread; workers are registered threads of their own.
        args.extend(["-l".into(), control_core.to_string()]);
    }
    if !given(&["--file-prefix"]) {
        args.extend(["--file-prefix".into(), own_file_prefix()]);
    }
    args.extend(extra.iter().cloned());
    args
}

/// The DPDK file prefix used when none is given: this process's own.
pub fn own_file_prefix() -> String {
    format!("tm-{}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Port;

    #[test]
    fn devices_lcore_and_prefix_unless_given() {
        let mut cfg = Config::default();
        cfg.ports.push(Port { name: "a".into(), device: "net_null0".into(), mac: None, ipv4: None, ipv6: None, mtu: None, copy_by_reference: None });
        cfg.ports.push(Port { name: "b".into(), device: "0000:00:05.0".into(), mac: None, ipv4: None, ipv6: None, mtu: None, copy_by_reference: None });
        let args = eal_args(&cfg, &[], 3);
        assert!(args.windows(2).any(|w| w == ["--vdev", "net_null0"]));
        assert!(args.windows(2).any(|w| w == ["-a", "0000:00:05.0"]));
        assert!(args.windows(2).any(|w| w == ["-l", "3"]));
        assert!(args.iter().any(|a| a == "--file-prefix"));
        let args = eal_args(&cfg, &["--file-prefix=x".into(), "-l".into(), "0".into()], 3);
        assert_eq!(args.iter().filter(|a| a.starts_with("--file-prefix")).count(), 1);
        assert_eq!(args.iter().filter(|a| *a == "-l").count(), 1);
    }
}
