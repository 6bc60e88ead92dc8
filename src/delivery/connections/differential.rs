//! Differential test: the same random answers, sent over real loopback sockets, to this client
//! and to hyper's `client::conn::http1`; both must reach the same verdict (the status, the body,
//! whether the body ended early, whether the connection may carry another request), or both
//! refuse the answer.
//!
//! Where the two differ by design, the rule is encoded here and says why:
//! - A body over the cap: this client keeps the cap's worth and drops the connection rather than
//!   read the rest; hyper reads it all and keeps the connection.
//! - When the subscriber closes the connection after the answer (until-close framing, cut or
//!   mangled answers), whether hyper still calls the connection ready depends on whether it has
//!   read the close yet, and this client asks the socket again before any reuse
//!   (`Conn::is_open`): reuse is compared only for answers after which the connection stays open.
//! - An invalid `Content-Length` on a 204 or 304: this client refuses the answer (RFC 9112 §6.3
//!   item 5 read strictly), hyper ignores the field since the status says there is no body.
//! - A chunked answer in HTTP/1.0: hyper refuses it, this client reads it (the status decides
//!   the attempt) and never reuses the connection.
//! - A chunked answer in HTTP/1.0, or one carrying both `Transfer-Encoding` and
//!   `Content-Length`: this client never reuses the connection (its body may have been framed
//!   differently by whoever sent it, RFC 9112 §6.1), where hyper may.
//! - A control byte in a chunk's size line (in its extension, RFC 9112 §7.1.1 allows tokens
//!   and quoted text only): this client ends the body there as failed; hyper skips extension
//!   bytes up to the line's end. Only a damaged byte makes such a line here.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use proptest::prelude::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use url::Url;

use super::{ConnectionPool, Origin, Request};

/// The body cap both verdicts are compared under.
const CAP: usize = 64;
/// A patient bound on one exchange: only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(10);

/// How a generated answer delimits its body.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Framing {
    Length,
    Chunked,
    UntilClose,
}

/// A well-formed answer, before it is rendered and possibly damaged.
#[derive(Debug, Clone)]
struct Answer {
    http10: bool,
    interim: Vec<u16>,
    status: u16,
    fields: Vec<(String, String)>,
    connection: Option<&'static str>,
    framing: Framing,
    /// Also send `Content-Length` beside `Transfer-Encoding: chunked`.
    both_framings: bool,
    body: Vec<u8>,
    chunk: usize,
    extension: bool,
    trailers: Vec<(String, String)>,
}

/// What is done to the rendered answer.
#[derive(Debug, Clone)]
enum Damage {
    None,
    /// Cut after this share (per mille) of the bytes.
    Cut(u16),
    /// One byte replaced.
    Byte(u16, u8),
    /// Not the answer at all.
    Garbage(Vec<u8>),
}

impl Answer {
    fn empty_by_status(&self) -> bool {
        self.status == 204 || self.status == 304
    }

    fn render(&self) -> Vec<u8> {
        let version = if self.http10 { "HTTP/1.0" } else { "HTTP/1.1" };
        let mut wire = Vec::new();
        for status in &self.interim {
            wire.extend_from_slice(format!("{version} {status} Interim\r\n\r\n").as_bytes());
        }
        wire.extend_from_slice(format!("{version} {} Status\r\n", self.status).as_bytes());
        for (name, value) in &self.fields {
            wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
        }
        if let Some(connection) = self.connection {
            wire.extend_from_slice(format!("Connection: {connection}\r\n").as_bytes());
        }
        let body: &[u8] = if self.empty_by_status() {
            b""
        } else {
            &self.body
        };
        match self.framing {
            Framing::Length => {
                wire.extend_from_slice(
                    format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes(),
                );
                wire.extend_from_slice(body);
            }
            Framing::Chunked => {
                wire.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
                if self.both_framings {
                    wire.extend_from_slice(b"Content-Length: 3\r\n");
                }
                wire.extend_from_slice(b"\r\n");
                if !self.empty_by_status() {
                    for piece in body.chunks(self.chunk.max(1)) {
                        let extension = if self.extension { ";x=1" } else { "" };
                        wire.extend_from_slice(
                            format!("{:x}{extension}\r\n", piece.len()).as_bytes(),
                        );
                        wire.extend_from_slice(piece);
                        wire.extend_from_slice(b"\r\n");
                    }
                    wire.extend_from_slice(b"0\r\n");
                    for (name, value) in &self.trailers {
                        wire.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
                    }
                    wire.extend_from_slice(b"\r\n");
                }
            }
            Framing::UntilClose => {
                wire.extend_from_slice(b"\r\n");
                wire.extend_from_slice(body);
            }
        }
        wire
    }
}

fn answer() -> impl Strategy<Value = Answer> {
    let field = (
        prop::sample::select(vec!["X-Seen", "Content-Type", "Cache-Control", "x-a"]),
        "[a-zA-Z0-9 ;=/.-]{0,12}",
    )
        .prop_map(|(name, value)| (name.to_owned(), value.trim().to_owned()));
    let status = prop_oneof![
        prop::sample::select(vec![200u16, 201, 202, 204, 304, 400, 404, 410, 500, 503]),
        200u16..600,
    ];
    (
        (
            prop::bool::weighted(0.15),
            prop::collection::vec(prop::sample::select(vec![100u16, 102, 103]), 0..3),
            status,
            prop::collection::vec(field.clone(), 0..4),
            prop::sample::select(vec![None, Some("close"), Some("keep-alive")]),
        ),
        (
            prop::sample::select(vec![Framing::Length, Framing::Chunked, Framing::UntilClose]),
            prop::bool::weighted(0.1),
            prop::collection::vec(any::<u8>(), 0..100),
            1usize..40,
            any::<bool>(),
            prop::collection::vec(field, 0..3),
        ),
    )
        .prop_map(
            |(
                (http10, interim, status, fields, connection),
                (framing, both_framings, body, chunk, extension, trailers),
            )| Answer {
                http10,
                interim,
                status,
                fields,
                connection,
                framing,
                both_framings,
                body,
                chunk,
                extension,
                trailers,
            },
        )
}

fn damage() -> impl Strategy<Value = Damage> {
    prop_oneof![
        6 => Just(Damage::None),
        2 => (0u16..1000).prop_map(Damage::Cut),
        2 => (0u16..1000, any::<u8>()).prop_map(|(at, byte)| Damage::Byte(at, byte)),
        1 => prop::collection::vec(any::<u8>(), 0..200).prop_map(Damage::Garbage),
    ]
}

/// What a client made of an answer.
#[derive(Debug, Clone, PartialEq)]
enum Verdict {
    /// No answer: the head was refused or never complete.
    Refused,
    Answered {
        status: u16,
        /// The body as read (this client: at most the cap).
        body: Vec<u8>,
        /// Whether the body ended in an error.
        body_failed: bool,
        /// Whether the connection may carry another request.
        reusable: bool,
    },
}

/// Serves one connection: reads the request, writes `wire`, then closes at once (`close`) or
/// waits for the client to close first.
async fn serve_once(listener: &TcpListener, wire: Vec<u8>, close: bool) {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut request = Vec::new();
    let mut buffer = [0u8; 1024];
    while !request.windows(6).any(|w| w == b"\r\n\r\n{}") {
        match socket.read(&mut buffer).await {
            Ok(0) | Err(_) => return,
            Ok(read) => request.extend_from_slice(&buffer[..read]),
        }
    }
    if socket.write_all(&wire).await.is_err() || close {
        return;
    }
    // The client closes when it is done; anything it sends meanwhile is drained.
    while matches!(socket.read(&mut buffer).await, Ok(read) if read > 0) {}
}

async fn ours(url: &Url) -> Verdict {
    let pool = ConnectionPool::new(Duration::from_secs(30));
    let headers = vec![];
    let request = Request {
        target: "/hook",
        host: &url[url::Position::BeforeHost..url::Position::BeforePath],
        headers: &headers,
        body: b"{}",
        connect_timeout: PATIENCE,
    };
    match pool
        .round_trip(&Origin::of(url).unwrap(), &request, CAP)
        .await
    {
        Err(_) => Verdict::Refused,
        Ok(reply) => Verdict::Answered {
            status: reply.status,
            body: reply.body,
            body_failed: reply.body_error.is_some(),
            reusable: pool.idle_count() == 1,
        },
    }
}

async fn hyper(url: &Url) -> Verdict {
    let address = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap());
    let stream = TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .unwrap();
    let driver = tokio::spawn(connection);
    let request = http::Request::post("/hook")
        .header(
            "host",
            &url[url::Position::BeforeHost..url::Position::BeforePath],
        )
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let verdict = match sender.send_request(request).await {
        Err(_) => Verdict::Refused,
        Ok(response) => {
            let status = response.status().as_u16();
            let mut body_stream = response.into_body();
            let mut body = Vec::new();
            let mut body_failed = false;
            while let Some(frame) = body_stream.frame().await {
                match frame {
                    Ok(frame) => body.extend_from_slice(frame.data_ref().map_or(&[][..], |d| d)),
                    Err(_) => {
                        body_failed = true;
                        break;
                    }
                }
            }
            let reusable = !body_failed
                && tokio::time::timeout(PATIENCE, sender.ready())
                    .await
                    .is_ok_and(|ready| ready.is_ok());
            Verdict::Answered {
                status,
                body,
                body_failed,
                reusable,
            }
        }
    };
    drop(sender);
    driver.abort();
    verdict
}

/// Both clients' verdicts on `wire`, each over its own loopback connection.
async fn verdicts(wire: Vec<u8>, close: bool) -> (Verdict, Verdict) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = Url::parse(&format!("http://{}/hook", listener.local_addr().unwrap())).unwrap();
    let server = tokio::spawn(async move {
        serve_once(&listener, wire.clone(), close).await;
        serve_once(&listener, wire, close).await;
    });
    let ours = tokio::time::timeout(PATIENCE, ours(&url))
        .await
        .expect("this client hung");
    let hyper = tokio::time::timeout(PATIENCE, hyper(&url))
        .await
        .expect("hyper hung");
    tokio::time::timeout(PATIENCE, server)
        .await
        .expect("the server hung")
        .unwrap();
    (ours, hyper)
}

/// Checks the two verdicts against the rules above.
fn compare(answer: &Answer, wire: &[u8], damage: &Damage, ours: &Verdict, hyper: &Verdict) {
    let damaged = !matches!(damage, Damage::None);
    let chunked = answer.framing == Framing::Chunked;
    let lowercase = wire.to_ascii_lowercase();
    let contains = |text: &[u8]| lowercase.windows(text.len()).any(|w| w == text);
    if contains(b"http/1.0") && contains(b"transfer-encoding") && *hyper == Verdict::Refused {
        // hyper refuses `Transfer-Encoding` in an HTTP/1.0 answer; this client reads the chunks
        // and keeps the answer (its status decides the attempt) but never the connection.
        assert!(
            matches!(
                ours,
                Verdict::Refused
                    | Verdict::Answered {
                        reusable: false,
                        ..
                    }
            ),
            "HTTP/1.0 chunked"
        );
        return;
    }
    if let (Verdict::Refused, Verdict::Answered { status, .. }) = (ours, hyper)
        && (*status == 204 || *status == 304)
        && contains(b"content-length")
    {
        // Our stricter rule: an invalid `Content-Length` is refused even where the status says
        // there is no body; hyper ignores the field there.
        return;
    }
    if let (
        Damage::Byte(_, byte),
        Verdict::Answered {
            status,
            body,
            body_failed: true,
            ..
        },
        Verdict::Answered {
            status: hyper_status,
            body: hyper_body,
            body_failed: false,
            ..
        },
    ) = (damage, ours, hyper)
        && chunked
        && (byte.is_ascii_control() && *byte != b'\t' && *byte != b'\r' && *byte != b'\n')
        && status == hyper_status
        && hyper_body.starts_with(body)
    {
        // Our stricter rule: a control byte in a chunk line ends the body as failed.
        return;
    }
    match (ours, hyper) {
        (Verdict::Refused, Verdict::Refused) => {}
        (
            Verdict::Answered {
                status,
                body,
                body_failed,
                reusable,
            },
            Verdict::Answered {
                status: hyper_status,
                body: hyper_body,
                body_failed: hyper_failed,
                reusable: hyper_reusable,
            },
        ) => {
            assert_eq!(status, hyper_status, "status");
            let over_cap = hyper_body.len() > CAP;
            assert_eq!(
                &body[..],
                &hyper_body[..hyper_body.len().min(CAP)],
                "body (up to the cap)"
            );
            if over_cap {
                // Our rule: the rest is not read, the connection is not reused.
                assert!(!reusable, "reused after a body over the cap");
                return;
            }
            assert_eq!(body_failed, hyper_failed, "whether the body ended early");
            if damaged || answer.framing == Framing::UntilClose && !answer.empty_by_status() {
                // The subscriber closed: hyper's readiness races with the close.
                return;
            }
            if chunked && (answer.http10 || answer.both_framings) {
                // Our stricter rule: never reuse after an ambiguous framing.
                assert!(!reusable, "reused after an ambiguous framing");
                return;
            }
            assert_eq!(
                reusable, hyper_reusable,
                "whether the connection is reusable"
            );
        }
        _ => panic!("one client refused the answer and the other did not"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn this_client_and_hyper_reach_the_same_verdicts(answer in answer(), damage in damage()) {
        let mut wire = answer.render();
        let damaged = !matches!(damage, Damage::None);
        match &damage {
            Damage::None => {}
            Damage::Cut(share) => wire.truncate(wire.len() * usize::from(*share) / 1000),
            Damage::Byte(at, byte) => {
                let at = wire.len() * usize::from(*at) / 1000;
                wire[at] = *byte;
            }
            Damage::Garbage(bytes) => wire.clone_from(bytes),
        }
        // The connection stays open only after an answer that delimits itself, so neither client
        // waits for more.
        let close = damaged
            || (answer.framing == Framing::UntilClose && !answer.empty_by_status());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (ours, hyper) = runtime.block_on(verdicts(wire.clone(), close));
        let shown = String::from_utf8_lossy(&wire).into_owned();
        let outcome = std::panic::catch_unwind(|| compare(&answer, &wire, &damage, &ours, &hyper));
        prop_assert!(
            outcome.is_ok(),
            "verdicts differ on {shown:?}\nours:  {ours:?}\nhyper: {hyper:?}"
        );
    }
}
