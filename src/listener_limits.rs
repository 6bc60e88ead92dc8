//! Limits every listener applies (`serve`, its built-in receiver, `receive`), so slow or
//! numerous clients cannot hold the server: a deadline on reading a request's head and on
//! reading its body, and a cap on open connections.
//!
//! A body that has not fully arrived [`BODY_TIMEOUT`] after its head is cut: the handler sees a
//! timed-out read (the control and REST APIs answer 408 `request_timeout`) and the connection
//! closes. Past [`MAX_CONNECTIONS`] open connections a listener stops accepting until one
//! closes; with the deadlines, a slot frees within [`BODY_TIMEOUT`] even under a slowloris
//! attack, so health probes are answered late, never starved. All values are chosen (no
//! InboxKit documentation applies).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::HttpMessage;
use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use bytes::Bytes;
use futures::Stream;

/// How long a request's head may take to arrive once the connection is open (actix's
/// `client_request_timeout`).
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a request's body may take to arrive after its head.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(10);
/// Open connections a listener holds at most (split across its workers).
pub const MAX_CONNECTIONS: usize = 512;
/// How long the server waits for a client to acknowledge the end of a connection.
pub const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// The per-worker share of [`MAX_CONNECTIONS`] (at least 16).
pub fn connections_per_worker(workers: usize) -> usize {
    (MAX_CONNECTIONS / workers.max(1)).max(16)
}

/// Whether a payload error is the body deadline of [`with_deadline`].
pub fn timed_out(error: &PayloadError) -> bool {
    matches!(error, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut)
}

/// A request body that fails with a timed-out read once `deadline` passes.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
    done: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(None) => {
                self.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(item)) => return Poll::Ready(Some(item)),
            Poll::Pending => {}
        }
        if self.sleep.as_mut().poll(cx).is_ready() {
            self.done = true;
            let message = format!(
                "the request body did not arrive within {} s",
                self.limit.as_secs()
            );
            return Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                message,
            )))));
        }
        Poll::Pending
    }
}

/// Middleware (wrap it with `from_fn` and a closure giving `limit`, normally [`BODY_TIMEOUT`]):
/// the request's body must arrive within `limit` of its head.
pub async fn with_deadline(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    limit: Duration,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let inner = request.take_payload();
    let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(Deadline {
        inner,
        sleep: Box::pin(tokio::time::sleep(limit)),
        limit,
        done: false,
    });
    request.set_payload(Payload::from(stream));
    next.call(request).await
}
