//! A consumer's own tests written with `inboxkit_mock::testkit`, against the example correct
//! consumer (`examples/consumers/correct.rs`). Run them with:
//!
//! ```text
//! cargo test --example testkit
//! ```
//!
//! `cargo run --example testkit` runs one lifecycle under each contract profile and prints the
//! journal.

#[path = "consumers/correct.rs"]
mod correct;

use std::net::TcpListener;
use std::time::Duration;

use inboxkit_mock::testkit::{MockBuilder, MockInboxKit, Profile};

/// The webhook secret the consumer and the mock share (seed profile).
const SECRET: &str = "whsec_example_consumer";
/// The team API key the consumer and the mock share (current profile).
const API_KEY: &str = "ik_example_consumer";

/// The key the consumer verifies with under `profile`.
fn key_for(profile: Profile) -> correct::Key {
    match profile {
        Profile::Seed => correct::Key::WebhookSecret(SECRET.to_owned()),
        Profile::Current => correct::Key::ApiKey(API_KEY.to_owned()),
    }
}

/// A mock sending to `webhook` under `profile`, with the keys the consumer has.
fn mock_for(webhook: &str, profile: Profile) -> MockBuilder {
    MockInboxKit::builder(webhook)
        .profile(profile)
        .secret(SECRET)
        .api_key(API_KEY)
}

/// Starts the consumer on a free loopback port; returns its webhook and processed-count URLs.
fn start_consumer(key: correct::Key) -> (String, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let addr = listener.local_addr().expect("a bound address");
    let server = correct::start(listener, key).expect("the consumer starts");
    tokio::spawn(server);
    (
        format!("http://{addr}/webhook"),
        format!("http://{addr}/processed"),
    )
}

/// What the consumer says it processed.
async fn processed(url: &str) -> u64 {
    let answer: serde_json::Value = reqwest::get(url)
        .await
        .expect("the consumer answers")
        .json()
        .await
        .expect("a JSON answer");
    answer["processed"].as_u64().unwrap_or_default()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    for profile in [Profile::Seed, Profile::Current] {
        let (webhook, processed_url) = start_consumer(key_for(profile));
        let mock = mock_for(&webhook, profile).start().await;
        let domain = mock
            .register_domain("acme.com")
            .await
            .expect("a new domain");
        mock.buy_mailbox("ada", "acme.com")
            .await
            .expect("a mailbox on it");
        let fired = mock.advance(Duration::from_secs(3600)).await.steps_fired;
        mock.wait_for_deliveries(fired).await;
        println!(
            "{profile:?} profile: {domain} is {:?}",
            mock.status_of(&domain)
        );
        for record in mock.deliveries() {
            println!(
                "  {} {} -> {:?}",
                record.event,
                record.status.unwrap_or_default(),
                record.state
            );
        }
        println!(
            "  the consumer processed {}",
            processed(&processed_url).await
        );
    }
}

#[cfg(test)]
mod tests {
    use inboxkit_mock::testkit::{DeliveryMatcher, EventType, TerminalState};
    use serde_json::json;

    use super::*;

    #[tokio::test]
    async fn every_step_of_a_domain_and_a_mailbox_is_accepted_and_processed() {
        let (webhook, processed_url) = start_consumer(key_for(Profile::Seed));
        let mock = mock_for(&webhook, Profile::Seed).start().await;
        let domain = mock.register_domain("acme.com").await.unwrap();
        let mailbox = mock.buy_mailbox("ada", "acme.com").await.unwrap();
        let fired = mock.advance(Duration::from_secs(3600)).await.steps_fired;
        mock.wait_for_deliveries(fired).await;

        mock.assert_count(TerminalState::Delivered, 10);
        mock.assert_one(
            DeliveryMatcher::any()
                .uid(&domain)
                .status("active")
                .codes([200]),
        );
        mock.assert_one(DeliveryMatcher::any().uid(&mailbox).status("active"));
        assert_eq!(processed(&processed_url).await, 10);
    }

    #[tokio::test]
    async fn a_wrong_secret_is_refused_with_401_and_never_retried() {
        let wrong = correct::Key::WebhookSecret("not the mock's secret".to_owned());
        let (webhook, processed_url) = start_consumer(wrong);
        let mock = mock_for(&webhook, Profile::Seed).start().await;
        mock.trigger(EventType::DomainStatusChanged).unwrap();
        mock.wait_for_deliveries(1).await;
        mock.assert_one(
            DeliveryMatcher::any()
                .state(TerminalState::Rejected)
                .codes([401]),
        );
        assert_eq!(processed(&processed_url).await, 0);
    }

    #[tokio::test]
    async fn an_exact_repeat_is_acknowledged_but_processed_once() {
        let (webhook, processed_url) = start_consumer(key_for(Profile::Seed));
        let mock = mock_for(&webhook, Profile::Seed).start().await;
        let same = [
            ("data.domain.uid", json!("domain-abcdefabcdef")),
            ("data.domain.status", json!("active")),
        ];
        for _ in 0..2 {
            let id = mock
                .trigger_with(EventType::DomainStatusChanged, same.clone())
                .unwrap();
            mock.wait_for_delivery(&id).await;
        }
        mock.assert_count(
            DeliveryMatcher::any()
                .uid("domain-abcdefabcdef")
                .state(TerminalState::Delivered),
            2,
        );
        assert_eq!(processed(&processed_url).await, 1);
    }

    #[tokio::test]
    async fn under_the_current_profile_the_api_key_signature_is_accepted() {
        let (webhook, processed_url) = start_consumer(key_for(Profile::Current));
        let mock = mock_for(&webhook, Profile::Current).start().await;
        mock.trigger(EventType::MailboxStatusChanged).unwrap();
        mock.wait_for_deliveries(1).await;
        mock.assert_delivered(EventType::MailboxStatusChanged);
        assert_eq!(processed(&processed_url).await, 1);
    }
}
