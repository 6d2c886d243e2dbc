//! net_pcap's capture files (`tx_pcap=`), checked against what DPDK counts as sent.
//!
//! The pcap PMD counts a frame as sent once it has handed it to libpcap, and drops the write
//! errors it gets back: on a full disk its statistics, `oerrors` included, go on counting
//! frames that never reach the file. The file itself tells: each frame is a 16-byte record
//! header and the bytes the PMD counted, after a 24-byte file header, so a file shorter than
//! what was counted is missing frames, and walking its records says how many. Files as long
//! as they should be are never read; a short one is walked from where the last walk stopped,
//! a bounded stretch at a time.
//!
//! None of it runs on the control thread: a look at a file on a hung mount blocks for as long
//! as the mount does. [`CaptureWatch`] checks on a thread of its own, handed the counters; the
//! control thread takes the latest verdict without waiting, so what it reports lags the
//! counters by up to a check (a second or so).

use crate::config::{devargs, device_name, Config};
use dataplane::dpdk::port::{PortStats, QUEUE_STATS};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

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

/// What a check found: frames each port's capture files lack (by port index), and the files
/// that fall short (port, path, frames).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Verdict {
    pub unwritten: Vec<u64>,
    pub short: Vec<(usize, PathBuf, u64)>,
}

impl CaptureFiles {
    fn verdict(&mut self, stats: &[PortStats], whole: bool) -> Verdict {
        let unwritten = self.unwritten(stats, whole);
        Verdict { unwritten, short: self.short().map(|(port, path, n)| (port, path.to_path_buf(), n)).collect() }
    }

    fn paths(&self) -> Vec<PathBuf> {
        self.ports.iter().flatten().map(|f| f.path.clone()).collect()
    }
}

/// The capture files checked on a thread of their own, for the control thread, which hands
/// over the counters and takes the latest verdict, never waiting for a file.
pub struct CaptureWatch {
    /// To the checking thread (none without capture files): at most one check waits.
    checks: Option<crossbeam::channel::Sender<Vec<PortStats>>>,
    verdicts: crossbeam::channel::Receiver<Verdict>,
    latest: Verdict,
    /// When the check not yet answered was handed over, and whether its lateness was said.
    asked: Option<(Instant, bool)>,
    paths: Vec<PathBuf>,
}

/// A check out this long is said to be stuck (once).
const LATE: Duration = Duration::from_secs(10);

impl CaptureWatch {
    /// Starts checking `files` (no thread when there are none).
    pub fn start(mut files: CaptureFiles) -> CaptureWatch {
        let paths = files.paths();
        let (to_checker, checks) = crossbeam::channel::bounded::<Vec<PortStats>>(1);
        let (answer, verdicts) = crossbeam::channel::unbounded();
        let latest = Verdict { unwritten: vec![0; files.ports.len()], short: Vec::new() };
        let spawned = (!paths.is_empty())
            .then(|| {
                std::thread::Builder::new().name("tm-captures".into()).spawn(move || {
                    for stats in checks {
                        if answer.send(files.verdict(&stats, false)).is_err() {
                            return;
                        }
                    }
                })
            })
            .transpose()
            .map_err(|e| log::warn!("cannot start the thread that checks the capture files ({e}): tx_unwritten stays 0"))
            .ok()
            .flatten();
        CaptureWatch { checks: spawned.map(|_| to_checker), verdicts, latest, asked: None, paths }
    }

    /// Hands over counters just read for a check, unless one is still out; says (once) when
    /// one has been out for long.
    pub fn check(&mut self, stats: Vec<PortStats>, now: Instant) -> Option<String> {
        let checks = self.checks.as_ref()?;
        match &mut self.asked {
            None => {
                if checks.try_send(stats).is_ok() {
                    self.asked = Some((now, false));
                }
                None
            }
            Some((since, said)) if !*said && now.saturating_duration_since(*since) >= LATE => {
                *said = true;
                Some(format!(
                    "the capture files ({}) have not answered a look for {} s (a hung mount?): tx_unwritten shows the last check's",
                    self.paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", "),
                    now.saturating_duration_since(*since).as_secs()
                ))
            }
            Some(_) => None,
        }
    }

    /// A verdict that came since the last call, now the latest.
    pub fn poll(&mut self) -> Option<&Verdict> {
        let mut new = false;
        while let Ok(v) = self.verdicts.try_recv() {
            self.latest = v;
            self.asked = None;
            new = true;
        }
        new.then_some(&self.latest)
    }

    /// What the last check found.
    pub fn latest(&self) -> &Verdict {
        &self.latest
    }
}

/// At exit, once the ports are closed and their files whole: each port's unwritten frames, by
/// a walk to the end of every file, waited for at most `patience`; past it (a hung mount) the
/// last check's figures `last`, said so.
pub fn unwritten_at_exit(cfg: &Config, stats: &[PortStats], last: &[u64], patience: Duration) -> Vec<u64> {
    let mut files = CaptureFiles::of(cfg);
    let paths = files.paths();
    if paths.is_empty() {
        return files.unwritten(stats, true);
    }
    let (tx, rx) = crossbeam::channel::bounded(1);
    let stats = stats.to_vec();
    let spawned = std::thread::Builder::new().name("tm-captures".into()).spawn(move || {
        let _ = tx.send(files.unwritten(&stats, true));
    });
    match spawned.map(|_| rx.recv_timeout(patience)) {
        Ok(Ok(unwritten)) => unwritten,
        _ => {
            let names = paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ");
            log::warn!("the capture files ({names}) have not answered a look in {} s (a hung mount?): the report's tx_unwritten is the last check's", patience.as_secs());
            last.to_vec()
        }
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

    /// A capture file whose opening blocks until it is released, as one on a hung mount does:
    /// a FIFO (its size says 0, so a check opens it to walk it, and the open waits for a
    /// writer).
    fn blocking_capture(dir: &std::path::Path) -> (PathBuf, Config) {
        let path = dir.join("hung.pcap");
        assert!(std::process::Command::new("mkfifo").arg(&path).status().unwrap().success());
        let cfg = toml::from_str(&format!("[[port]]\nname = \"m\"\ndevice = \"net_pcap0,tx_pcap={}\"\n", path.display())).unwrap();
        (path, cfg)
    }

    /// Lets whatever waits to open `fifo` go on, with a file of one 60-byte frame.
    fn release(fifo: &std::path::Path) {
        std::fs::OpenOptions::new().write(true).open(fifo).unwrap().write_all(&pcap(&[60])).unwrap();
    }

    use std::io::Write;

    #[test]
    fn a_capture_file_that_does_not_answer_never_holds_up_whoever_hands_over_the_counters() {
        let dir = tempfile::tempdir().unwrap();
        let (path, cfg) = blocking_capture(dir.path());
        let mut watch = CaptureWatch::start(CaptureFiles::of(&cfg));
        let t = Instant::now();
        for i in 0..3 {
            assert_eq!(watch.check(vec![stats(3, 300)], t + Duration::from_secs(i)), None);
            assert_eq!(watch.poll(), None);
            assert_eq!(watch.latest().unwritten, vec![0], "the last verdict (none yet) meanwhile");
        }
        assert!(t.elapsed() < Duration::from_secs(1), "handing over and polling took {:?}", t.elapsed());
        let late = watch.check(vec![stats(3, 300)], t + LATE).expect("a check out this long is said");
        assert!(late.contains("hung.pcap") && late.contains("a hung mount?"), "{late}");
        assert_eq!(watch.check(vec![stats(3, 300)], t + LATE * 2), None, "said once");
        // It answers at last (with nothing known to lack: a FIFO cannot be walked), and the
        // next counters are taken again.
        release(&path);
        let deadline = Instant::now() + Duration::from_secs(30);
        let verdict = loop {
            if let Some(v) = watch.poll() {
                break v.clone();
            }
            assert!(Instant::now() < deadline, "no verdict once released");
            std::thread::sleep(Duration::from_millis(10));
        };
        assert_eq!(verdict, Verdict { unwritten: vec![0], short: vec![] });
        assert_eq!(watch.check(vec![stats(3, 300)], t + LATE * 3), None);
        assert!(watch.asked.is_some(), "a new check handed over");
        // Release the check just handed over too, so no thread is left waiting.
        release(&path);
    }

    #[test]
    fn at_exit_a_capture_file_that_does_not_answer_leaves_the_last_checks_figures() {
        let dir = tempfile::tempdir().unwrap();
        let (path, cfg) = blocking_capture(dir.path());
        let t = Instant::now();
        assert_eq!(unwritten_at_exit(&cfg, &[stats(3, 300)], &[2], Duration::from_millis(200)), vec![2]);
        assert!(t.elapsed() < Duration::from_secs(5), "waited {:?}", t.elapsed());
        release(&path);
        // A file that answers is walked to the end.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, pcap(&[60])).unwrap();
        assert_eq!(unwritten_at_exit(&cfg, &[stats(3, 3 * 60)], &[0], Duration::from_secs(30)), vec![2]);
    }

    #[test]
    fn only_net_pcaps_tx_pcap_files_are_checked() {
        let cfg: Config = toml::from_str("[[port]]\nname = \"a\"\ndevice = \"net_tap0,iface=x\"\n[[port]]\nname = \"b\"\ndevice = \"net_pcap1,rx_pcap=in.pcap,tx_pcap=q0.pcap,tx_pcap=q1.pcap\"\n").unwrap();
        let files = CaptureFiles::of(&cfg);
        assert!(files.ports[0].is_empty());
        assert_eq!(files.ports[1].iter().map(|f| (f.queue, f.path.display().to_string())).collect::<Vec<_>>(), vec![(0, "q0.pcap".into()), (1, "q1.pcap".into())]);
    }
}
