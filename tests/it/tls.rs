//! https subscribers: a self-signed certificate is refused and journaled, unless `--insecure`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use inboxkit_mock::delivery::transport::TransportOptions;
use inboxkit_mock::delivery::{AttemptOutcome, DeliveryState, Sender, SenderOptions};
use inboxkit_mock::simulation::Clock;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;

use crate::support::*;

/// An https subscriber with a fresh self-signed certificate for 127.0.0.1 that answers 200 to
/// every complete request; returns its URL and the count of requests it answered.
async fn self_signed_subscriber() -> (String, Arc<AtomicUsize>) {
    let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://{}/webhook", listener.local_addr().unwrap());
    let answered = Arc::new(AtomicUsize::new(0));
    let counter = answered.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let counter = counter.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake here.
                let Ok(mut stream) = acceptor.accept(socket).await else {
                    return;
                };
                while read_request(&mut stream).await {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
                    if stream.write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, answered)
}

/// Reads one request (head and `content-length` body); false at the end of the stream.
async fn read_request<S: AsyncReadExt + Unpin>(stream: &mut S) -> bool {
    let mut data = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|line| line.strip_prefix("content-length:"))
                .and_then(|value| value.trim().parse().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return true;
            }
        }
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    }
}

fn sender_with(insecure: bool) -> Sender {
    let options = SenderOptions {
        transport: TransportOptions { insecure },
        ..SenderOptions::default()
    };
    Sender::new(Clock::scaled(FAST).unwrap(), options).unwrap()
}

#[tokio::test]
async fn a_self_signed_certificate_is_refused_retried_and_named_in_the_journal() {
    let (url, answered) = self_signed_subscriber().await;
    let record = sender_with(false)
        .deliver(patient_subscriber(&url), domain_event())
        .await;
    assert_eq!(record.state, DeliveryState::Exhausted);
    assert_eq!(record.attempts.len(), 4, "retried like a connection error");
    for attempt in &record.attempts {
        assert_eq!(attempt.outcome, AttemptOutcome::TlsError);
        assert!(attempt.response.is_none());
        let error = attempt.error.as_deref().unwrap_or_default();
        assert!(
            error.contains("certificate"),
            "error names the cause: {error}"
        );
    }
    assert_eq!(answered.load(Ordering::SeqCst), 0, "no request got through");
}

#[tokio::test]
async fn insecure_accepts_the_self_signed_certificate() {
    let (url, answered) = self_signed_subscriber().await;
    let record = sender_with(true)
        .deliver(patient_subscriber(&url), domain_event())
        .await;
    assert_eq!(record.state, DeliveryState::Delivered);
    assert_eq!(record.attempts.len(), 1);
    assert_eq!(record.attempts[0].response.as_ref().unwrap().status, 200);
    assert_eq!(answered.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn send_insecure_flag_reaches_the_transport() {
    let (url, answered) = self_signed_subscriber().await;
    // Real time with short retry delays: the 10 s deadline stays long on a busy machine.
    let common = [
        "send",
        "--to",
        &url,
        "--secret",
        SECRET,
        "--retry-delays",
        "10ms,10ms,10ms",
    ];
    let (code, stdout, _) = run_cli(&common, b"").await;
    assert_eq!(code, 2, "refused certificate: retries exhausted\n{stdout}");
    assert!(stdout.contains("tls_error"), "{stdout}");
    let (code, stdout, stderr) = run_cli(&[&common[..], &["--insecure"]].concat(), b"").await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(answered.load(Ordering::SeqCst), 1);
}
