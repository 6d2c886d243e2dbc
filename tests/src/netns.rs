//! Network namespaces a test creates (and removes), veth pairs into them, and raw sockets in
//! them: hosts on the far side of traffic-mirror's kernel-backed ports (net_tap,
//! net_af_packet), never anything outside the machine.

use crate::sh;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::process::Command;
use std::time::Duration;

/// A network namespace, deleted (with everything in it) when dropped.
pub struct Netns(pub String);

impl Netns {
    /// A fresh namespace `name` (one left over by a crashed run is removed first).
    pub fn new(name: &str) -> Netns {
        let _ = Command::new("ip").args(["netns", "del", name]).status();
        sh(&["ip", "netns", "add", name]);
        Netns(name.into())
    }

    /// Runs a command in the namespace, which must succeed; returns its standard output.
    pub fn exec(&self, args: &[&str]) -> String {
        let mut a = vec!["ip", "netns", "exec", &self.0];
        a.extend_from_slice(args);
        sh(&a)
    }

    /// A veth pair: `outside` in the test's namespace, `inside` in this one, both up with
    /// `mtu`, IPv6 off (so that the kernel sends nothing on its own).
    pub fn veth(&self, outside: &str, inside: &str, mtu: u32) {
        // One left over by a crashed run.
        let _ = Command::new("ip").args(["link", "del", outside]).stderr(std::process::Stdio::null()).status();
        let mtu = mtu.to_string();
        sh(&["ip", "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", &self.0]);
        for (ns, dev) in [(None, outside), (Some(self), inside)] {
            let v6 = format!("net.ipv6.conf.{dev}.disable_ipv6=1");
            let cmds: [&[&str]; 2] = [&["sysctl", "-qw", &v6], &["ip", "link", "set", dev, "mtu", &mtu, "up"]];
            for cmd in cmds {
                match ns {
                    Some(ns) => {
                        ns.exec(cmd);
                    }
                    None => {
                        sh(cmd);
                    }
                }
            }
        }
    }
}

impl Netns {
    /// Runs `f` on a thread inside the namespace (sockets opened there belong to it).
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        in_netns(&self.0, f)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Runs `f` on a thread that has entered network namespace `ns`: sockets it makes live there
/// (and stay there, whichever thread uses them afterwards).
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("opening {path}: {e}"));
        // SAFETY: a valid namespace fd; setns changes only this thread's network namespace.
        let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns({path}): {}", std::io::Error::last_os_error());
        f()
    })
    .join()
    .expect("a thread in a namespace panicked")
}

/// A raw `AF_PACKET` socket on one interface of the namespace it was made in: whole Ethernet
/// frames out and in.
pub struct PacketSocket(OwnedFd);

impl PacketSocket {
    /// Bound to `iface`, every ethertype. Make it inside the namespace ([`in_netns`]).
    pub fn bind(iface: &str) -> PacketSocket {
        let all = (libc::ETH_P_ALL as u16).to_be();
        // SAFETY: plain socket creation; the fd is owned at once.
        let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, i32::from(all)) };
        assert!(fd >= 0, "AF_PACKET socket: {}", std::io::Error::last_os_error());
        // SAFETY: a fresh fd nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let name = std::ffi::CString::new(iface).expect("an interface name");
        // SAFETY: a valid C string.
        let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
        assert!(index > 0, "no interface {iface}");
        // SAFETY: an all-zero sockaddr_ll is valid; the fields that matter are set below.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = all;
        addr.sll_ifindex = index as i32;
        // SAFETY: addr is a sockaddr_ll of the size given.
        let rc = unsafe { libc::bind(fd.as_raw_fd(), (&raw const addr).cast(), std::mem::size_of::<libc::sockaddr_ll>() as u32) };
        assert_eq!(rc, 0, "binding to {iface}: {}", std::io::Error::last_os_error());
        // Room for what arrives while a loaded machine does not schedule the reader (the
        // kernel caps it at net.core.rmem_max).
        let size: libc::c_int = 8 << 20;
        // SAFETY: an int option of the size given.
        unsafe { libc::setsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVBUF, (&raw const size).cast(), std::mem::size_of::<libc::c_int>() as u32) };
        PacketSocket(fd)
    }

    /// Sends one frame (blocking while the interface's queue is full).
    pub fn send(&self, frame: &[u8]) {
        // SAFETY: frame is a valid buffer of its length.
        let n = unsafe { libc::send(self.0.as_raw_fd(), frame.as_ptr().cast(), frame.len(), 0) };
        assert_eq!(n, frame.len() as isize, "sending a frame: {}", std::io::Error::last_os_error());
    }

    /// The next frame the interface received (those the kernel sent out of it are passed
    /// over), or `None` after `timeout` without one.
    pub fn recv(&self, timeout: Duration) -> Option<Vec<u8>> {
        let tv = libc::timeval { tv_sec: timeout.as_secs() as libc::time_t, tv_usec: timeout.subsec_micros() as libc::suseconds_t };
        // SAFETY: tv is a timeval of the size given.
        unsafe { libc::setsockopt(self.0.as_raw_fd(), libc::SOL_SOCKET, libc::SO_RCVTIMEO, (&raw const tv).cast(), std::mem::size_of::<libc::timeval>() as u32) };
        let mut buf = vec![0u8; 65536];
        loop {
            // SAFETY: an all-zero sockaddr_ll is valid; recvfrom fills it in.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            let mut len = std::mem::size_of::<libc::sockaddr_ll>() as u32;
            // SAFETY: buf and from are writable for the sizes given.
            let n = unsafe { libc::recvfrom(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0, (&raw mut from).cast(), &mut len) };
            if n < 0 {
                return None;
            }
            if from.sll_pkttype != libc::PACKET_OUTGOING as u8 {
                buf.truncate(n as usize);
                return Some(buf);
            }
        }
    }
}
