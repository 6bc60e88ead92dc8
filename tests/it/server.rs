//! `serve` over real loopback HTTP: the REST API, the control API, lifecycles on a paused clock.

mod answers;
mod control;
mod intake;
mod lifecycle;
mod rest;
mod timeline;

use std::net::TcpListener;
use std::time::Duration;

use chrono::{DateTime, Utc};
use inboxkit_mock::contract::{Secret, SignatureScheme, Signer};
use inboxkit_mock::receiver::{ReceivedRecord, ReceiverConfig, RunningReceiver};
use inboxkit_mock::server::{RunningServer, ServerConfig};
use inboxkit_mock::simulation::Clock;
use serde_json::{Value, json};

/// The team API key of every test server.
pub const API_KEY: &str = "ik_test_key";
/// The webhook secret of every test server.
pub const WEBHOOK_SECRET: &str = "whsec_test_secret";
/// Longest any test waits for something to arrive.
pub const WAIT: Duration = Duration::from_secs(5);

/// The simulated start of every test world.
pub fn start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-01-10T15:30:45.123Z")
        .unwrap()
        .to_utc()
}

/// A running mock with a paused clock, plus a verifying test receiver as its subscriber.
pub struct Mock {
    pub server: RunningServer,
    pub receiver: RunningReceiver,
    pub client: reqwest::Client,
    pub base: String,
}

/// An HTTP answer: status, content type, JSON body (Null if not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
}

impl Answer {
    /// Asserts an RFC 7807 problem with this status and stable code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.body["code"].clone()),
            (status, serde_json::json!(code)),
            "{}",
            self.body
        );
    }
}

impl Mock {
    /// Starts a mock with `seed` whose default workspace delivers to a fresh test receiver.
    pub async fn start(seed: u64) -> Mock {
        Mock::start_with(seed, |_| {}).await
    }

    /// Like [`Mock::start`], with a chance to change the config first.
    pub async fn start_with(seed: u64, change: impl FnOnce(&mut ServerConfig)) -> Mock {
        let clock = Clock::starting_at(start_time(), 1.0).unwrap();
        clock.pause();
        let mut config = ServerConfig::new(
            seed,
            clock,
            Secret::new(API_KEY),
            Secret::new(WEBHOOK_SECRET),
        );
        config.builtin_receiver = false;
        config.sender.jitter_seed = Some(seed);
        change(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let server = RunningServer::start(listener, config).unwrap();
        let receiver = RunningReceiver::start_local(ReceiverConfig {
            verifier: Some(Signer::new(
                SignatureScheme::HmacBody,
                Secret::new(WEBHOOK_SECRET),
            )),
            ..ReceiverConfig::default()
        })
        .unwrap();
        let base = server.base_url();
        let mock = Mock {
            server,
            receiver,
            client: reqwest::Client::new(),
            base,
        };
        let workspace = mock.workspace_id();
        let url = mock.receiver.webhook_url().to_string();
        let set = mock
            .rest(
                "POST",
                "/workspaces/webhook",
                Some(json!({"uid": workspace, "webhook_url": url})),
            )
            .await;
        assert_eq!(set.status, 200, "{set:?}");
        mock
    }

    /// The default workspace's id.
    pub fn workspace_id(&self) -> String {
        self.server
            .state()
            .with_world(|w| w.workspaces()[0].id.clone())
    }

    /// A request with an optional JSON body and extra headers.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = response.bytes().await.unwrap();
        Answer {
            status,
            content_type,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// A REST call with the right API key (`path` below `/v1/api`).
    pub async fn rest(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        let auth = format!("Bearer {API_KEY}");
        self.call(
            method,
            &format!("/v1/api{path}"),
            body,
            &[("authorization", &auth)],
        )
        .await
    }

    /// A control call (`path` below `/_mock`).
    pub async fn control(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call(method, &format!("/_mock{path}"), body, &[]).await
    }

    /// Advances the paused clock; returns how many transitions fired.
    pub async fn advance(&self, by: &str) -> u64 {
        let answer = self
            .control("POST", "/clock/advance", Some(json!({"by": by})))
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["fired"].as_u64().unwrap()
    }

    /// Waits until `count` deliveries are terminal.
    pub async fn wait_terminal(&self, count: u64) {
        let journal = self.server.state().sender().journal();
        tokio::time::timeout(
            WAIT,
            journal.wait_until(|c| c.terminal.values().sum::<u64>() >= count),
        )
        .await
        .unwrap_or_else(|_| {
            panic!(
                "{count} deliveries were not terminal within {WAIT:?}: {:?}",
                journal.counters()
            )
        });
    }

    /// What the test receiver got about `uid`, in arrival order.
    pub fn received_about(&self, uid: &str) -> Vec<ReceivedRecord> {
        self.receiver
            .store()
            .all()
            .into_iter()
            .filter(|r| r.uid.as_deref() == Some(uid))
            .collect()
    }

    /// Registers one domain through the REST API; returns its uid.
    pub async fn register(&self, name: &str) -> String {
        let answer = self
            .rest(
                "POST",
                "/domains/register",
                Some(json!({"domains": [{"name": name, "registration_years": 1}]})),
            )
            .await;
        assert_eq!(answer.status, 200, "{answer:?}");
        answer.body["domain_uids"][0].as_str().unwrap().to_owned()
    }

    /// Buys one mailbox on `domain`; returns its uid.
    pub async fn buy(&self, username: &str, domain: &str) -> String {
        let order = json!({"mailboxes": [{
            "first_name": "Ada", "last_name": "Lovelace", "username": username, "platform": "GOOGLE", "domain_name": domain,
        }]});
        let answer = self.rest("POST", "/mailboxes/buy", Some(order)).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.body["mailboxes"][0]["status"], "scheduled");
        answer.body["mailboxes"][0]["uid"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Stops both servers.
    pub async fn stop(self) {
        self.server.shutdown(Duration::from_secs(1)).await;
        self.receiver.stop().await;
    }
}

/// Statuses of received webhooks, in arrival order.
pub fn statuses(records: &[ReceivedRecord]) -> Vec<String> {
    records
        .iter()
        .map(|r| r.status.clone().unwrap_or_default())
        .collect()
}
