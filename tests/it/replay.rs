//! `replay`: recorded deliveries sent again byte for byte (or re-signed), in order, under the
//! retry policy; bad lines stop it before anything is sent.

use std::time::Duration;

use chrono::{DateTime, Utc};
use inboxkit_mock::contract::{Profile, Secret, SignatureScheme, Signer};
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver};
use inboxkit_mock::recording::load;

use crate::recording::{fixture, received, record_mock_traffic};
use crate::support::{run_cli, server_answering};

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[tokio::test]
async fn a_replay_reproduces_bodies_and_signatures_byte_for_byte() {
    for profile in [Profile::Seed, Profile::Current] {
        let file = record_mock_traffic(profile, true).await;
        let recorded = load(&file.0, false).unwrap().requests;
        let server = server_answering(200).await;
        let (code, stdout, stderr) = run_cli(
            &["replay", file.0.to_str().unwrap(), "--to", &server.uri()],
            b"",
        )
        .await;
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains("4 delivered"), "{stdout}");
        let replayed = received(&server).await;
        assert_eq!(replayed.len(), recorded.len());
        for (numbered, (_, _, headers, body)) in recorded.iter().zip(&replayed) {
            let original = &numbered.request;
            assert_eq!(
                body,
                &original.body_bytes().unwrap(),
                "line {}",
                numbered.line
            );
            for name in [
                "x-inboxkit-signature",
                "x-inboxkit-event",
                "content-type",
                "user-agent",
            ] {
                assert_eq!(
                    header(headers, name),
                    original.header(name),
                    "{profile:?} line {}: {name}",
                    numbered.line
                );
            }
        }
    }
}

#[tokio::test]
async fn resign_signs_with_the_local_key() {
    let path = fixture("seed-example.jsonl");
    let original = load(&path, false).unwrap().requests.remove(0).request;
    let server = server_answering(200).await;
    let (code, stdout, stderr) = run_cli(
        &[
            "replay",
            path.to_str().unwrap(),
            "--to",
            &server.uri(),
            "--resign",
            "--secret",
            "a-local-secret",
        ],
        b"",
    )
    .await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let replayed = received(&server).await;
    let (_, _, headers, body) = &replayed[0];
    assert_eq!(body, &original.body_bytes().unwrap());
    let signature = header(headers, "x-inboxkit-signature");
    assert_ne!(signature, original.header("x-inboxkit-signature"));
    let local = Signer::new(SignatureScheme::HmacBody, Secret::new("a-local-secret"));
    assert!(local.verify(body, signature).is_ok());
    assert!(!stdout.contains("a-local-secret") && !stderr.contains("a-local-secret"));
}

#[tokio::test]
async fn the_retry_policy_applies_and_the_exit_code_says_so() {
    let server = server_answering(503).await;
    let path = fixture("seed-example.jsonl");
    let (code, stdout, stderr) = run_cli(
        &[
            "replay",
            path.to_str().unwrap(),
            "--to",
            &server.uri(),
            "--retry-delays",
            "1s,1s",
            "--time-scale",
            "100",
        ],
        b"",
    )
    .await;
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stdout.contains("exhausted"), "{stdout}");
    assert_eq!(received(&server).await.len(), 3, "1 attempt + 2 retries");
}

#[tokio::test]
async fn a_corrupt_line_stops_the_replay_before_anything_is_sent() {
    let server = server_answering(200).await;
    let path = fixture("corrupt.jsonl");
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = run_cli(&["replay", path, "--to", &server.uri()], b"").await;
    assert_eq!(code, 64, "{stdout}{stderr}");
    assert!(stderr.contains("line 2"), "{stderr}");
    assert_eq!(received(&server).await.len(), 0, "nothing is sent");

    let (code, stdout, stderr) =
        run_cli(&["replay", path, "--to", &server.uri(), "--skip-bad"], b"").await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("skipped line 2"), "{stderr}");
    let replayed = received(&server).await;
    let uids: Vec<String> = replayed
        .iter()
        .map(|(_, _, _, body)| {
            let value: serde_json::Value = serde_json::from_slice(body).unwrap();
            value["data"]["domain"]["uid"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        uids,
        ["domain-xyz789ghi012", "domain-second000001"],
        "in order"
    );
}

/// The real gap between the two requests a receiver got, from its arrival stamps.
async fn gap_between_two_arrivals(args: &[&str]) -> Duration {
    let receiver = RunningReceiver::start_local(ReceiverConfig::default()).unwrap();
    let path = fixture("renamed-field.jsonl");
    let url = receiver.webhook_url().to_string();
    let mut all = vec!["replay", path.to_str().unwrap(), "--to", url.as_str()];
    all.extend_from_slice(args);
    let (code, stdout, stderr) = run_cli(&all, b"").await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let arrivals: Vec<DateTime<Utc>> = receiver
        .store()
        .all()
        .iter()
        .map(|r| {
            DateTime::parse_from_rfc3339(&r.received_at)
                .unwrap()
                .to_utc()
        })
        .collect();
    receiver.stop().await;
    assert_eq!(arrivals.len(), 2);
    (arrivals[1] - arrivals[0]).to_std().unwrap()
}

#[tokio::test]
async fn keep_spacing_waits_the_recorded_gaps_scaled() {
    // The two lines were received 1.333 s apart; at time scale 10 that is 133 ms between the
    // sends. Arrivals can be closer by the first request's extra cost (a new connection on a
    // loaded machine), so the lower bound leaves 50 ms; no spacing at all would be ~1 ms. The
    // upper bound is well below the unscaled gap, so a replay ignoring the scale fails too.
    let gap = gap_between_two_arrivals(&["--keep-spacing", "--time-scale", "10"]).await;
    assert!(
        gap >= Duration::from_millis(83) && gap < Duration::from_millis(1000),
        "{gap:?}"
    );
}

#[tokio::test]
async fn rate_spaces_the_sends() {
    // Two deliveries at 5 per second: the second is due 200 ms after the first (arrivals may be
    // closer by the first request's connection set-up); at 1 per second (a misread rate) 1 s.
    let gap = gap_between_two_arrivals(&["--rate", "5/s"]).await;
    assert!(
        gap >= Duration::from_millis(150) && gap < Duration::from_millis(900),
        "{gap:?}"
    );
}
