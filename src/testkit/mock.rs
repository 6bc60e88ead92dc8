//! [`MockInboxKit`]: a running mock, what it exposes, and the actions that make events.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::error::TestkitError;
use crate::contract::overrides::apply_all;
use crate::contract::{EventType, FieldOverride, Platform, Signer};
use crate::delivery::{DeliveryId, Journal, OutgoingEvent};
use crate::model::world::MailboxOrder;
use crate::server::{AppState, RunningServer, ShutdownTally};
use crate::simulation::Clock;
use crate::simulation::sample::sample_envelope;

/// The workspace every harness action addresses (the mock's first and only workspace).
const WORKSPACE: u16 = 0;

/// A mock InboxKit delivering signed webhooks to the app under test; stops when dropped.
///
/// Start one with [`MockInboxKit::start`] or [`MockInboxKit::builder`]; make events with
/// [`trigger`](MockInboxKit::trigger), [`register_domain`](MockInboxKit::register_domain),
/// [`buy_mailbox`](MockInboxKit::buy_mailbox) and [`transition`](MockInboxKit::transition);
/// move its clock with [`advance`](MockInboxKit::advance); then wait and assert on the journal
/// with [`wait_for_deliveries`](MockInboxKit::wait_for_deliveries) and
/// [`assert_one`](MockInboxKit::assert_one).
///
/// The app under test can also call the mock's InboxKit REST API at
/// [`rest_url`](MockInboxKit::rest_url) with [`api_key`](MockInboxKit::api_key):
///
/// ```
/// use inboxkit_mock::testkit::MockInboxKit;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mock = MockInboxKit::start("http://127.0.0.1:9/hook").await;
/// let answer: serde_json::Value = reqwest::Client::new()
///     .get(format!("{}/workspaces/list", mock.rest_url()))
///     .bearer_auth(mock.api_key())
///     .send()
///     .await?
///     .json()
///     .await?;
/// assert_eq!(answer["workspaces"][0]["uid"], mock.workspace_id());
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct MockInboxKit {
    server: Option<RunningServer>,
    secret: String,
    api_key: String,
    pub(super) wait: Duration,
}

impl MockInboxKit {
    pub(super) fn new(
        server: RunningServer,
        secret: String,
        api_key: String,
        wait: Duration,
    ) -> Self {
        MockInboxKit {
            server: Some(server),
            secret,
            api_key,
            wait,
        }
    }

    /// The in-process server.
    pub fn server(&self) -> &RunningServer {
        self.server
            .as_ref()
            .expect("the server runs until the mock is stopped or dropped")
    }

    pub(super) fn state(&self) -> &AppState {
        self.server().state()
    }

    /// `http://127.0.0.1:PORT`: the control API is under `/_mock`.
    pub fn base_url(&self) -> String {
        self.server().base_url()
    }

    /// The InboxKit REST API's base, `http://127.0.0.1:PORT/v1/api`, for the app under test.
    pub fn rest_url(&self) -> String {
        format!("{}/v1/api", self.base_url())
    }

    /// The team API key the REST API expects as `Authorization: Bearer`.
    pub fn api_key(&self) -> &str {
        &self.api_key
    }

    /// The webhook secret, for the app's signature verifier (seed profile, `hmac-body`).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// The signer deliveries are signed with, whatever the profile: `verify` checks a body and
    /// its `X-InboxKit-Signature` the way a correct consumer does.
    pub fn signer(&self) -> Signer {
        self.state().settings().signer(None)
    }

    /// The id of the workspace every event belongs to (`X-Workspace-Id` of REST calls).
    pub fn workspace_id(&self) -> String {
        self.state()
            .with_world(|w| w.workspaces()[usize::from(WORKSPACE)].id.clone())
    }

    /// The simulated clock.
    pub fn clock(&self) -> &Clock {
        self.state().clock()
    }

    /// Simulated now.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock().now()
    }

    /// The journal of every delivery and attempt.
    pub fn journal(&self) -> &Journal {
        self.state().sender().journal()
    }

    /// Sends one typical event of `event` now (a domain or mailbox becoming `active`, a request
    /// `completed`); returns its delivery id at once, the delivery runs in the background.
    pub fn trigger(&self, event: EventType) -> Result<DeliveryId, TestkitError> {
        self.trigger_with(event, std::iter::empty::<(&str, Value)>())
    }

    /// Like [`MockInboxKit::trigger`], with fields of the body set before signing: each path
    /// is dot-separated (`data.domain.status`, array elements by index), the value any JSON.
    ///
    /// ```
    /// use inboxkit_mock::testkit::{EventType, MockInboxKit};
    /// use serde_json::json;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mock = MockInboxKit::start("http://127.0.0.1:9/hook").await;
    /// let id = mock.trigger_with(
    ///     EventType::DomainStatusChanged,
    ///     [("data.domain.status", json!("payment_failed")), ("data.domain.name", json!("acme.com"))],
    /// )?;
    /// let record = mock.journal().get(&id).unwrap();
    /// assert_eq!(record.status.as_deref(), Some("payment_failed"));
    /// assert!(record.body.contains("\"acme.com\""));
    /// # Ok(())
    /// # }
    /// ```
    pub fn trigger_with<K, V>(
        &self,
        event: EventType,
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> Result<DeliveryId, TestkitError>
    where
        K: AsRef<str>,
        V: Into<Value>,
    {
        let overrides = fields
            .into_iter()
            .map(|(path, value)| {
                let mut field: FieldOverride = format!("{}=null", path.as_ref()).parse()?;
                field.value = value.into();
                Ok(field)
            })
            .collect::<Result<Vec<_>, TestkitError>>()?;
        let state = self.state();
        let now = state.clock().now();
        let shape = state.shape();
        let account = state.with_world(|w| w.account(WORKSPACE).clone());
        let envelope = sample_envelope(&event, &mut state.samples(), &account, shape, now)
            .ok_or_else(|| TestkitError::NoSample(event.clone()))?;
        let mut body =
            serde_json::to_value(&envelope).map_err(crate::delivery::engine::InvalidBody::from)?;
        apply_all(&mut body, &overrides)?;
        let outgoing = OutgoingEvent::from_json(body.to_string().into_bytes().into())?;
        Ok(state.sender().submit(state.subscriber(WORKSPACE), outgoing))
    }

    /// Registers a domain for one year, as `POST /v1/api/domains/register` does; returns its uid.
    /// Its lifecycle starts: `waiting_for_dns_propagation` after 2 minutes, `active` 15 later.
    pub async fn register_domain(&self, name: &str) -> Result<String, TestkitError> {
        let changed = self
            .state()
            .change(|change| {
                let entity = change.register_domain(WORKSPACE, name, 1)?;
                Ok::<_, TestkitError>(change.world().uid(entity))
            })
            .await?;
        Ok(changed.value)
    }

    /// Buys a Google mailbox `username@domain` on a registered domain, as
    /// `POST /v1/api/mailboxes/buy` does; returns its uid. It starts `scheduled` and moves on
    /// by itself every 30 s of simulated time until `active`.
    pub async fn buy_mailbox(&self, username: &str, domain: &str) -> Result<String, TestkitError> {
        self.buy(&MailboxOrder {
            username: username.to_owned(),
            first_name: "Ada".to_owned(),
            last_name: "Lovelace".to_owned(),
            platform: Platform::Google,
            domain_name: domain.to_owned(),
        })
        .await
    }

    /// Buys the mailbox `order` describes; returns its uid.
    pub async fn buy(&self, order: &MailboxOrder) -> Result<String, TestkitError> {
        let changed = self
            .state()
            .change(|change| {
                let (domain, _) = change.world().check_mailbox(WORKSPACE, order)?;
                change.world().check_capacity(domain, 1)?;
                let entity = change.buy_mailbox(WORKSPACE, order)?;
                Ok::<_, TestkitError>(change.world().uid(entity))
            })
            .await?;
        Ok(changed.value)
    }

    /// Moves entity `uid` to status `to` now, as a user's action would, and sends the event;
    /// refused (naming the allowed statuses) when its lifecycle does not allow the step.
    pub async fn transition(&self, uid: &str, to: &str) -> Result<DeliveryId, TestkitError> {
        let mut changed = self
            .state()
            .change(|change| {
                let entity = change
                    .world()
                    .find(uid)
                    .ok_or_else(|| TestkitError::UnknownEntity(uid.to_owned()))?;
                change.sim().check_transition(entity, to)?;
                Ok::<_, TestkitError>(change.transition(entity, to)?)
            })
            .await?;
        Ok(changed.deliveries.swap_remove(changed.value))
    }

    /// The current status of entity `uid`, if there is one.
    pub fn status_of(&self, uid: &str) -> Option<String> {
        self.state()
            .with_world(|w| w.find(uid).map(|e| w.status(e).to_owned()))
    }

    /// Stops gracefully: intake and the scheduler stop, in-flight attempts get `grace` to
    /// finish, what is left is journaled as interrupted; returns the tally.
    pub async fn stop(mut self, grace: Duration) -> ShutdownTally {
        let server = self
            .server
            .take()
            .expect("the server runs until the mock is stopped or dropped");
        server.shutdown(grace).await
    }
}

impl Drop for MockInboxKit {
    /// Stops the server: waits for the graceful stop on a multi-threaded runtime; on a
    /// current-thread one (the `#[tokio::test]` default) hands it to the runtime, which
    /// finishes it or, when the test ends with it, drops the server's tasks.
    fn drop(&mut self) {
        let Some(server) = self.server.take() else {
            return;
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let stop = server.shutdown(Duration::ZERO);
        match handle.runtime_flavor() {
            tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(|| handle.block_on(stop));
            }
            _ => {
                handle.spawn(stop);
            }
        }
    }
}
