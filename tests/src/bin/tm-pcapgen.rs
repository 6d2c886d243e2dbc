//! Writes reproducible test captures: the sample traffic of config/default.toml and the
//! benchmark inputs. The same arguments always give the same bytes.

use clap::{Parser, ValueEnum};
use e2e::traffic::{mixed, sized, Side};
use std::path::PathBuf;

#[derive(Clone, Copy, ValueEnum)]
enum Kind {
    /// Mixed traffic: IPv4/IPv6, TCP/UDP/ICMP, VLAN tags, fragments, ARP/LLDP, DHCP, DNS,
    /// metadata-service traffic, malformed and jumbo frames.
    Mixed,
    /// 64-byte TCP/UDP frames.
    Small,
    /// IMIX: 64, 594 and 1518-byte frames in the ratio 7:4:1.
    Imix,
}

#[derive(Clone, Copy, ValueEnum)]
enum SideArg {
    Host,
    Uplink,
}

/// Write a reproducible test capture.
#[derive(Parser)]
struct Args {
    /// What traffic to write.
    #[arg(long, value_enum, default_value = "mixed")]
    kind: Kind,
    /// Which side of the link the frames enter on.
    #[arg(long, value_enum, default_value = "host")]
    side: SideArg,
    /// Number of frames.
    #[arg(long, default_value_t = 10_000)]
    count: usize,
    /// Seed: the same seed gives the same capture.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Output pcap file (its folder is created).
    out: PathBuf,
}

fn main() {
    let a = Args::parse();
    let side = match a.side {
        SideArg::Host => Side::Host,
        SideArg::Uplink => Side::Uplink,
    };
    let frames = match a.kind {
        Kind::Mixed => mixed(a.seed, a.count, side),
        Kind::Small => sized(a.seed, a.count, &[64], side),
        Kind::Imix => sized(a.seed, a.count, &[64, 64, 64, 64, 64, 64, 64, 594, 594, 594, 594, 1518], side),
    };
    if let Some(dir) = a.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("creating {}: {e}", dir.display()));
    }
    e2e::write_pcap(&a.out, frames.iter().map(|f| f.bytes.as_slice()));
    let bytes: usize = frames.iter().map(|f| f.bytes.len()).sum();
    println!("{}: {} frames, {} bytes", a.out.display(), frames.len(), bytes);
}
