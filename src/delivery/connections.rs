//! Keep-alive HTTP/1.1 connections to `http://` subscribers: the attempt's own task writes the
//! request and reads the answer, with no connection task and no channel in between.
//!
//! A webhook attempt is one small POST and one answer, so this is HTTP/1.1 for exactly that: the
//! request goes out in one write, `httparse` reads the answer's head, and the body is framed by
//! `Content-Length`, the chunked coding, or the end of the connection (RFC 9112 §6.3). An idle
//! connection is checked before it is used again, so one the subscriber closed meanwhile is
//! replaced without costing an attempt.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::mem::MaybeUninit;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use bytes::{Buf, BytesMut};
use socket2::SockRef;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use url::Url;

use crate::contract::headers::HeaderFields;

/// The longest answer head accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The most header fields accepted in an answer.
const MAX_HEADERS: usize = 100;
/// The longest chunk-size or trailer line accepted.
const MAX_LINE: usize = 4096;
/// The most interim (1xx) answers accepted before the final one.
const MAX_INTERIM: usize = 32;
/// The most trailer fields accepted after a chunked body.
const MAX_TRAILERS: usize = MAX_HEADERS;
/// How long a connection may sit idle and still be reused without checking that the
/// subscriber has not closed it or sent anything since (keep-alive timeouts are seconds long).
const TRUSTED_IDLE: Duration = Duration::from_millis(250);
/// Room made in the read buffer before each read.
const READ_CHUNK: usize = 8 * 1024;

/// Where a connection goes, borrowed from the URL: nothing is copied per request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Origin<'a> {
    /// The host as the resolver wants it (an IPv6 address without brackets).
    host: &'a str,
    port: u16,
    /// `host[:port]` as in the URL (no port when it is the default): what the pool is keyed by.
    authority: &'a str,
}

impl<'a> Origin<'a> {
    /// The origin of an `http://` URL; `None` without a host.
    pub fn of(url: &'a Url) -> Option<Self> {
        let host = url.host_str()?;
        Some(Origin {
            host: host
                .strip_prefix('[')
                .and_then(|inner| inner.strip_suffix(']'))
                .unwrap_or(host),
            port: url.port_or_known_default()?,
            authority: &url[url::Position::BeforeHost..url::Position::AfterPort],
        })
    }
}

/// One POST to send.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The request target in origin form (`/path?query`).
    pub target: &'a str,
    /// The `Host` value (`host[:port]`).
    pub host: &'a str,
    /// The header set, in order; `Accept: */*` is added unless present.
    pub headers: &'a [(&'a str, &'a str)],
    /// The body.
    pub body: &'a [u8],
    /// How long connecting may take when no idle connection is at hand, over all the host's
    /// addresses (tried in turn, each within an equal share).
    pub connect_timeout: Duration,
}

/// A subscriber's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// HTTP status code.
    pub status: u16,
    /// Header fields in arrival order, names in lowercase.
    pub headers: HeaderFields,
    /// The body, at most the cap given.
    pub body: Vec<u8>,
    /// Whether the body was longer than the cap (the rest was not read).
    pub truncated: bool,
    /// Why the body ended early, when it did (the status still counts).
    pub body_error: Option<String>,
}

/// Why an exchange produced no answer.
#[derive(Debug, thiserror::Error)]
pub enum ReplyError {
    /// The host name did not resolve.
    #[error("dns error: {host}: {source}")]
    Dns {
        /// The name looked up.
        host: String,
        /// The resolver's answer.
        source: io::Error,
    },
    /// No address of the host accepted a TCP connection.
    #[error("tcp connect error: {address}: {source}")]
    Connect {
        /// The last address tried.
        address: String,
        /// Why it failed.
        source: io::Error,
    },
    /// A header cannot be sent as it is (a control character in a value, say).
    #[error("the request header `{0}` is not a valid HTTP field")]
    InvalidHeader(String),
    /// The connection closed, was reset or was lost before a complete answer head.
    #[error("{0}")]
    Closed(String),
    /// The answer is not HTTP/1.x.
    #[error("invalid response: {0}")]
    InvalidResponse(String),
    /// Another I/O failure.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: &'static str,
        /// The failure.
        source: io::Error,
    },
}

impl ReplyError {
    /// A failed read or write: a reset or a closed pipe is the connection closing.
    fn io(context: &'static str, source: io::Error) -> Self {
        use io::ErrorKind::*;
        match source.kind() {
            ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | TimedOut
            | HostUnreachable | NetworkUnreachable | NetworkDown => {
                ReplyError::Closed(format!("{context}: {source}"))
            }
            _ => ReplyError::Io { context, source },
        }
    }
}

/// Idle keep-alive connections per origin, most recently used last.
pub struct ConnectionPool {
    idle: Mutex<IdleConnections>,
    idle_timeout: Duration,
}

struct IdleConnections {
    /// Keyed by the origin's authority; oldest first.
    /// foldhash: looked up twice per request; keys are the subscribers' own authorities.
    by_origin: HashMap<String, VecDeque<Idle>, foldhash::fast::RandomState>,
    /// When every origin was last swept of expired connections.
    swept: Instant,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

impl ConnectionPool {
    /// An empty pool that drops connections idle for longer than `idle_timeout`.
    pub fn new(idle_timeout: Duration) -> Self {
        ConnectionPool {
            idle: Mutex::new(IdleConnections {
                by_origin: HashMap::default(),
                swept: Instant::now(),
            }),
            idle_timeout,
        }
    }

    /// POSTs `request` to `origin` on an idle connection that is still open, else on a new one,
    /// and reads the answer, keeping at most `cap` bytes of its body.
    pub async fn round_trip(
        &self,
        origin: &Origin<'_>,
        request: &Request<'_>,
        cap: usize,
    ) -> Result<Reply, ReplyError> {
        let mut wire = Vec::with_capacity(512 + request.body.len());
        encode(request, &mut wire)?;
        let (mut conn, reused) = match self.take(origin) {
            Some(conn) => (conn, true),
            // Boxed: connecting is rare and its state is large; every exchange would otherwise
            // carry (and move) it.
            None => (
                Box::pin(Conn::open(origin, request.connect_timeout)).await?,
                false,
            ),
        };
        let (answer, reusable) = match conn.send(&wire, cap).await {
            Err(ReplyError::Closed(_)) if reused && !conn.heard => {
                // The subscriber closed the reused connection as the request went out and sent
                // not one byte back: the request was not answered, so it goes once more, on a
                // new connection. Only once: a subscriber that closes fresh connections as well
                // fails the attempt. A subscriber that only half-closed it (shut its writing
                // side) may have read the request and acted on it: that one can arrive twice,
                // which webhook consumers handle anyway (delivery is at least once).
                conn = Box::pin(Conn::open(origin, request.connect_timeout)).await?;
                conn.send(&wire, cap).await?
            }
            result => result?,
        };
        if reusable {
            self.put_back(origin, conn);
        }
        Ok(answer)
    }

    /// Keeps a connection for reuse. Drops this origin's expired connections and, once per idle
    /// timeout, every origin's: a subscriber that is never called again does not keep sockets.
    fn put_back(&self, origin: &Origin<'_>, conn: Conn) {
        let now = Instant::now();
        let expired = |entry: &Idle| now.duration_since(entry.since) > self.idle_timeout;
        let mut closing = Vec::new();
        {
            let mut idle = self.idle.lock().expect("pool lock");
            let IdleConnections { by_origin, swept } = &mut *idle;
            let list = match by_origin.get_mut(origin.authority) {
                Some(list) => list,
                None => by_origin.entry(origin.authority.to_owned()).or_default(),
            };
            list.push_back(Idle { conn, since: now });
            let sweep_all = now.duration_since(*swept) > self.idle_timeout;
            for (_, list) in by_origin
                .iter_mut()
                .filter(|(key, _)| sweep_all || key.as_str() == origin.authority)
            {
                while list.front().is_some_and(expired) {
                    closing.extend(list.pop_front());
                }
            }
            if sweep_all {
                by_origin.retain(|_, list| !list.is_empty());
                *swept = now;
            }
        }
        // Sockets are closed here, after the lock.
        drop(closing);
    }

    /// The most recently used idle connection to `origin` that has not timed out and that the
    /// subscriber has not closed.
    fn take(&self, origin: &Origin<'_>) -> Option<Conn> {
        loop {
            let (entry, idle_for) = {
                let mut idle = self.idle.lock().expect("pool lock");
                let list = idle.by_origin.get_mut(origin.authority)?;
                let entry = list.pop_back()?;
                let idle_for = entry.since.elapsed();
                if idle_for > self.idle_timeout {
                    // The rest are older still; closed after the lock.
                    let rest = std::mem::take(list);
                    drop(idle);
                    drop((entry, rest));
                    return None;
                }
                (entry, idle_for)
            };
            // Bytes left over after the last answer (a body longer than its length) would be
            // read as the next answer: such a connection is never reused. One answered a moment
            // ago is taken without asking the socket (a syscall per request under load): if the
            // subscriber closed it meanwhile, not a byte comes back and the request goes once
            // more on a new connection (`round_trip`).
            if entry.conn.buffer.is_empty() && (idle_for < TRUSTED_IDLE || entry.conn.is_open()) {
                return Some(entry.conn);
            }
        }
    }

    /// Idle connections held, over all origins.
    pub fn idle_count(&self) -> usize {
        self.idle
            .lock()
            .expect("pool lock")
            .by_origin
            .values()
            .map(VecDeque::len)
            .sum()
    }
}

impl fmt::Debug for ConnectionPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionPool")
            .field("idle", &self.idle_count())
            .field("idle_timeout", &self.idle_timeout)
            .finish()
    }
}

/// Writes the request: request line, `host`, the headers (names in lowercase, as HTTP/2 and
/// reqwest send them), `accept` unless given, `content-length`, the body.
fn encode(request: &Request<'_>, wire: &mut Vec<u8>) -> Result<(), ReplyError> {
    wire.extend_from_slice(b"POST ");
    wire.extend_from_slice(request.target.as_bytes());
    wire.extend_from_slice(b" HTTP/1.1\r\nhost: ");
    wire.extend_from_slice(request.host.as_bytes());
    wire.extend_from_slice(b"\r\n");
    let mut accept = false;
    for (name, value) in request.headers {
        let (name, value) = (name.as_bytes(), value.as_bytes());
        if name.is_empty() || !all_bytes(name, is_token_byte) || !all_bytes(value, is_value_byte) {
            return Err(ReplyError::InvalidHeader(lossy(name)));
        }
        accept |= name.eq_ignore_ascii_case(b"accept");
        let start = wire.len();
        wire.extend_from_slice(name);
        wire[start..].make_ascii_lowercase();
        wire.extend_from_slice(b": ");
        wire.extend_from_slice(value);
        wire.extend_from_slice(b"\r\n");
    }
    if !accept {
        wire.extend_from_slice(b"accept: */*\r\n");
    }
    wire.extend_from_slice(b"content-length: ");
    wire.extend_from_slice(itoa::Buffer::new().format(request.body.len()).as_bytes());
    wire.extend_from_slice(b"\r\n\r\n");
    wire.extend_from_slice(request.body);
    Ok(())
}

/// Whether a trailer line is a field line: a token, a colon, a valid value (RFC 9112 §5).
fn is_field_line(line: &[u8]) -> bool {
    match line.iter().position(|b| *b == b':') {
        Some(colon) => {
            let (name, value) = (&line[..colon], &line[colon + 1..]);
            !name.is_empty()
                && name.iter().copied().all(is_token_byte)
                && value.iter().copied().all(is_value_byte)
        }
        None => false,
    }
}

/// Whether every byte passes `check`, without stopping at the first that fails: a loop with
/// no early exit vectorizes, and a request's header fields are checked on every attempt.
#[inline]
fn all_bytes(bytes: &[u8], check: fn(u8) -> bool) -> bool {
    bytes.iter().fold(true, |ok, byte| ok & check(*byte))
}

/// A `tchar` of RFC 9110 §5.6.2.
fn is_token_byte(byte: u8) -> bool {
    TOKEN_BYTES[usize::from(byte)]
}

/// A byte allowed in a field value: visible, space, tab, or obs-text (RFC 9110 §5.5).
fn is_value_byte(byte: u8) -> bool {
    (byte == b'\t') | ((byte >= b' ') & (byte != 0x7f))
}

/// [`is_token_byte`] as a table: every request's header names are checked byte by byte.
static TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        byte += 1;
    }
    table
};

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// How the answer's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// The parts of an answer head that matter past parsing.
struct Head {
    status: u16,
    headers: HeaderFields,
    framing: Framing,
    keep_alive: bool,
}

/// One HTTP/1.1 connection and what has been read from it and not yet used. The stream is a
/// TCP socket; the answer parser also reads any other byte source (the fuzz target's slices).
struct Conn<S = TcpStream> {
    stream: S,
    buffer: BytesMut,
    /// Whether any byte arrived since the current request was written.
    heard: bool,
}

impl Conn {
    async fn open(origin: &Origin<'_>, within: Duration) -> Result<Self, ReplyError> {
        let addresses: Vec<_> = tokio::net::lookup_host((origin.host, origin.port))
            .await
            .map_err(|source| ReplyError::Dns {
                host: origin.host.to_owned(),
                source,
            })?
            .collect();
        // An address that never answers (dropped SYNs) costs its share, not the whole deadline.
        let share = within / u32::try_from(addresses.len().max(1)).unwrap_or(u32::MAX);
        let mut last = None;
        for address in addresses {
            let connected = tokio::time::timeout(share, TcpStream::connect(address))
                .await
                .unwrap_or_else(|_| {
                    let waited = humantime::format_duration(share);
                    let message = format!("no TCP connection within {waited}");
                    Err(io::Error::new(io::ErrorKind::TimedOut, message))
                });
            match connected {
                Ok(stream) => {
                    // Best effort: a socket without it still works, only slower.
                    let _ = stream.set_nodelay(true);
                    return Ok(Conn {
                        stream,
                        buffer: BytesMut::with_capacity(READ_CHUNK),
                        heard: false,
                    });
                }
                Err(source) => last = Some((address.to_string(), source)),
            }
        }
        let (address, source) = last.unwrap_or_else(|| {
            let none = io::Error::new(io::ErrorKind::NotFound, "the name has no address");
            (origin.host.to_owned(), none)
        });
        Err(ReplyError::Connect { address, source })
    }

    /// Whether an idle connection can carry another request: nothing unread, and the
    /// subscriber has neither closed it nor sent anything since. The socket itself is asked (a
    /// non-blocking peek), not the runtime's cached readiness, which may not know yet.
    fn is_open(&self) -> bool {
        let mut probe = [MaybeUninit::<u8>::uninit(); 1];
        self.buffer.is_empty()
            && matches!(
                SockRef::from(&self.stream).peek(&mut probe),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock
            )
    }
}

impl Conn {
    /// Writes a request (already encoded) and reads its answer.
    async fn send(&mut self, wire: &[u8], cap: usize) -> Result<(Reply, bool), ReplyError> {
        self.heard = false;
        self.stream
            .write_all(wire)
            .await
            .map_err(|error| ReplyError::io("writing the request", error))?;
        self.read_answer(cap).await
    }
}

impl<S: AsyncRead + Unpin> Conn<S> {
    /// Reads more into the buffer; 0 at the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        self.buffer.reserve(READ_CHUNK);
        let read = self.stream.read_buf(&mut self.buffer).await?;
        self.heard |= read > 0;
        Ok(read)
    }

    /// Reads one answer (skipping 1xx ones); also says whether the connection can be reused.
    async fn read_answer(&mut self, cap: usize) -> Result<(Reply, bool), ReplyError> {
        let head = loop {
            if let Some(head) = self.parse_head()? {
                break head;
            }
            if self.buffer.len() >= MAX_HEAD {
                let error = format!("the answer's head is longer than {} KiB", MAX_HEAD / 1024);
                return Err(ReplyError::InvalidResponse(error));
            }
            let read = self
                .fill()
                .await
                .map_err(|error| ReplyError::io("reading the answer", error))?;
            if read == 0 {
                return Err(ReplyError::Closed(if self.buffer.is_empty() {
                    "the connection closed before an answer".into()
                } else {
                    "the connection closed in the middle of the answer's head".into()
                }));
            }
        };
        let mut body = CappedBody::new(cap);
        if let Framing::Length(length) = head.framing {
            body.bytes
                .reserve(usize::try_from(length).map_or(cap, |length| length.min(cap)));
        }
        let complete = match head.framing {
            Framing::Empty => true,
            Framing::Length(length) => self.read_length(length, &mut body).await,
            Framing::Chunked => self.read_chunked(&mut body).await,
            Framing::UntilClose => {
                self.read_to_end(&mut body).await;
                false
            }
        };
        let answer = Reply {
            status: head.status,
            headers: head.headers,
            body: body.bytes,
            truncated: body.truncated,
            body_error: body.error,
        };
        Ok((answer, complete && head.keep_alive))
    }

    /// Parses a final answer head from the buffer and consumes it; `None` until one is complete.
    fn parse_head(&mut self) -> Result<Option<Head>, ReplyError> {
        let mut interim = 0;
        loop {
            // Left uninitialized: httparse writes the slots it fills (a 3 KB array otherwise
            // zeroed for every answer).
            let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut []);
            let parsed = httparse::ParserConfig::default().parse_response_with_uninit_headers(
                &mut response,
                &self.buffer,
                &mut slots,
            );
            let length = match parsed {
                Ok(httparse::Status::Complete(length)) => length,
                Ok(httparse::Status::Partial) => return Ok(None),
                Err(httparse::Error::TooManyHeaders) => {
                    let error = format!("more than {MAX_HEADERS} header fields");
                    return Err(ReplyError::InvalidResponse(error));
                }
                Err(error) => return Err(ReplyError::InvalidResponse(error.to_string())),
            };
            let status = response.code.unwrap_or_default();
            if (100..200).contains(&status) && status != 101 {
                // An interim answer (100 Continue, 103 Early Hints): the final one follows.
                interim += 1;
                if interim > MAX_INTERIM {
                    let error = format!("more than {MAX_INTERIM} interim (1xx) answers");
                    return Err(ReplyError::InvalidResponse(error));
                }
                self.buffer.advance(length);
                continue;
            }
            let head = head(status, response.version == Some(1), response.headers)?;
            self.buffer.advance(length);
            return Ok(Some(head));
        }
    }

    /// Reads a body of `length` bytes; true when all of it arrived and fit.
    async fn read_length(&mut self, length: u64, body: &mut CappedBody) -> bool {
        let mut remaining = length;
        loop {
            let available = usize::try_from(remaining)
                .unwrap_or(usize::MAX)
                .min(self.buffer.len());
            let fits = body.push(&self.buffer[..available]);
            self.buffer.advance(available);
            remaining -= available as u64;
            if !fits {
                return false;
            }
            if remaining == 0 {
                return true;
            }
            match self.fill().await {
                Ok(0) => {
                    body.fail(format!(
                        "the connection closed {remaining} bytes before the end of the body"
                    ));
                    return false;
                }
                Ok(_) => {}
                Err(error) => {
                    body.fail(format!("reading the body: {error}"));
                    return false;
                }
            }
        }
    }

    /// Reads a chunked body and its trailers; true when the last chunk arrived and all fit.
    async fn read_chunked(&mut self, body: &mut CappedBody) -> bool {
        loop {
            let Some(line) = self.line(body).await else {
                return false;
            };
            let size = line.split(|b| *b == b';').next().unwrap_or_default();
            let size = std::str::from_utf8(size)
                .ok()
                // Whitespace may follow the size, not precede it (as hyper reads it).
                .map(|size| size.trim_end_matches([' ', '\t']))
                .filter(|size| !size.is_empty() && size.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|size| u64::from_str_radix(size, 16).ok());
            let Some(size) = size else {
                body.fail(format!("invalid chunk size line `{}`", lossy(&line)));
                return false;
            };
            if size == 0 {
                // Trailer fields, up to the empty line: checked and dropped.
                for _ in 0..=MAX_TRAILERS {
                    match self.line(body).await {
                        Some(line) if line.is_empty() => return true,
                        Some(line) if is_field_line(&line) => {}
                        Some(line) => {
                            body.fail(format!("invalid trailer field `{}`", lossy(&line)));
                            return false;
                        }
                        None => return false,
                    }
                }
                body.fail(format!("more than {MAX_TRAILERS} trailer fields"));
                return false;
            }
            if !self.read_length(size, body).await {
                return false;
            }
            match self.line(body).await {
                Some(line) if line.is_empty() => {}
                Some(_) => {
                    body.fail("a chunk is longer than its size".into());
                    return false;
                }
                None => return false,
            }
        }
    }

    /// The next line (without its CRLF) from the buffer, reading more as needed; `None`,
    /// with the body's error set, when it cannot be had.
    async fn line(&mut self, body: &mut CappedBody) -> Option<Vec<u8>> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line = self.buffer.split_to(end + 1);
                // CRLF only, as hyper: a bare LF inside the chunked coding is where two readers
                // of the same bytes may disagree on the framing.
                let Some(line) = line.strip_suffix(b"\r\n") else {
                    body.fail("a line of the chunked body ends in a bare LF".into());
                    return None;
                };
                if !line.iter().copied().all(is_value_byte) {
                    body.fail(format!(
                        "a control byte in a chunked-body line `{}`",
                        lossy(line)
                    ));
                    return None;
                }
                return Some(line.to_vec());
            }
            if self.buffer.len() > MAX_LINE {
                body.fail(format!("a chunk line is longer than {MAX_LINE} bytes"));
                return None;
            }
            match self.fill().await {
                Ok(0) => {
                    body.fail("the connection closed in the middle of a chunked body".into());
                    return None;
                }
                Ok(_) => {}
                Err(error) => {
                    body.fail(format!("reading the body: {error}"));
                    return None;
                }
            }
        }
    }

    /// Reads until the subscriber closes the connection (or the body is over the cap).
    async fn read_to_end(&mut self, body: &mut CappedBody) {
        loop {
            let fits = body.push(&self.buffer);
            self.buffer.clear();
            if !fits {
                return;
            }
            match self.fill().await {
                Ok(0) => return,
                Ok(_) => {}
                Err(error) => {
                    body.fail(format!("reading the body: {error}"));
                    return;
                }
            }
        }
    }
}

/// The head's status and fields, and what they say about the body and the connection.
fn head(status: u16, http11: bool, fields: &[httparse::Header<'_>]) -> Result<Head, ReplyError> {
    let size: usize = fields
        .iter()
        .map(|f| f.name.len() + f.value.len() + 8)
        .sum();
    let mut headers = HeaderFields::with_capacity(size);
    let (mut chunked, mut transfer_coded, mut length) = (false, false, None);
    let (mut close, mut keep_alive) = (false, false);
    // A Content-Length is given (valid or not), and the first invalid one.
    let (mut length_given, mut invalid_length) = (false, None::<String>);
    // Names are matched and kept in lowercase: lowered on the stack when short enough.
    let mut lowered = [0u8; 64];
    for field in fields {
        let owned;
        let name = match lowered.get_mut(..field.name.len()) {
            Some(buffer) => {
                buffer.copy_from_slice(field.name.as_bytes());
                buffer.make_ascii_lowercase();
                std::str::from_utf8(buffer).expect("a lowered token is ASCII")
            }
            None => {
                owned = field.name.to_ascii_lowercase();
                owned.as_str()
            }
        };
        // The usual case first: `from_utf8` checks ASCII a word at a time, the lossy decoder
        // a chunk at a time.
        let value = match std::str::from_utf8(field.value) {
            Ok(text) => std::borrow::Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(field.value),
        };
        match name {
            "transfer-encoding" => {
                transfer_coded = true;
                // Only the last coding decides whether the body is chunked; empty list
                // elements do not count (RFC 9110 §5.6.1).
                if let Some(last) = value.split(',').map(str::trim).rfind(|c| !c.is_empty()) {
                    chunked = last.eq_ignore_ascii_case("chunked");
                }
            }
            "content-length" => {
                length_given = true;
                for part in value.split(',') {
                    let part = part.trim();
                    let digits = !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
                    let parsed = part.parse::<u64>().ok().filter(|_| digits);
                    if parsed.is_none() || length.is_some_and(|known| Some(known) != parsed) {
                        invalid_length.get_or_insert_with(|| value.to_string());
                        break;
                    }
                    length = parsed;
                }
            }
            "connection" => {
                for option in value.split(',').map(str::trim) {
                    close |= option.eq_ignore_ascii_case("close");
                    keep_alive |= option.eq_ignore_ascii_case("keep-alive");
                }
            }
            _ => {}
        }
        headers.push(name, &value);
    }
    // Transfer-Encoding overrides Content-Length (RFC 9112 §6.3), as hyper reads it: an invalid
    // length is an error only when it would frame the body.
    if let (Some(value), false) = (invalid_length, transfer_coded) {
        let error = format!("invalid Content-Length `{value}`");
        return Err(ReplyError::InvalidResponse(error));
    }
    let framing = if status == 204 || status == 304 {
        Framing::Empty
    } else if transfer_coded {
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else {
        length.map_or(Framing::UntilClose, Framing::Length)
    };
    Ok(Head {
        status,
        headers,
        framing,
        // A body framed by both fields, or chunked in HTTP/1.0, may have been read wrongly, and
        // after a switch of protocol the connection no longer speaks HTTP/1.1: never reuse those.
        keep_alive: !close
            && (http11 || keep_alive)
            && !(transfer_coded && (length_given || !http11))
            && status != 101,
    })
}

/// What the answer parser made of a byte stream: [`fuzz_parse_answer`]'s result.
#[doc(hidden)]
#[derive(Debug)]
pub struct ParsedReply {
    /// The final answer's status.
    pub status: u16,
    /// Header fields in arrival order, names in lowercase.
    pub headers: HeaderFields,
    /// The body kept (at most the cap).
    pub body: Vec<u8>,
    /// Whether the body was longer than the cap.
    pub truncated: bool,
    /// Why the body ended early, when it did.
    pub body_error: Option<String>,
    /// Whether the connection could carry another request.
    pub reusable: bool,
}

/// Reads one answer from `bytes` (as if a subscriber sent them and then closed the connection)
/// with the client's own parser, keeping at most `cap` bytes of body. For the fuzz target only:
/// the client itself is private to the crate.
#[doc(hidden)]
pub fn fuzz_parse_answer(bytes: &[u8], cap: usize) -> Result<ParsedReply, String> {
    let mut conn = Conn {
        stream: bytes,
        buffer: BytesMut::new(),
        heard: false,
    };
    // A slice is always ready: the future completes without a runtime.
    let (reply, reusable) =
        futures::executor::block_on(conn.read_answer(cap)).map_err(|error| error.to_string())?;
    Ok(ParsedReply {
        status: reply.status,
        headers: reply.headers,
        body: reply.body,
        truncated: reply.truncated,
        body_error: reply.body_error,
        reusable,
    })
}

/// A body collected up to a cap, and why it ended early if it did.
#[derive(Debug)]
pub(super) struct CappedBody {
    /// What was kept.
    pub(super) bytes: Vec<u8>,
    cap: usize,
    /// Whether more than the cap arrived (the rest is not read).
    pub(super) truncated: bool,
    /// Why reading stopped early.
    pub(super) error: Option<String>,
}

impl CappedBody {
    /// An empty body that keeps at most `cap` bytes.
    pub(super) fn new(cap: usize) -> Self {
        CappedBody {
            bytes: Vec::new(),
            cap,
            truncated: false,
            error: None,
        }
    }

    /// Appends; false once the cap is reached (what is over it is dropped).
    pub(super) fn push(&mut self, data: &[u8]) -> bool {
        let room = self.cap - self.bytes.len();
        if data.len() > room {
            self.bytes.extend_from_slice(&data[..room]);
            self.truncated = true;
            return false;
        }
        self.bytes.extend_from_slice(data);
        true
    }

    /// Records why the body ended early.
    pub(super) fn fail(&mut self, error: String) {
        self.error = Some(error);
    }
}

#[cfg(test)]
mod differential;

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use proptest::strategy::Strategy as _;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    const CAP: usize = 64;

    /// A server that answers every request on a connection with `answer`, closing the
    /// connection after it when `close` is set; returns its URL, how many connections it
    /// accepted, and every request it read.
    async fn server(
        answer: impl AsRef<[u8]> + Send + Sync + 'static,
        close: bool,
    ) -> (Url, Arc<AtomicUsize>, Arc<Mutex<Vec<Vec<u8>>>>) {
        let answer = Arc::new(answer);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!(
            "http://{}/hook?x=1",
            listener.local_addr().unwrap()
        ))
        .unwrap();
        let (accepted, requests) = (Arc::new(AtomicUsize::new(0)), Arc::default());
        let (count, seen): (_, Arc<Mutex<Vec<Vec<u8>>>>) =
            (accepted.clone(), Arc::clone(&requests));
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                let (seen, answer) = (seen.clone(), answer.clone());
                tokio::spawn(async move {
                    let mut pending = Vec::new();
                    let mut buffer = [0u8; 4096];
                    loop {
                        let Ok(n @ 1..) = socket.read(&mut buffer).await else {
                            return;
                        };
                        pending.extend_from_slice(&buffer[..n]);
                        // Every test request has a two-byte body after its head.
                        let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        if pending.len() < end + 6 {
                            continue;
                        }
                        seen.lock()
                            .unwrap()
                            .push(pending.drain(..end + 6).collect());
                        if socket.write_all((*answer).as_ref()).await.is_err() {
                            return;
                        }
                        if close {
                            let _ = socket.shutdown().await;
                            return;
                        }
                    }
                });
            }
        });
        (url, accepted, requests)
    }

    fn headers() -> Vec<(&'static str, &'static str)> {
        vec![
            ("X-InboxKit-Event", "domain.status_changed"),
            ("Content-Type", "application/json"),
        ]
    }

    async fn post(
        pool: &ConnectionPool,
        url: &Url,
        headers: &[(&str, &str)],
    ) -> Result<Reply, ReplyError> {
        let request = Request {
            target: &url[url::Position::BeforePath..url::Position::AfterQuery],
            host: &url[url::Position::BeforeHost..url::Position::BeforePath],
            headers,
            body: b"{}",
            connect_timeout: Duration::from_secs(30),
        };
        pool.round_trip(&Origin::of(url).unwrap(), &request, CAP)
            .await
    }

    fn pool() -> ConnectionPool {
        ConnectionPool::new(Duration::from_secs(30))
    }

    #[tokio::test]
    async fn the_request_is_one_post_with_host_accept_and_length() {
        let (url, _, requests) = server(b"HTTP/1.1 204 No Content\r\n\r\n", false).await;
        let answer = post(&pool(), &url, &headers()).await.unwrap();
        assert_eq!(answer.status, 204);
        let request = String::from_utf8(requests.lock().unwrap()[0].clone()).unwrap();
        let host = url.authority();
        assert_eq!(
            request,
            format!(
                "POST /hook?x=1 HTTP/1.1\r\nhost: {host}\r\nx-inboxkit-event: domain.status_changed\r\n\
                 content-type: application/json\r\naccept: */*\r\ncontent-length: 2\r\n\r\n{{}}"
            )
        );
    }

    #[tokio::test]
    async fn a_header_that_would_split_the_request_is_refused_before_connecting() {
        let (url, accepted, _) =
            server(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false).await;
        let mut injected = headers();
        injected.push(("X-Evil", "a\r\nX-Injected: 1"));
        let error = post(&pool(), &url, &injected).await.unwrap_err();
        assert!(
            matches!(error, ReplyError::InvalidHeader(ref name) if name == "X-Evil"),
            "{error}"
        );
        let mut bad_name = headers();
        bad_name.push(("Bad Name", "x"));
        assert!(matches!(
            post(&pool(), &url, &bad_name).await,
            Err(ReplyError::InvalidHeader(_))
        ));
        assert_eq!(accepted.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn sequential_requests_share_one_connection() {
        let (url, accepted, _) = server(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Seen: yes\r\n\r\nok",
            false,
        )
        .await;
        let pool = pool();
        for _ in 0..5 {
            let answer = post(&pool, &url, &headers()).await.unwrap();
            assert_eq!(answer.body, b"ok");
            assert_eq!(answer.headers.iter().nth(1), Some(("x-seen", "yes")));
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle_count(), 1);
    }

    #[tokio::test]
    async fn concurrent_requests_open_one_connection_each_and_keep_them() {
        let (url, accepted, _) =
            server(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false).await;
        let pool = pool();
        let headers = headers();
        let answers = futures::future::join_all((0..4).map(|_| post(&pool, &url, &headers))).await;
        assert!(
            answers
                .iter()
                .all(|a| a.as_ref().is_ok_and(|a| a.status == 200))
        );
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        assert_eq!(pool.idle_count(), 4);
    }

    /// An answer with more body bytes than its `content-length`: the rest must never be read as
    /// the next request's answer, however soon that request follows.
    #[tokio::test]
    async fn bytes_past_the_declared_length_are_never_read_as_the_next_answer() {
        let (url, accepted, _) = server(
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 500 No\r\n\r\n",
            false,
        )
        .await;
        let pool = pool();
        for _ in 0..3 {
            let answer = post(&pool, &url, &headers()).await.unwrap();
            assert_eq!((answer.status, &answer.body[..]), (200, &b"ok"[..]));
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            3,
            "a new connection each time"
        );
    }

    /// The table is the RFC's `tchar` list, written out here a second time.
    #[test]
    fn token_bytes_are_the_rfc_tchars() {
        for byte in 0..=255u8 {
            let tchar = byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte);
            assert_eq!(is_token_byte(byte), tchar, "byte {byte:#04x}");
        }
    }

    /// Closed 20 ms after each answer, so within `TRUSTED_IDLE`: the socket is not asked, and
    /// the request that finds the connection closed goes again on a new one.
    #[tokio::test]
    async fn a_connection_closed_while_idle_is_replaced_without_a_failed_request() {
        for answer in [
            &b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
        ] {
            let (url, accepted, _) = server(answer, true).await;
            let pool = pool();
            for _ in 0..3 {
                // Let the close reach this side, as it would between two deliveries.
                tokio::time::sleep(Duration::from_millis(20)).await;
                assert_eq!(post(&pool, &url, &headers()).await.unwrap().body, b"ok");
            }
            assert_eq!(accepted.load(Ordering::SeqCst), 3);
        }
    }

    /// The subscriber closes an idle connection while the runtime is too busy to hear of it: the
    /// socket itself is asked before reuse (once idle past `TRUSTED_IDLE`), so no attempt is
    /// lost on it.
    #[tokio::test(flavor = "current_thread")]
    async fn a_close_the_runtime_has_not_seen_yet_is_still_noticed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            for mut socket in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                let mut buffer = [0u8; 4096];
                let _ = socket.read(&mut buffer);
                let _ = socket.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
                std::thread::sleep(Duration::from_millis(30));
                drop(socket);
            }
        });
        let pool = pool();
        post(&pool, &url, &headers()).await.unwrap();
        // Blocks the only runtime thread: its event loop cannot learn of the close meanwhile.
        std::thread::sleep(TRUSTED_IDLE + Duration::from_millis(100));
        assert_eq!(post(&pool, &url, &headers()).await.unwrap().status, 200);
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    /// A server whose first connection answers one request, then reads the next and closes
    /// without a byte (as a subscriber's idle timeout firing just as the request arrives); every
    /// later connection answers every request. Returns its URL and how many it accepted.
    async fn server_closing_after_one_answer() -> (Url, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let first = count.fetch_add(1, Ordering::SeqCst) == 0;
                tokio::spawn(async move {
                    let mut buffer = [0u8; 4096];
                    for served in 0.. {
                        // Every test request arrives in one write.
                        if !matches!(socket.read(&mut buffer).await, Ok(1..)) {
                            return;
                        }
                        if first && served == 1 {
                            return;
                        }
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                        if socket.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    #[tokio::test]
    async fn a_reused_connection_closed_without_an_answer_is_retried_once_on_a_new_one() {
        let (url, accepted) = server_closing_after_one_answer().await;
        let pool = pool();
        assert_eq!(post(&pool, &url, &headers()).await.unwrap().body, b"ok");
        let second = post(&pool, &url, &headers()).await.unwrap();
        assert_eq!(second.body, b"ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_new_connection_closed_without_an_answer_is_not_retried() {
        let (url, accepted, requests) = server(b"", true).await;
        let error = post(&pool(), &url, &headers()).await.unwrap_err();
        assert!(matches!(error, ReplyError::Closed(_)), "{error}");
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(requests.lock().unwrap().len(), 1);
    }

    /// A listener whose accept queue is full drops new SYNs (Linux): the connect hangs, and
    /// the request fails as a connect error once its share of the time is spent.
    #[tokio::test]
    async fn a_connect_that_hangs_fails_within_the_connect_timeout() {
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(
                &"127.0.0.1:0"
                    .parse::<std::net::SocketAddr>()
                    .unwrap()
                    .into(),
            )
            .unwrap();
        socket.listen(0).unwrap();
        let address = socket.local_addr().unwrap().as_socket().unwrap();
        // Fill the accept queue (never accepted).
        let mut queued = Vec::new();
        for _ in 0..2 {
            let attempt = TcpStream::connect(address);
            if let Ok(Ok(stream)) = tokio::time::timeout(Duration::from_secs(1), attempt).await {
                queued.push(stream);
            }
        }
        let url = Url::parse(&format!("http://{address}/")).unwrap();
        let headers = headers();
        let request = Request {
            target: "/",
            host: &url[url::Position::BeforeHost..url::Position::BeforePath],
            headers: &headers,
            body: b"{}",
            connect_timeout: Duration::from_secs(1),
        };
        let started = Instant::now();
        let (pool, origin) = (pool(), Origin::of(&url).unwrap());
        let round_trip = pool.round_trip(&origin, &request, CAP);
        let error = tokio::time::timeout(Duration::from_secs(30), round_trip)
            .await
            .expect("the connect timeout ends the attempt")
            .unwrap_err();
        assert!(
            matches!(&error, ReplyError::Connect { source, .. } if source.kind() == io::ErrorKind::TimedOut),
            "{error}"
        );
        assert!(started.elapsed() >= Duration::from_secs(1));
        drop(queued);
    }

    #[tokio::test]
    async fn idle_connections_of_an_origin_never_called_again_are_closed() {
        let (first, _, _) = server(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false).await;
        let (second, _, _) = server(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false).await;
        let pool = ConnectionPool::new(Duration::from_millis(10));
        post(&pool, &first, &headers()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        post(&pool, &second, &headers()).await.unwrap();
        assert_eq!(
            pool.idle_count(),
            1,
            "the first origin's connection is gone"
        );
    }

    #[tokio::test]
    async fn connections_idle_past_the_timeout_are_not_reused() {
        let (url, accepted, _) =
            server(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n", false).await;
        let pool = ConnectionPool::new(Duration::from_millis(10));
        post(&pool, &url, &headers()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        post(&pool, &url, &headers()).await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(pool.idle_count(), 1, "the expired one is gone");
    }

    #[tokio::test]
    async fn bodies_are_framed_by_length_chunks_or_the_end_of_the_connection() {
        let cases: [(&'static [u8], bool, &[u8], bool); 9] = [
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                false,
                b"ok",
                true,
            ),
            (
                b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n\
                  2\r\nok\r\n0\r\n\r\n",
                false,
                b"ok",
                false,
            ),
            (
                b"HTTP/1.1 101 Switching Protocols\r\ncontent-length: 0\r\n\r\n",
                false,
                b"",
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n\
                  2\r\nok\r\n0\r\n\r\n",
                false,
                b"ok",
                false,
            ),
            (
                b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
                false,
                b"hello",
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n\
                  6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
                false,
                b"hello world",
                true,
            ),
            (
                b"HTTP/1.1 200 OK\r\n\r\nuntil the end",
                true,
                b"until the end",
                false,
            ),
            (
                b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
                false,
                b"ok",
                false,
            ),
            (
                b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\nok",
                false,
                b"ok",
                true,
            ),
        ];
        for (answer, close, body, kept) in cases {
            let (url, _, _) = server(answer, close).await;
            let pool = pool();
            let got = post(&pool, &url, &headers()).await.unwrap();
            assert_eq!(got.body, body, "{}", String::from_utf8_lossy(answer));
            assert_eq!(got.body_error, None);
            assert_eq!(
                pool.idle_count(),
                usize::from(kept),
                "{}",
                String::from_utf8_lossy(answer)
            );
        }
    }

    #[tokio::test]
    async fn a_body_over_the_cap_is_truncated_and_its_connection_dropped() {
        let (url, _, _) = server(
            b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n\
              0123456789012345678901234567890123456789012345678901234567890123456789012345678901234567890123456789",
            false,
        )
        .await;
        let pool = pool();
        let answer = post(&pool, &url, &headers()).await.unwrap();
        assert_eq!(answer.body.len(), CAP);
        assert!(answer.truncated);
        assert_eq!(pool.idle_count(), 0);
    }

    #[tokio::test]
    async fn a_body_cut_short_keeps_the_status_and_says_why() {
        let (url, _, _) = server(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\npart", true).await;
        let answer = post(&pool(), &url, &headers()).await.unwrap();
        assert_eq!((answer.status, answer.body.as_slice()), (200, &b"part"[..]));
        assert!(
            answer
                .body_error
                .unwrap()
                .contains("6 bytes before the end")
        );
        let (url, _, _) = server(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
            true,
        )
        .await;
        let answer = post(&pool(), &url, &headers()).await.unwrap();
        assert!(answer.body_error.unwrap().contains("invalid chunk size"));
    }

    #[tokio::test]
    async fn heads_that_are_not_http_or_contradict_themselves_are_invalid() {
        for answer in [
            &b"this is not http at all\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nok",
            b"HTTP/1.1 200 OK\r\ncontent-length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: +2\r\n\r\nok",
        ] {
            let (url, _, _) = server(answer, true).await;
            let error = post(&pool(), &url, &headers()).await.unwrap_err();
            assert!(matches!(error, ReplyError::InvalidResponse(_)), "{error}");
        }
        let (url, _, _) = server(b"HTTP/1.1 200 OK\r\ncontent-", true).await;
        let error = post(&pool(), &url, &headers()).await.unwrap_err();
        assert!(matches!(error, ReplyError::Closed(_)), "{error}");
        let (url, _, _) = server(b"", true).await;
        let error = post(&pool(), &url, &headers()).await.unwrap_err();
        assert_eq!(error.to_string(), "the connection closed before an answer");
    }

    #[tokio::test]
    async fn connect_and_dns_failures_are_typed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        let error = post(&pool(), &refused, &headers()).await.unwrap_err();
        assert!(matches!(error, ReplyError::Connect { .. }), "{error}");
        assert!(error.to_string().contains("127.0.0.1"), "{error}");
        let unknown = Url::parse("http://no-such-host.invalid/").unwrap();
        let error = post(&pool(), &unknown, &headers()).await.unwrap_err();
        assert!(matches!(error, ReplyError::Dns { .. }), "{error}");
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(200))]

        /// Whatever a subscriber sends back, the exchange ends in an answer or a coded error,
        /// never a panic, and keeps at most the cap of any body.
        #[test]
        fn any_answer_ends_in_an_answer_or_an_error(
            answer in proptest::prop_oneof![
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
                (0usize..120, proptest::prelude::any::<u8>()).prop_map(|(at, byte)| {
                    let mut valid = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n\
                        5\r\nhello\r\n40\r\n0123456789012345678901234567890123456789\
                        012345678901234567890123\r\n0\r\n\r\n".to_vec();
                    let at = at % valid.len();
                    valid[at] = byte;
                    valid
                }),
            ],
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let (url, _, _) = server(answer, true).await;
                let (pool, headers) = (pool(), headers());
                let exchange = post(&pool, &url, &headers);
                let result = tokio::time::timeout(Duration::from_secs(5), exchange).await;
                let result = result.expect("a closed connection always ends the exchange");
                if let Ok(answer) = result {
                    assert!(answer.body.len() <= CAP);
                }
            });
        }
    }

    /// The fuzz target's entry reads the committed seeds as the client reads them off a socket.
    #[test]
    fn the_fuzz_entry_reads_the_seed_answers() {
        let seeds = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/http_answer");
        let read = |name: &str| {
            let bytes = std::fs::read(format!("{seeds}/{name}")).unwrap();
            crate::delivery::fuzz_parse_answer(&bytes, CAP)
        };
        let reply = read("chunked-trailer").unwrap();
        assert_eq!((reply.status, &reply.body[..]), (200, &b"hello world"[..]));
        assert!(reply.reusable);
        let reply = read("interim").unwrap();
        assert_eq!((reply.status, &reply.body[..]), (201, &b"ok"[..]));
        let reply = read("truncated").unwrap();
        assert_eq!((reply.body_error.is_some(), reply.reusable), (true, false));
        let reply = read("until-close").unwrap();
        assert_eq!(
            (reply.status, &reply.body[..]),
            (500, &b"until the end"[..])
        );
        let reply = read("no-content-both-framings").unwrap();
        assert_eq!(
            (reply.status, reply.body.len(), reply.reusable),
            (204, 0, false)
        );
        let many_interim = "HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_INTERIM + 1);
        let error = crate::delivery::fuzz_parse_answer(many_interim.as_bytes(), CAP).unwrap_err();
        assert!(error.contains("interim"), "{error}");
    }

    #[test]
    fn origins_name_the_host_to_resolve_and_the_port() {
        let parts = |url: &str| {
            let url = Url::parse(url).unwrap();
            let origin = Origin::of(&url).unwrap();
            (
                origin.host.to_owned(),
                origin.port,
                origin.authority.to_owned(),
            )
        };
        assert_eq!(
            parts("http://example.com/x"),
            ("example.com".into(), 80, "example.com".into())
        );
        assert_eq!(
            parts("http://[::1]:8080/"),
            ("::1".into(), 8080, "[::1]:8080".into())
        );
        assert_eq!(
            parts("http://u:p@127.0.0.1:9/a?b"),
            ("127.0.0.1".into(), 9, "127.0.0.1:9".into())
        );
    }
}
