//! A small HTTP/1.1 server for the appliance's own endpoints (the EC2 Query API, and reusable
//! for metrics): keep-alive, optional TLS (rustls), and bounds on everything a client controls.
//!
//! Threads, not an event loop: one acceptor, and one thread per connection up to
//! `max_connections`. Each connection's reads run against deadlines (a whole request must
//! arrive within `request_timeout`, the next one start within `idle_timeout`), so a client
//! sending a byte a second holds its own slot for at most `request_timeout` and never delays
//! another connection. When every slot is taken, a new connection closes the one that has
//! waited longest for request bytes (idle, or trickling them in), so a flood of idle or slow
//! connections cannot lock a prompt client out; only when every slot is busy answering is the
//! newcomer refused (`503`, or on TLS just closed). Nothing here blocks the caller.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Bounds on what one client may make the server hold.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections served at once; more are refused.
    pub max_connections: usize,
    /// The request line (`POST / HTTP/1.1`), in bytes; longer is `414`.
    pub max_request_line: usize,
    /// The request line and headers together, in bytes; more is `431`.
    pub max_head: usize,
    /// Header fields per request; more is `431`.
    pub max_headers: usize,
    /// The body, in bytes; more is `413`.
    pub max_body: usize,
    /// From a request's first byte (or a new connection) to its last.
    pub request_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// How long writing a response may stall.
    pub write_timeout: Duration,
    /// Requests on one connection before the server closes it.
    pub max_requests_per_connection: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            max_request_line: 8 * 1024,
            max_head: 16 * 1024,
            max_headers: 64,
            // A Traffic Mirroring request is a few kilobytes even with many tags and filters.
            max_body: 256 * 1024,
            request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(30),
            write_timeout: Duration::from_secs(10),
            max_requests_per_connection: 1000,
        }
    }
}

/// A request as it arrived.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    pub method: String,
    /// The request target as sent (`/path?query`), still percent-encoded.
    pub target: String,
    /// 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub http_minor: u8,
    /// Header fields in arrival order, names as sent.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub peer: SocketAddr,
}

impl HttpRequest {
    /// The target's path, before any `?`.
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The target's query, after `?` (empty if none).
    pub fn query(&self) -> &str {
        self.target.split_once('?').map_or("", |(_, q)| q)
    }

    /// The first header of that name (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A response; the server adds `Content-Length` and `Connection`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response with a body of the given content type.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse { status, headers: vec![("Content-Type".into(), content_type.into())], body: body.into() }
    }

    /// A plain-text response.
    pub fn text(status: u16, text: impl Into<String>) -> Self {
        let mut body = text.into();
        body.push('\n');
        HttpResponse::new(status, "text/plain; charset=utf-8", body)
    }
}

/// What answers each request; it runs on the connection's own thread.
pub type Handler = Arc<dyn Fn(&HttpRequest) -> HttpResponse + Send + Sync>;

/// A running server; stops when dropped.
pub struct HttpServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

struct Shared {
    name: String,
    stop: AtomicBool,
    active: AtomicUsize,
    next_id: AtomicU64,
    /// Every open connection, so a newcomer can evict the longest-waiting one and stopping can
    /// cut them all short.
    open: Mutex<HashMap<u64, Open>>,
    epoch: Instant,
}

struct Open {
    stream: TcpStream,
    waiting: Arc<Waiting>,
}

/// Since when a connection has been waiting for request bytes, or that it is busy answering.
#[derive(Default)]
struct Waiting(AtomicU64);

impl Waiting {
    const BUSY: u64 = 0;

    fn set_waiting(&self, epoch: Instant) {
        self.0.store(epoch.elapsed().as_nanos() as u64 + 1, Ordering::SeqCst);
    }

    fn set_busy(&self) {
        self.0.store(Self::BUSY, Ordering::SeqCst);
    }

    fn since(&self) -> Option<u64> {
        Some(self.0.load(Ordering::SeqCst)).filter(|&t| t != Self::BUSY)
    }
}

/// Serves `listener` on threads of its own until the returned server is stopped or dropped.
/// `name` names the threads and the log lines.
pub fn serve_http(name: &str, listener: TcpListener, tls: Option<Arc<rustls::ServerConfig>>, limits: Limits, handler: Handler) -> io::Result<HttpServer> {
    let addr = listener.local_addr()?;
    // Non-blocking so the acceptor can wait in poll() with a timeout and notice a stop.
    listener.set_nonblocking(true)?;
    let shared = Arc::new(Shared {
        name: name.to_string(),
        stop: AtomicBool::new(false),
        active: AtomicUsize::new(0),
        next_id: AtomicU64::new(0),
        open: Mutex::new(HashMap::new()),
        epoch: Instant::now(),
    });
    let s = shared.clone();
    let acceptor = std::thread::Builder::new()
        .name(format!("{name}-accept"))
        .spawn(move || accept_loop(&s, &listener, tls, Arc::new(limits), handler))?;
    Ok(HttpServer { addr, shared, acceptor: Some(acceptor) })
}

impl HttpServer {
    /// The address it listens on (with the port chosen, when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections being served now.
    pub fn active_connections(&self) -> usize {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// Stops accepting, cuts open connections, and waits (briefly) for their threads.
    pub fn stop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
        for open in self.shared.open.lock().unwrap().values() {
            let _ = open.stream.shutdown(Shutdown::Both);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.shared.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for HttpServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn accept_loop(shared: &Arc<Shared>, listener: &TcpListener, tls: Option<Arc<rustls::ServerConfig>>, limits: Arc<Limits>, handler: Handler) {
    let mut pfd = libc::pollfd { fd: listener.as_raw_fd(), events: libc::POLLIN, revents: 0 };
    while !shared.stop.load(Ordering::SeqCst) {
        // SAFETY: pfd is one valid pollfd for the listener, which outlives the call.
        let ready = unsafe { libc::poll(&mut pfd, 1, 100) };
        if ready <= 0 {
            continue;
        }
        let (stream, peer) = match listener.accept() {
            Ok(conn) => conn,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                // EMFILE and the like: back off instead of spinning on a listener that stays readable.
                log::warn!("{}: accept failed: {e}", shared.name);
                std::thread::sleep(Duration::from_millis(100));
                continue;
            }
        };
        if !make_room(shared, limits.max_connections) {
            log::warn!("{}: refused {peer}: all {} connections are busy answering", shared.name, limits.max_connections);
            refuse_busy(stream, tls.is_some());
            continue;
        }
        let Ok(clone) = stream.try_clone() else { continue };
        shared.active.fetch_add(1, Ordering::SeqCst);
        let waiting = Arc::new(Waiting::default());
        waiting.set_waiting(shared.epoch);
        let slot = Slot { shared: shared.clone(), id: shared.next_id.fetch_add(1, Ordering::SeqCst), waiting: waiting.clone() };
        shared.open.lock().unwrap().insert(slot.id, Open { stream: clone, waiting });
        let (tls, limits, handler) = (tls.clone(), limits.clone(), handler.clone());
        let spawned = std::thread::Builder::new().name(format!("{}-conn", shared.name)).spawn(move || {
            serve_connection(stream, peer, tls, &limits, &*handler, &slot);
        });
        if let Err(e) = spawned {
            // The closure (and with it the slot and the stream) is dropped: the connection closes.
            log::warn!("{}: no thread for {peer}: {e}", shared.name);
        }
    }
}

/// Frees a slot when every one is taken, by closing the connection that has waited longest for
/// request bytes; false when all are busy answering.
fn make_room(shared: &Shared, max: usize) -> bool {
    if shared.active.load(Ordering::SeqCst) < max {
        return true;
    }
    let victim = {
        let open = shared.open.lock().unwrap();
        let oldest = open.iter().filter_map(|(id, o)| o.waiting.since().map(|t| (t, *id))).min();
        oldest.map(|(_, id)| open[&id].stream.try_clone())
    };
    let Some(Ok(victim)) = victim else { return false };
    let peer = victim.peer_addr().map(|p| p.to_string()).unwrap_or_default();
    log::warn!("{}: all {max} connections taken; closing {peer}, the one waiting longest for its request", shared.name);
    let _ = victim.shutdown(Shutdown::Both);
    // The victim's thread wakes at once from its read and frees the slot; wait for that, so
    // the bound holds at every moment.
    let deadline = Instant::now() + Duration::from_millis(200);
    while shared.active.load(Ordering::SeqCst) >= max {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

/// One connection's claim on `max_connections`, released however its thread ends.
struct Slot {
    shared: Arc<Shared>,
    id: u64,
    waiting: Arc<Waiting>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.open.lock().unwrap().remove(&self.id);
        self.shared.active.fetch_sub(1, Ordering::SeqCst);
    }
}

fn refuse_busy(stream: TcpStream, tls: bool) {
    // A TLS client cannot read plain text; for it, closing is the refusal.
    if !tls && stream.set_nonblocking(true).is_ok() {
        let _ = (&stream).write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 33\r\nRetry-After: 1\r\nConnection: close\r\n\r\ntoo many connections; retry later\n"[..].as_ref());
    }
    let _ = stream.shutdown(Shutdown::Both);
}

/// Plain or TLS, with the socket at hand for its timeouts.
enum Conn {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Conn {
    fn socket(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// A request could not be read; `Some` carries the refusal to send before closing.
struct Refusal(Option<HttpResponse>);

fn refusal(status: u16, why: impl Into<String>) -> Refusal {
    Refusal(Some(HttpResponse::text(status, why)))
}

fn serve_connection(stream: TcpStream, peer: SocketAddr, tls: Option<Arc<rustls::ServerConfig>>, limits: &Limits, handler: &(dyn Fn(&HttpRequest) -> HttpResponse + Send + Sync), slot: &Slot) {
    let shared = &*slot.shared;
    let _ = stream.set_nodelay(true);
    let _ = stream.set_nonblocking(false);
    if stream.set_write_timeout(Some(limits.write_timeout)).is_err() {
        return;
    }
    let mut conn = match tls {
        Some(config) => match rustls::ServerConnection::new(config) {
            Ok(tls) => Conn::Tls(Box::new(rustls::StreamOwned::new(tls, stream))),
            Err(e) => {
                log::warn!("{}: TLS set-up for {peer} failed: {e}", shared.name);
                return;
            }
        },
        None => Conn::Plain(stream),
    };
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    for served in 0..limits.max_requests_per_connection {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        // The first request also covers the TLS handshake, so it gets the tighter bound.
        let wait = if served == 0 { limits.request_timeout } else { limits.idle_timeout };
        slot.waiting.set_waiting(shared.epoch);
        let req = match read_request(&mut conn, &mut buf, limits, wait, peer) {
            Ok(Some(req)) => req,
            Ok(None) => break,
            Err(Refusal(response)) => {
                if let Some(response) = response {
                    log::info!("{}: refused {peer}: {} {}", shared.name, response.status, String::from_utf8_lossy(&response.body).trim_end());
                    let _ = write_response(&mut conn, &response, false);
                }
                break;
            }
        };
        slot.waiting.set_busy();
        let keep_alive = wants_keep_alive(&req) && served + 1 < limits.max_requests_per_connection && !shared.stop.load(Ordering::SeqCst);
        let response = handler(&req);
        if write_response(&mut conn, &response, keep_alive).is_err() || !keep_alive {
            break;
        }
    }
    if let Conn::Tls(s) = &mut conn {
        s.conn.send_close_notify();
        let _ = s.flush();
    }
    let _ = conn.socket().shutdown(Shutdown::Both);
}

/// HTTP/1.1 keeps a connection unless told `close`; HTTP/1.0 only when told `keep-alive`.
fn wants_keep_alive(req: &HttpRequest) -> bool {
    let connection = req.header("connection").unwrap_or("").to_ascii_lowercase();
    let tokens: Vec<&str> = connection.split(',').map(str::trim).collect();
    !tokens.contains(&"close") && (req.http_minor >= 1 || tokens.contains(&"keep-alive"))
}

/// Reads one request, leaving any bytes after it in `buf` for the next. `Ok(None)` is a clean
/// end (the client closed, or went idle, between requests).
fn read_request(conn: &mut Conn, buf: &mut Vec<u8>, limits: &Limits, wait: Duration, peer: SocketAddr) -> Result<Option<HttpRequest>, Refusal> {
    let idle_deadline = Instant::now() + wait;
    // Set once the request's first byte is in; from then on the whole request has request_timeout.
    let mut deadline = (!buf.is_empty()).then(|| Instant::now() + limits.request_timeout);
    let head_len = loop {
        if let Some(n) = parse_head_len(buf, limits)? {
            break n;
        }
        let before = buf.len();
        match fill(conn, buf, deadline.unwrap_or(idle_deadline)) {
            Ok(0) if before == 0 => return Ok(None),
            Ok(0) => return Err(Refusal(None)),
            Ok(_) => {
                deadline.get_or_insert_with(|| Instant::now() + limits.request_timeout);
            }
            Err(e) if before == 0 && is_timeout(&e) => return Ok(None),
            Err(e) if is_timeout(&e) => return Err(refusal(408, format!("the request did not arrive within {:?}", limits.request_timeout))),
            Err(_) => return Err(Refusal(None)),
        }
    };
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut parsed = httparse::Request::new(&mut headers);
    parsed.parse(&buf[..head_len]).map_err(|_| refusal(400, "malformed request head"))?;
    let method = parsed.method.unwrap_or_default().to_string();
    let target = parsed.path.unwrap_or_default().to_string();
    let http_minor = parsed.version.unwrap_or(1);
    let fields: Vec<(String, String)> =
        parsed.headers.iter().map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).into_owned())).collect();
    fn get<'f>(fields: &'f [(String, String)], name: &'f str) -> impl Iterator<Item = &'f str> + 'f {
        fields.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim())
    }

    if get(&fields, "transfer-encoding").next().is_some() {
        return Err(refusal(501, "Transfer-Encoding is not supported; send the body with Content-Length"));
    }
    let lengths: Vec<&str> = get(&fields, "content-length").collect();
    let body_len = match lengths.first() {
        None => 0,
        Some(first) if lengths.iter().all(|l| l == first) => first.parse::<usize>().map_err(|_| refusal(400, "Content-Length is not a number"))?,
        Some(_) => return Err(refusal(400, "conflicting Content-Length headers")),
    };
    if body_len > limits.max_body {
        return Err(refusal(413, format!("the body is {body_len} bytes; at most {} are accepted", limits.max_body)));
    }
    if body_len > 0 && get(&fields, "expect").any(|e| e.eq_ignore_ascii_case("100-continue")) && buf.len() == head_len {
        conn.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").and_then(|_| conn.flush()).map_err(|_| Refusal(None))?;
    }
    let deadline = deadline.unwrap_or_else(|| Instant::now() + limits.request_timeout);
    while buf.len() < head_len + body_len {
        match fill(conn, buf, deadline) {
            Ok(0) => return Err(Refusal(None)),
            Ok(_) => {}
            Err(e) if is_timeout(&e) => return Err(refusal(408, format!("the request did not arrive within {:?}", limits.request_timeout))),
            Err(_) => return Err(Refusal(None)),
        }
    }
    let body = buf[head_len..head_len + body_len].to_vec();
    buf.drain(..head_len + body_len);
    Ok(Some(HttpRequest { method, target, http_minor, headers: fields, body, peer }))
}

/// The length of the request head in `buf` once it is complete; refuses one past the limits.
fn parse_head_len(buf: &[u8], limits: &Limits) -> Result<Option<usize>, Refusal> {
    // Leading blank lines before a request are allowed (RFC 9112 2.2); httparse skips them.
    let line_end = buf.windows(2).position(|w| w == b"\r\n");
    let line_len = line_end.unwrap_or(buf.len());
    if line_len > limits.max_request_line {
        return Err(refusal(414, format!("the request line is longer than {} bytes", limits.max_request_line)));
    }
    let mut headers = vec![httparse::EMPTY_HEADER; limits.max_headers];
    match httparse::Request::new(&mut headers).parse(buf) {
        Ok(httparse::Status::Complete(n)) if n > limits.max_head => Err(too_large_head(limits)),
        Ok(httparse::Status::Complete(n)) => Ok(Some(n)),
        Ok(httparse::Status::Partial) if buf.len() > limits.max_head => Err(too_large_head(limits)),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(refusal(431, format!("more than {} header fields", limits.max_headers))),
        Err(_) => Err(refusal(400, "malformed request head")),
    }
}

fn too_large_head(limits: &Limits) -> Refusal {
    refusal(431, format!("the request head is longer than {} bytes", limits.max_head))
}

/// Reads what is there (at most 8 KiB) by `deadline`.
fn fill(conn: &mut Conn, buf: &mut Vec<u8>, deadline: Instant) -> io::Result<usize> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(io::ErrorKind::TimedOut.into());
    }
    conn.socket().set_read_timeout(Some(left))?;
    let mut chunk = [0u8; 8192];
    let n = conn.read(&mut chunk)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n)
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)
}

fn write_response(conn: &mut Conn, response: &HttpResponse, keep_alive: bool) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, reason(response.status));
    for (name, value) in &response.headers {
        // A handler's header cannot split the response.
        if !name.eq_ignore_ascii_case("content-length") && !name.eq_ignore_ascii_case("connection") && !name.contains(['\r', '\n', ':']) && !value.contains(['\r', '\n']) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: {}\r\n\r\n", response.body.len(), if keep_alive { "keep-alive" } else { "close" }));
    let mut out = head.into_bytes();
    out.extend_from_slice(&response.body);
    conn.write_all(&out)?;
    conn.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;

    fn start(limits: Limits, handler: Handler) -> HttpServer {
        serve_http("test-http", TcpListener::bind("127.0.0.1:0").unwrap(), None, limits, handler).unwrap()
    }

    fn echo() -> Handler {
        Arc::new(|req: &HttpRequest| HttpResponse::text(200, format!("{} {} {}", req.method, req.target, req.body.len())))
    }

    /// Reads one response: its status and body.
    fn response(reader: &mut std::io::BufReader<TcpStream>) -> (u16, String) {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let status = line.split(' ').nth(1).unwrap_or("0").parse().unwrap_or(0);
        let mut length = 0;
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        (status, String::from_utf8(body).unwrap())
    }

    fn connect(server: &HttpServer) -> (TcpStream, std::io::BufReader<TcpStream>) {
        let s = TcpStream::connect(server.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let r = std::io::BufReader::new(s.try_clone().unwrap());
        (s, r)
    }

    fn closed(reader: &mut std::io::BufReader<TcpStream>) -> bool {
        let mut rest = Vec::new();
        matches!(reader.read_to_end(&mut rest), Ok(0)) || matches!(reader.read_to_end(&mut rest), Err(ref e) if e.kind() == io::ErrorKind::ConnectionReset)
    }

    #[test]
    fn a_kept_alive_connection_answers_pipelined_requests_in_order() {
        let server = start(Limits::default(), echo());
        let (mut s, mut r) = connect(&server);
        s.write_all(b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /b?q=1 HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(response(&mut r), (200, "POST /a 3\n".into()));
        assert_eq!(response(&mut r), (200, "GET /b?q=1 0\n".into()));
        s.write_all(b"GET /c HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        assert_eq!(response(&mut r), (200, "GET /c 0\n".into()));
        assert!(closed(&mut r));
    }

    #[test]
    fn oversized_requests_are_refused_with_the_reason() {
        let limits = Limits { max_body: 100, max_head: 1024, max_request_line: 256, max_headers: 8, ..Limits::default() };
        let server = start(limits, echo());
        let cases: Vec<(Vec<u8>, u16, &str)> = vec![
            (b"POST / HTTP/1.1\r\nContent-Length: 101\r\n\r\n".to_vec(), 413, "101 bytes"),
            ([b"GET /".as_slice(), &[b'a'; 300], b" HTTP/1.1\r\n\r\n"].concat(), 414, "request line"),
            ([b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 1100], b"\r\n\r\n"].concat(), 431, "request head"),
            ((0..9).fold(b"GET / HTTP/1.1\r\n".to_vec(), |mut v, i| { v.extend(format!("X{i}: y\r\n").bytes()); v }), 431, "header fields"),
            (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec(), 501, "Content-Length"),
            (b"NOT HTTP\r\n\r\n".to_vec(), 400, "malformed"),
        ];
        for (request, status, reason) in cases {
            let (mut s, mut r) = connect(&server);
            s.write_all(&request).unwrap();
            let (got, body) = response(&mut r);
            assert_eq!(got, status, "{body}");
            assert!(body.contains(reason), "{status}: {body}");
            assert!(closed(&mut r));
        }
    }

    #[test]
    fn a_client_sending_a_byte_a_second_delays_no_one_and_is_cut_off() {
        let limits = Limits { request_timeout: Duration::from_millis(1500), ..Limits::default() };
        let server = start(limits, echo());
        let (mut slow, mut slow_r) = connect(&server);
        let trickle = std::thread::spawn(move || {
            for b in b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n" {
                if slow.write_all(&[*b]).is_err() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        });
        std::thread::sleep(Duration::from_millis(400));
        let started = Instant::now();
        let (mut s, mut r) = connect(&server);
        s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(response(&mut r).0, 200);
        assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
        let (status, body) = response(&mut slow_r);
        assert_eq!(status, 408, "{body}");
        trickle.join().unwrap();
    }

    #[test]
    fn beyond_the_limit_the_longest_waiting_connection_makes_room() {
        let server = start(Limits { max_connections: 2, ..Limits::default() }, echo());
        let (_a, mut a_r) = connect(&server);
        std::thread::sleep(Duration::from_millis(50));
        let (_b, _b_r) = connect(&server);
        std::thread::sleep(Duration::from_millis(50));
        let (mut c, mut c_r) = connect(&server);
        c.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(response(&mut c_r).0, 200);
        assert!(closed(&mut a_r), "the oldest idle connection was closed");
        assert!(server.active_connections() <= 2);
    }

    #[test]
    fn beyond_the_limit_with_every_slot_busy_a_newcomer_gets_503() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let rx = Mutex::new(rx);
        let handler: Handler = Arc::new(move |_req: &HttpRequest| {
            let _ = rx.lock().unwrap().recv_timeout(Duration::from_secs(5));
            HttpResponse::text(200, "done")
        });
        let server = start(Limits { max_connections: 1, ..Limits::default() }, handler);
        let (mut busy, mut busy_r) = connect(&server);
        busy.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        std::thread::sleep(Duration::from_millis(100));
        let (_s, mut r) = connect(&server);
        assert_eq!(response(&mut r).0, 503);
        tx.send(()).unwrap();
        assert_eq!(response(&mut busy_r), (200, "done\n".into()));
    }

    #[test]
    fn stopping_closes_open_connections() {
        let mut server = start(Limits::default(), echo());
        let (_s, mut r) = connect(&server);
        std::thread::sleep(Duration::from_millis(50));
        assert_eq!(server.active_connections(), 1);
        server.stop();
        assert!(closed(&mut r));
        assert_eq!(server.active_connections(), 0);
        assert!(TcpStream::connect(server.local_addr()).is_err());
    }
}
