//! A harness for your own Rust tests: a mock InboxKit, in-process, that sends signed
//! webhooks to the app under test and lets the test drive and check them.
//!
//! Start it in one line pointed at your webhook endpoint, make events (a direct trigger, or a
//! domain or mailbox whose lifecycle then runs), move its paused clock to fire lifecycle steps
//! and retries without waiting, and assert on the journal of deliveries. Failures say what was
//! expected and list what was actually sent (event, uid, status, state, attempts' codes).
//!
//! ```
//! use std::time::Duration;
//!
//! use inboxkit_mock::testkit::{DeliveryMatcher, EventType, MockInboxKit, TerminalState};
//! use wiremock::matchers::method;
//! use wiremock::{Mock, MockServer, ResponseTemplate};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // The app under test: its webhook endpoint fails once, then accepts.
//! let app = MockServer::start().await;
//! Mock::given(method("POST"))
//!     .respond_with(ResponseTemplate::new(500))
//!     .up_to_n_times(1)
//!     .mount(&app)
//!     .await;
//! Mock::given(method("POST"))
//!     .respond_with(ResponseTemplate::new(200))
//!     .mount(&app)
//!     .await;
//!
//! let mock = MockInboxKit::start(format!("{}/webhooks/inboxkit", app.uri())).await;
//! mock.trigger(EventType::DomainStatusChanged)?;
//! // The clock is paused: the retry 10 s later happens when the test moves it.
//! mock.advance(Duration::from_secs(10)).await;
//! mock.wait_for_deliveries(1).await;
//! mock.assert_one(
//!     DeliveryMatcher::event(EventType::DomainStatusChanged)
//!         .state(TerminalState::Delivered)
//!         .codes([500, 200]),
//! );
//!
//! // A lifecycle: registered, DNS propagation after 2 minutes, active 15 minutes later. One
//! // advance walks both steps in order, each sent at its own instant.
//! let start = mock.now();
//! let domain = mock.register_domain("acme.com").await?;
//! let walked = mock.advance(Duration::from_secs(17 * 60)).await;
//! assert_eq!((walked.steps_fired, walked.attempts_made), (2, 2));
//! mock.wait_for(DeliveryMatcher::any().uid(&domain).status("active")).await;
//! assert_eq!(mock.status_of(&domain).as_deref(), Some("active"));
//! let steps: Vec<_> = mock
//!     .deliveries()
//!     .into_iter()
//!     .filter(|d| d.entity_uid.as_deref() == Some(domain.as_str()))
//!     .map(|d| (d.status.unwrap_or_default(), d.attempts[0].started_at.instant()))
//!     .collect();
//! let at = |minutes: i64| start + chrono::TimeDelta::minutes(minutes);
//! assert_eq!(
//!     steps,
//!     [
//!         ("waiting_for_dns_propagation".to_owned(), at(2)),
//!         ("active".to_owned(), at(17)),
//!     ]
//! );
//! # Ok(())
//! # }
//! ```
//!
//! The consumer verifies signatures with [`MockInboxKit::secret`] (or [`MockInboxKit::signer`]
//! under any profile) and can call the mock REST API at [`MockInboxKit::rest_url`] with
//! [`MockInboxKit::api_key`]. The mock stops when dropped; [`MockInboxKit::stop`] stops it
//! gracefully and returns the tally.
//!
//! Time: the mock's own clock is paused, so lifecycle steps and retries wait for
//! [`MockInboxKit::advance`], which walks the timeline like `serve`'s advance: each step and
//! retry at its due instant, in order, each instant's attempts answered before the next (so an
//! entity's webhooks arrive in the order of its changes). Waits and advances fail after [`MockBuilder::wait_timeout`] of real time (plus the
//! subscriber deadline while an attempt is running), with the journal in the message. Do not
//! pause Tokio's own time (`start_paused`): the harness waits on real HTTP.

mod assertions;
mod builder;
mod error;
mod matcher;
mod mock;
mod table;
mod waiting;

pub use builder::{
    DEFAULT_API_KEY, DEFAULT_SECRET, DEFAULT_SEED, DEFAULT_WAIT, MockBuilder, default_start_time,
};
pub use error::TestkitError;
pub use matcher::DeliveryMatcher;
pub use mock::MockInboxKit;

pub use crate::contract::{EventType, Profile};
pub use crate::delivery::{DeliveryId, DeliveryRecord, DeliveryState, TerminalState};
