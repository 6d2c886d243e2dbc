//! net_pcap's capture files (`tx_pcap=`), checked against what DPDK counts as sent.
//!
//! The pcap PMD counts a frame as sent once it has handed it to libpcap, and drops the write
//! errors it gets back: on a full disk its statistics, `oerrors` included, go on counting
//! frames that never reach the file. The file itself tells: each frame is a 16-byte record
//! header and the bytes the PMD counted, after a 24-byte file header, so a file shorter than
//! what was counted is missing frames, and walking its records says how many. Files as long
//! as they should be are never read; a short one is walked from where the last walk stopped,
//! a bounded stretch at a time, so that the control thread never waits on a large file.

use crate::config::{devargs, device_name, Config};
use dataplane::dpdk::port::{PortStats, QUEUE_STATS};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;

/// A pcap file's header.
const FILE_HEADER: u64 = 24;
/// A record's header: seconds, fraction, bytes captured, bytes on the wire.
const RECORD_HEADER: u64 = 16;
/// Bytes of records one walk reads at most while the process runs.
const WALK_BUDGET: u64 = 32 << 20;

/// The capture files of every port, by port index.
pub struct CaptureFiles {
    ports: Vec<Vec<CaptureFile>>,
}

/// One `tx_pcap=` file: the TX queue that writes it, and how far its records were walked.
struct CaptureFile {
    queue: usize,
    path: PathBuf,
    /// Where the next record starts, and the records before it.
    offset: u64,
    records: u64,
    /// Frames counted but not in the file, as of the last complete walk.
    unwritten: u64,
}

impl CaptureFiles {
    /// The `tx_pcap=` files of the configuration's net_pcap ports (the n-th is TX queue n's).
    pub fn of(cfg: &Config) -> CaptureFiles {
        let ports = cfg
            .ports
            .iter()
            .map(|p| {
                if !device_name(&p.device).starts_with("net_pcap") {
                    return Vec::new();
                }
                devargs(&p.device)
                    .filter(|(k, _)| *k == "tx_pcap")
                    .enumerate()
                    .filter(|(queue, _)| *queue < QUEUE_STATS)
                    .map(|(queue, (_, path))| CaptureFile { queue, path: path.into(), offset: FILE_HEADER, records: 0, unwritten: 0 })
                    .collect()
            })
            .collect();
        CaptureFiles { ports }
    }

    /// Frames each port's device counted as sent that its capture files do not hold, by port
    /// index. `stats` must be read before this is called (the PMD counts a frame after writing
    /// it, so a file is never behind the counters it was compared with unless frames were lost).
    /// `whole`: walk to the end whatever it takes (at exit).
    pub fn unwritten(&mut self, stats: &[PortStats], whole: bool) -> Vec<u64> {
        self.ports
            .iter_mut()
            .zip(stats)
            .map(|(files, s)| files.iter_mut().map(|f| f.check(s.tx_queues[f.queue], whole)).sum())
            .collect()
    }

    /// Paths and unwritten frames of the files that fell short, for the log.
    pub fn short(&self) -> impl Iterator<Item = (usize, &std::path::Path, u64)> + '_ {
        self.ports.iter().enumerate().flat_map(|(i, files)| files.iter().filter(|f| f.unwritten > 0).map(move |f| (i, f.path.as_path(), f.unwritten)))
    }
}

impl CaptureFile {
    /// Frames of the (packets, bytes) counted that the file does not hold.
    fn check(&mut self, (packets, bytes): (u64, u64), whole: bool) -> u64 {
        let expected = FILE_HEADER + RECORD_HEADER * packets + bytes;
        let size = std::fs::metadata(&self.path).map_or(0, |m| m.len());
        if size >= expected {
            return self.unwritten;
        }
        if let Some(done) = self.walk(size, whole) {
            self.records = done.0;
            self.offset = done.1;
            if done.2 {
                self.unwritten = packets.saturating_sub(self.records);
            }
        }
        self.unwritten
    }

    /// Walks the records after `offset`: (records, next offset, reached the end).
    fn walk(&self, size: u64, whole: bool) -> Option<(u64, u64, bool)> {
        let file = std::fs::File::open(&self.path).ok()?;
        let mut r = BufReader::with_capacity(1 << 16, file);
        let mut magic = [0u8; 4];
        r.read_exact(&mut magic).ok()?;
        // Written in the machine's order: the magic number says which.
        let little = match magic {
            [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => true,
            [0xa1, 0xb2, 0xc3, 0xd4] | [0xa1, 0xb2, 0x3c, 0x4d] => false,
            _ => return None,
        };
        r.seek(SeekFrom::Start(self.offset)).ok()?;
        let (mut offset, mut records) = (self.offset, self.records);
        let budget = if whole { u64::MAX } else { self.offset.saturating_add(WALK_BUDGET) };
        let mut header = [0u8; RECORD_HEADER as usize];
        let end = loop {
            if offset + RECORD_HEADER > size {
                break true;
            }
            if offset >= budget {
                break false;
            }
            r.read_exact(&mut header).ok()?;
            let b = [header[8], header[9], header[10], header[11]];
            let caplen = u64::from(if little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) });
            // A cut record (the disk filled inside it) ends the file as written.
            if offset + RECORD_HEADER + caplen > size {
                break true;
            }
            r.seek_relative(caplen as i64).ok()?;
            offset += RECORD_HEADER + caplen;
            records += 1;
        };
        Some((records, offset, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pcap(frames: &[usize]) -> Vec<u8> {
        let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0];
        for &n in frames {
            f.extend_from_slice(&[0; 8]);
            f.extend_from_slice(&(n as u32).to_le_bytes());
            f.extend_from_slice(&(n as u32).to_le_bytes());
            f.extend(std::iter::repeat_n(0xab, n));
        }
        f
    }

    fn stats(packets: u64, bytes: u64) -> PortStats {
        let mut s = PortStats::default();
        s.tx_queues[0] = (packets, bytes);
        s
    }

    #[test]
    fn a_capture_file_short_of_what_was_counted_says_how_many_frames_it_lacks() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.pcap");
        let cfg: Config = toml::from_str(&format!("[[port]]\nname = \"m\"\ndevice = \"net_pcap0,tx_pcap={}\"\n", path.display())).unwrap();
        let mut files = CaptureFiles::of(&cfg);
        // All 3 frames written: the file is not even read.
        std::fs::write(&path, pcap(&[60, 100, 1514])).unwrap();
        assert_eq!(files.unwritten(&[stats(3, 1674)], false), vec![0]);
        // 10 counted, 3 whole and one cut in the file: 7 never written.
        let mut short = pcap(&[60, 100, 1514, 200]);
        short.truncate(short.len() - 50);
        std::fs::write(&path, short).unwrap();
        assert_eq!(files.unwritten(&[stats(10, 10 * 200)], false), vec![7]);
        assert_eq!(files.short().map(|(port, _, n)| (port, n)).collect::<Vec<_>>(), vec![(0, 7)]);
        // More counted, nothing more written: the walk goes on from where it stopped.
        assert_eq!(files.unwritten(&[stats(20, 20 * 200)], true), vec![17]);
    }

    #[test]
    fn only_net_pcaps_tx_pcap_files_are_checked() {
        let cfg: Config = toml::from_str("[[port]]\nname = \"a\"\ndevice = \"net_tap0,iface=x\"\n[[port]]\nname = \"b\"\ndevice = \"net_pcap1,rx_pcap=in.pcap,tx_pcap=q0.pcap,tx_pcap=q1.pcap\"\n").unwrap();
        let files = CaptureFiles::of(&cfg);
        assert!(files.ports[0].is_empty());
        assert_eq!(files.ports[1].iter().map(|f| (f.queue, f.path.display().to_string())).collect::<Vec<_>>(), vec![(0, "q0.pcap".into()), (1, "q1.pcap".into())]);
    }
}
