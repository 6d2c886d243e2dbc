//! The JSON transport: one request per line on a Unix socket, one reply per line.
//!
//! The socket is only ever reachable with its configured mode (it is bound inside a private
//! folder and renamed into place), only a stale socket is ever removed from its path, and no
//! client can hold more than its share: connections, line length and idle time are bounded,
//! and each connection's requests wait for the control thread without blocking anyone else's.

use super::{call_value, Action, ApiError};
use crate::state::Host;
use anyhow::{bail, Context};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Work for the control thread, sent by the transports and in-process callers.
pub type Pending = Box<dyn FnOnce(&mut dyn Host) + Send>;

/// Longest request line accepted.
pub const MAX_LINE: usize = 1 << 20;
/// Most connections served at once; more are told so and closed.
pub const MAX_CONNECTIONS: usize = 64;
/// A connection that sends nothing for this long is closed.
pub const IDLE: Duration = Duration::from_secs(300);
/// How long a request waits for the control thread (a change compiles whole tables).
pub const PATIENCE: Duration = Duration::from_secs(60);

/// Binds the control socket at `path` with permissions `mode`, so that it never exists with
/// others: bound in a private (0700) folder beside it, given its mode, then renamed into place.
/// A stale socket at `path` (nothing listening) is replaced; a live one means another instance
/// runs; anything that is not a socket is left alone and refused.
pub fn bind(path: &Path, mode: u32) -> anyhow::Result<UnixListener> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {
            if UnixStream::connect(path).is_ok() {
                bail!("another traffic-mirror is listening on {} ([control] socket)", path.display());
            }
            std::fs::remove_file(path).with_context(|| format!("removing the stale socket {}", path.display()))?;
        }
        Ok(meta) => {
            let what = if meta.is_dir() { "a folder" } else if meta.file_type().is_symlink() { "a symbolic link" } else { "a file" };
            bail!("[control] socket = {:?}: the path is {what}, not a socket; traffic-mirror removes only a stale socket there", path.display().to_string());
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => bail!("[control] socket = {:?}: {e}", path.display().to_string()),
    }
    let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(d) => d.to_path_buf(),
        None => std::path::PathBuf::from("."),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let private = dir.join(format!(".tm-socket-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .with_context(|| format!("creating the private folder {}", private.display()))?;
    let result = (|| {
        let tmp = private.join("sock");
        let listener = UnixListener::bind(&tmp).with_context(|| format!("binding the control socket {}", tmp.display()))?;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).with_context(|| format!("setting the mode of {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("moving the control socket to {}", path.display()))?;
        Ok(listener)
    })();
    let _ = std::fs::remove_dir_all(&private);
    result
}

use std::os::unix::fs::DirBuilderExt;

/// Serves `listener` from a thread of its own: each connection gets a thread (at most
/// [`MAX_CONNECTIONS`]) that reads request lines and runs them on the control thread.
pub fn serve(listener: UnixListener, to_control: crossbeam::channel::Sender<Pending>) -> anyhow::Result<()> {
    let open = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new().name("tm-api".into()).spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                open.fetch_sub(1, Ordering::SeqCst);
                let e = ApiError::unavailable(format!("too many control connections (at most {MAX_CONNECTIONS}); try again"));
                let _ = writeln!(conn, "{}", e.reply());
                continue;
            }
            let (to_control, open) = (to_control.clone(), open.clone());
            let spawned = std::thread::Builder::new().name("tm-api-conn".into()).spawn(move || {
                connection(conn, &to_control);
                open.fetch_sub(1, Ordering::SeqCst);
            });
            if spawned.is_err() {
                log::warn!("control API: cannot start a thread for a connection");
            }
        }
    })?;
    Ok(())
}

fn connection(conn: UnixStream, to_control: &crossbeam::channel::Sender<Pending>) {
    let _ = conn.set_read_timeout(Some(IDLE));
    let _ = conn.set_write_timeout(Some(Duration::from_secs(10)));
    let Ok(mut out) = conn.try_clone() else { return };
    let mut reader = BufReader::new(conn);
    loop {
        let line = match read_line(&mut reader, MAX_LINE) {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(e) => {
                let _ = writeln!(out, "{}", ApiError::new("InvalidRequest", e).reply());
                return;
            }
        };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Value>(&line) {
            Ok(request) => call_value(to_control, request, PATIENCE).unwrap_or_else(|e| e.reply()),
            Err(e) => ApiError::new("InvalidRequest", format!("not a JSON request: {e}")).reply(),
        };
        if writeln!(out, "{reply}").and_then(|_| out.flush()).is_err() {
            return;
        }
    }
}

/// One line of at most `max` bytes; `None` at the end of the stream. A longer line is an
/// error, read no further than its limit.
fn read_line(r: &mut impl BufRead, max: usize) -> Result<Option<String>, String> {
    let mut line = Vec::new();
    let n = r.by_ref().take(max as u64 + 1).read_until(b'\n', &mut line).map_err(|e| format!("reading the request: {e}"))?;
    if n == 0 {
        return Ok(None);
    }
    if line.last() != Some(&b'\n') && line.len() > max {
        return Err(format!("the request line is longer than {max} bytes"));
    }
    String::from_utf8(line).map(Some).map_err(|_| "the request is not UTF-8".into())
}

/// A connection to a running traffic-mirror's control socket.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to the socket at `path`.
    pub fn connect(path: &Path) -> anyhow::Result<Self> {
        let s = UnixStream::connect(path).map_err(|e| {
            anyhow::anyhow!("cannot reach traffic-mirror at {}: {e} (is it running? is this its [control] socket?)", path.display())
        })?;
        Ok(Client { reader: BufReader::new(s.try_clone()?), writer: s })
    }

    /// Sends a JSON request and returns the reply; an `Error` reply becomes the inner `Err`.
    pub fn call_value(&mut self, request: &Value) -> anyhow::Result<Result<Value, ApiError>> {
        writeln!(self.writer, "{request}")?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            bail!("traffic-mirror closed the control connection");
        }
        let v: Value = serde_json::from_str(&line).context("traffic-mirror's reply is not JSON")?;
        Ok(match v.get("Error") {
            Some(e) => Err(serde_json::from_value(e.clone()).unwrap_or_else(|_| ApiError::new("Unknown", e.to_string()))),
            None => Ok(v),
        })
    }

    /// Calls action `A` and reads its typed reply.
    pub fn call<A: Action>(&mut self, request: &A) -> anyhow::Result<Result<A::Reply, ApiError>> {
        let mut v = serde_json::to_value(request)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("Action".into(), Value::String(A::NAME.into()));
        } else {
            v = serde_json::json!({ "Action": A::NAME });
        }
        Ok(match self.call_value(&v)? {
            Ok(reply) => Ok(serde_json::from_value(reply).with_context(|| format!("{}'s reply", A::NAME))?),
            Err(e) => Err(e),
        })
    }
}

/// The socket to use: an explicit path, else the one `config` names, else the default.
pub fn socket_path(explicit: Option<&Path>, config: Option<&Path>) -> anyhow::Result<std::path::PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(c) = config {
        let cfg = crate::config::Config::load(c).map_err(|e| anyhow::anyhow!("{e}"))?;
        return Ok(cfg.control.socket.into());
    }
    Ok(crate::config::DEFAULT_SOCKET.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_bounded() {
        let mut r = BufReader::new(&b"{\"a\":1}\nxxxxxxxxxx"[..]);
        assert_eq!(read_line(&mut r, 8).unwrap().as_deref(), Some("{\"a\":1}\n"));
        assert!(read_line(&mut r, 8).unwrap_err().contains("longer than 8 bytes"));
        let mut r = BufReader::new(&b"short"[..]);
        assert_eq!(read_line(&mut r, 8).unwrap().as_deref(), Some("short"));
        assert_eq!(read_line(&mut r, 8).unwrap(), None);
    }

    #[test]
    fn only_a_stale_socket_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("control.sock");
        std::fs::write(&path, "precious").unwrap();
        let e = bind(&path, 0o600).unwrap_err().to_string();
        assert!(e.contains("is a file, not a socket"), "{e}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
        std::fs::remove_file(&path).unwrap();
        let l = bind(&path, 0o600).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(bind(&path, 0o600).unwrap_err().to_string().contains("another traffic-mirror"));
        drop(l);
        bind(&path, 0o600).expect("a stale socket is replaced");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no private folder left behind");
    }
}
