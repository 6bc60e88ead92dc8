//! Keep-alive HTTP/1.1 connections to `http://` subscribers, pooled per origin and driven by the
//! task that sends on them.
//!
//! A connection makes progress only while an attempt uses it: the request, the response and its
//! body are all polled in the attempt's own task, so a request costs no hand-off to a connection
//! task and back. An idle connection is checked when it is next taken: one the subscriber closed
//! meanwhile is dropped for the next (or a new) one, and a request that was never written is sent
//! on another connection, so a stale connection never costs an attempt.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::{Future, poll_fn};
use std::pin::{Pin, pin};
use std::sync::Mutex;
use std::task::Poll;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use url::Url;

/// What a request body is on these connections.
pub type RequestBody = Full<Bytes>;

type Connection = http1::Connection<TokioIo<TcpStream>, RequestBody>;

/// Where a connection goes: the host to resolve and the port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an `http://` URL; `None` without a host.
    pub fn of(url: &Url) -> Option<Self> {
        let host = url.host_str()?;
        // An IPv6 literal is written in brackets; the resolver wants the address alone.
        let host = host
            .strip_prefix('[')
            .and_then(|inner| inner.strip_suffix(']'))
            .unwrap_or(host);
        Some(Origin {
            host: host.to_owned(),
            port: url.port_or_known_default()?,
        })
    }
}

/// Why no request could be sent.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// The host name did not resolve.
    #[error("dns error: {host}: {source}")]
    Dns {
        /// The name looked up.
        host: String,
        /// The resolver's answer.
        source: std::io::Error,
    },
    /// No address of the host accepted a TCP connection.
    #[error("tcp connect error: {address}: {source}")]
    Connect {
        /// The last address tried.
        address: String,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The exchange failed at the HTTP layer.
    #[error(transparent)]
    Http(#[from] hyper::Error),
}

/// One HTTP/1.1 connection: the handle requests go through and the state machine that owns the
/// socket, which moves only while [`Conn::drive`] polls it.
pub struct Conn {
    sender: SendRequest<RequestBody>,
    /// `None` once the connection has ended. Boxed: the state is large and a `Conn` moves
    /// between the pool and each attempt.
    connection: Option<Box<Connection>>,
}

impl Conn {
    async fn open(origin: &Origin) -> Result<Self, ConnectionError> {
        let addresses = tokio::net::lookup_host((origin.host.as_str(), origin.port))
            .await
            .map_err(|source| ConnectionError::Dns {
                host: origin.host.clone(),
                source,
            })?;
        let mut last = None;
        for address in addresses {
            match TcpStream::connect(address).await {
                Ok(stream) => {
                    // Best effort: a socket without it still works, only slower.
                    let _ = stream.set_nodelay(true);
                    let (sender, connection) = http1::Builder::new()
                        .handshake(TokioIo::new(stream))
                        .await?;
                    return Ok(Conn {
                        sender,
                        connection: Some(Box::new(connection)),
                    });
                }
                Err(source) => last = Some((address.to_string(), source)),
            }
        }
        let (address, source) = last.unwrap_or_else(|| {
            let none = std::io::Error::new(std::io::ErrorKind::NotFound, "no address");
            (origin.host.clone(), none)
        });
        Err(ConnectionError::Connect { address, source })
    }

    /// Runs `work` (a request, a body frame) to completion while driving the connection.
    pub async fn drive<F: Future>(&mut self, work: F) -> F::Output {
        drive(&mut self.connection, work).await
    }

    /// Whether the connection can carry another request.
    fn is_open(&self) -> bool {
        self.connection.is_some() && !self.sender.is_closed()
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("open", &self.is_open())
            .finish()
    }
}

/// Polls `work` and, while it waits, the connection it depends on. When the connection ends, it
/// is dropped: whatever still waits on it then fails with hyper's error.
async fn drive<F: Future>(connection: &mut Option<Box<Connection>>, work: F) -> F::Output {
    let mut work = pin!(work);
    poll_fn(|cx| {
        if let Poll::Ready(output) = work.as_mut().poll(cx) {
            return Poll::Ready(output);
        }
        if let Some(state) = connection
            && Pin::new(&mut **state).poll(cx).is_ready()
        {
            *connection = None;
            return work.as_mut().poll(cx);
        }
        Poll::Pending
    })
    .await
}

/// Idle keep-alive connections per origin, most recently used last.
pub struct ConnectionPool {
    idle: Mutex<HashMap<Origin, VecDeque<Idle>>>,
    idle_timeout: Duration,
}

struct Idle {
    conn: Conn,
    since: Instant,
}

impl ConnectionPool {
    /// An empty pool that drops connections idle for longer than `idle_timeout`.
    pub fn new(idle_timeout: Duration) -> Self {
        ConnectionPool {
            idle: Mutex::new(HashMap::new()),
            idle_timeout,
        }
    }

    /// Sends `request` (origin-form URI, `Host` set) to `origin`, on an idle connection when one
    /// is still open, else on a new one. Returns the response head and the connection its body
    /// arrives on: read it with [`Conn::drive`], then give the connection back with
    /// [`ConnectionPool::put_back`].
    pub async fn send(
        &self,
        origin: &Origin,
        mut request: http::Request<RequestBody>,
    ) -> Result<(http::Response<Incoming>, Conn), ConnectionError> {
        loop {
            let (mut conn, reused) = match self.take(origin) {
                Some(conn) => (conn, true),
                // Boxed: connecting is rare and its state is large; every request would
                // otherwise carry (and move) it.
                None => (Box::pin(Conn::open(origin)).await?, false),
            };
            if let Err(error) = drive(&mut conn.connection, conn.sender.ready()).await {
                if reused {
                    continue;
                }
                return Err(error.into());
            }
            match drive(&mut conn.connection, conn.sender.try_send_request(request)).await {
                Ok(response) => return Ok((response, conn)),
                Err(mut error) => match error.take_message() {
                    // Never written: the idle connection had closed under us.
                    Some(unsent) if reused => request = unsent,
                    _ => return Err(error.into_error().into()),
                },
            }
        }
    }

    /// Keeps a connection whose exchange is complete (its response body read to the end).
    pub fn put_back(&self, origin: &Origin, conn: Conn) {
        if !conn.is_open() {
            return;
        }
        let now = Instant::now();
        let mut idle = self.idle.lock().expect("pool lock");
        let list = match idle.get_mut(origin) {
            Some(list) => list,
            None => idle.entry(origin.clone()).or_default(),
        };
        while list
            .front()
            .is_some_and(|oldest| now.duration_since(oldest.since) > self.idle_timeout)
        {
            list.pop_front();
        }
        list.push_back(Idle { conn, since: now });
    }

    /// The most recently used idle connection to `origin` that has not timed out.
    fn take(&self, origin: &Origin) -> Option<Conn> {
        let mut idle = self.idle.lock().expect("pool lock");
        let list = idle.get_mut(origin)?;
        while let Some(entry) = list.pop_back() {
            if entry.since.elapsed() > self.idle_timeout {
                // The rest are older still.
                list.clear();
            } else if entry.conn.is_open() {
                return Some(entry.conn);
            }
        }
        None
    }

    /// Idle connections held, over all origins.
    pub fn idle_count(&self) -> usize {
        self.idle
            .lock()
            .expect("pool lock")
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// How the test server ends each exchange.
    #[derive(Clone, Copy)]
    enum Then {
        KeepAlive,
        /// Answers with `connection: close` and closes.
        AnnounceClose,
        /// Closes without a word once the answer is sent.
        CloseSilently,
    }

    /// A keep-alive HTTP/1.1 server; returns its URL and how many connections it accepted.
    async fn server(then: Then) -> (Url, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = Url::parse(&format!("http://{}/hook", listener.local_addr().unwrap())).unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                count.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    let mut seen = Vec::new();
                    let mut buffer = [0u8; 4096];
                    loop {
                        let Ok(n @ 1..) = socket.read(&mut buffer).await else {
                            return;
                        };
                        seen.extend_from_slice(&buffer[..n]);
                        // The test requests carry a two-byte body after the head.
                        let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
                            continue;
                        };
                        if seen.len() < end + 4 + 2 {
                            continue;
                        }
                        seen.drain(..end + 4 + 2);
                        let close = matches!(then, Then::AnnounceClose);
                        let answer = format!(
                            "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n{}\r\nok",
                            if close { "connection: close\r\n" } else { "" }
                        );
                        if socket.write_all(answer.as_bytes()).await.is_err() {
                            return;
                        }
                        if !matches!(then, Then::KeepAlive) {
                            let _ = socket.shutdown().await;
                            return;
                        }
                    }
                });
            }
        });
        (url, accepted)
    }

    /// One POST through the pool, body read to the end and the connection given back.
    async fn exchange(pool: &ConnectionPool, url: &Url) -> Result<String, ConnectionError> {
        let origin = Origin::of(url).unwrap();
        let request = http::Request::post(url.path())
            .header(http::header::HOST, url.authority())
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap();
        let (response, mut conn) = pool.send(&origin, request).await?;
        let body = conn.drive(response.into_body().collect()).await?;
        pool.put_back(&origin, conn);
        Ok(String::from_utf8(body.to_bytes().to_vec()).unwrap())
    }

    #[tokio::test]
    async fn sequential_requests_share_one_connection() {
        let (url, accepted) = server(Then::KeepAlive).await;
        let pool = ConnectionPool::new(Duration::from_secs(30));
        for _ in 0..5 {
            assert_eq!(exchange(&pool, &url).await.unwrap(), "ok");
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1);
        assert_eq!(pool.idle_count(), 1);
    }

    #[tokio::test]
    async fn concurrent_requests_open_one_connection_each_and_keep_them() {
        let (url, accepted) = server(Then::KeepAlive).await;
        let pool = ConnectionPool::new(Duration::from_secs(30));
        let answers = futures::future::join_all((0..4).map(|_| exchange(&pool, &url))).await;
        assert!(answers.iter().all(|a| a.as_deref().ok() == Some("ok")));
        assert_eq!(accepted.load(Ordering::SeqCst), 4);
        assert_eq!(pool.idle_count(), 4);
    }

    #[tokio::test]
    async fn a_connection_closed_while_idle_is_replaced_without_a_failed_request() {
        for then in [Then::AnnounceClose, Then::CloseSilently] {
            let (url, accepted) = server(then).await;
            let pool = ConnectionPool::new(Duration::from_secs(30));
            for _ in 0..3 {
                // Let the close reach this side, as it would between two deliveries.
                tokio::time::sleep(Duration::from_millis(20)).await;
                assert_eq!(exchange(&pool, &url).await.unwrap(), "ok");
            }
            assert_eq!(accepted.load(Ordering::SeqCst), 3);
        }
    }

    #[tokio::test]
    async fn connections_idle_past_the_timeout_are_not_reused() {
        let (url, accepted) = server(Then::KeepAlive).await;
        let pool = ConnectionPool::new(Duration::from_millis(10));
        exchange(&pool, &url).await.unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        exchange(&pool, &url).await.unwrap();
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
        assert_eq!(pool.idle_count(), 1, "the expired one is gone");
    }

    #[tokio::test]
    async fn connect_and_dns_failures_are_typed() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let refused = Url::parse(&format!("http://{}/", listener.local_addr().unwrap())).unwrap();
        drop(listener);
        let pool = ConnectionPool::new(Duration::from_secs(30));
        let error = exchange(&pool, &refused).await.unwrap_err();
        assert!(matches!(error, ConnectionError::Connect { .. }), "{error}");
        assert!(error.to_string().contains("127.0.0.1"), "{error}");
        let unknown = Url::parse("http://no-such-host.invalid/").unwrap();
        let error = exchange(&pool, &unknown).await.unwrap_err();
        assert!(matches!(error, ConnectionError::Dns { .. }), "{error}");
    }

    #[test]
    fn origins_name_the_host_to_resolve_and_the_port() {
        let origin = |url: &str| Origin::of(&Url::parse(url).unwrap()).unwrap();
        assert_eq!(origin("http://example.com/x").port, 80);
        assert_eq!(origin("http://[::1]:8080/").host, "::1");
        assert_eq!(
            origin("http://127.0.0.1:9/"),
            origin("http://127.0.0.1:9/other")
        );
    }
}
