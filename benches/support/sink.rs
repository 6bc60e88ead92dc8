//! A subscriber that costs almost nothing, shared by the benches that need one.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The answer to every request.
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";

/// Starts the sink on a thread of its own, named `name` (its CPU time is then the sink's), on a
/// current-thread runtime; returns its loopback port.
#[allow(
    dead_code,
    reason = "not every bench that includes this file starts the sink this way"
)]
pub fn start_on_thread(name: &str) -> u16 {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).expect("bind the sink");
    let port = listener.local_addr().expect("sink address").port();
    listener.set_nonblocking(true).expect("nonblocking");
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .expect("sink runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("sink listener");
                sink(listener).await;
            });
        })
        .expect("sink thread");
    port
}

/// A keep-alive HTTP/1.1 sink: reads each request (head, then `Content-Length` bytes) and
/// answers `200` with an empty body. No allocation per request: one buffer per connection,
/// the head scanned in place.
pub async fn sink(listener: TcpListener) {
    loop {
        let Ok((mut socket, _)) = listener.accept().await else {
            return;
        };
        let _ = socket.set_nodelay(true);
        tokio::spawn(async move {
            let mut buffer = vec![0u8; 16 * 1024];
            let (mut filled, mut scanned) = (0usize, 0usize);
            loop {
                // Answer every complete request in the buffer (pipelined ones in one write).
                let mut answers = 0usize;
                while let Some(end) = complete_request(&buffer[..filled], &mut scanned) {
                    buffer.copy_within(end..filled, 0);
                    filled -= end;
                    scanned = 0;
                    answers += 1;
                }
                if answers > 0 {
                    let all = ANSWER.repeat(answers);
                    if socket.write_all(&all).await.is_err() {
                        return;
                    }
                }
                if filled == buffer.len() {
                    buffer.resize(buffer.len() * 2, 0);
                }
                match socket.read(&mut buffer[filled..]).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => filled += n,
                }
            }
        });
    }
}

/// The length of the first complete request in `bytes` (head and `Content-Length` body), if
/// it is all there. `scanned` remembers how far the search for the head's end has looked.
fn complete_request(bytes: &[u8], scanned: &mut usize) -> Option<usize> {
    let from = scanned.saturating_sub(3);
    let head_end = bytes[from..]
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| from + at + 4);
    let Some(head_end) = head_end else {
        *scanned = bytes.len();
        return None;
    };
    let length = content_length(&bytes[..head_end]);
    (bytes.len() >= head_end + length).then_some(head_end + length)
}

/// The `Content-Length` of a request head (0 when absent or unreadable).
fn content_length(head: &[u8]) -> usize {
    const NAME: &[u8] = b"content-length:";
    head.split(|b| *b == b'\n')
        .find(|line| line.len() > NAME.len() && line[..NAME.len()].eq_ignore_ascii_case(NAME))
        .and_then(|line| std::str::from_utf8(&line[NAME.len()..]).ok())
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}
