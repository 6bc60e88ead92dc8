//! [`MockBuilder`]: every knob of the harness, with defaults that keep tests deterministic.

use std::net::TcpListener;
use std::time::Duration;

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

use super::error::TestkitError;
use super::mock::MockInboxKit;
use crate::contract::{Profile, Secret};
use crate::server::subscriber::parse_url;
use crate::server::{RunningServer, ServerConfig, SubscriberSettings};
use crate::simulation::Clock;
use crate::simulation::simulator::FailureRates;

/// The webhook secret (HMAC key of the seed profile) unless [`MockBuilder::secret`] sets one.
pub const DEFAULT_SECRET: &str = "whsec_inboxkit_mock_testkit";
/// The team API key unless [`MockBuilder::api_key`] sets one.
pub const DEFAULT_API_KEY: &str = "ik_inboxkit_mock_testkit";
/// The world's seed unless [`MockBuilder::seed`] sets one: same seed, same ids and bodies.
pub const DEFAULT_SEED: u64 = 1;
/// How long waits and clock advances wait, in real time, for deliveries before failing; while
/// an attempt is still running they also give it its deadline.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(5);

/// The simulated instant a mock starts at unless [`MockBuilder::start_time`] sets one.
pub fn default_start_time() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-01-10T15:30:45.123Z")
        .expect("a valid RFC 3339 time")
        .to_utc()
}

impl MockInboxKit {
    /// Starts a mock with the defaults of [`MockBuilder`] delivering to `subscriber_url`;
    /// panics with the reason if it cannot start (a URL that is not http(s), no free port).
    pub async fn start(subscriber_url: impl AsRef<str>) -> Self {
        MockBuilder::new(subscriber_url).start().await
    }

    /// A builder for a mock delivering to `subscriber_url`.
    pub fn builder(subscriber_url: impl AsRef<str>) -> MockBuilder {
        MockBuilder::new(subscriber_url)
    }
}

/// Configures a [`MockInboxKit`] before it starts; from [`MockInboxKit::builder`].
///
/// Defaults: the `seed` contract profile, [`DEFAULT_SECRET`], [`DEFAULT_API_KEY`],
/// [`DEFAULT_SEED`], the profile's deadline, retries after 10 s, 30 s and 60 s, no lifecycle
/// failures, and a **paused** clock starting at [`default_start_time`]: nothing happens until
/// [`MockInboxKit::advance`], so tests never wait for lifecycles or retries in real time.
///
/// ```
/// use std::time::Duration;
/// use inboxkit_mock::contract::Profile;
/// use inboxkit_mock::testkit::MockInboxKit;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mock = MockInboxKit::builder("http://127.0.0.1:9/hook")
///     .profile(Profile::Current)
///     .api_key("ik_live_example")
///     .retry_delays([Duration::from_secs(1), Duration::from_secs(2)])
///     .timeout(Duration::from_millis(500))
///     .start()
///     .await;
/// assert_eq!(mock.api_key(), "ik_live_example");
/// assert!(mock.clock().is_paused());
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct MockBuilder {
    url: String,
    secret: String,
    api_key: String,
    profile: Profile,
    seed: u64,
    timeout: Option<Duration>,
    retry_delays: Option<Vec<Duration>>,
    scale: Option<f64>,
    start: DateTime<Utc>,
    wait: Duration,
    failures: FailureRates,
}

impl MockBuilder {
    /// A builder for a mock delivering to `subscriber_url`.
    pub fn new(subscriber_url: impl AsRef<str>) -> Self {
        MockBuilder {
            url: subscriber_url.as_ref().to_owned(),
            secret: DEFAULT_SECRET.to_owned(),
            api_key: DEFAULT_API_KEY.to_owned(),
            profile: Profile::Seed,
            seed: DEFAULT_SEED,
            timeout: None,
            retry_delays: None,
            scale: None,
            start: default_start_time(),
            wait: DEFAULT_WAIT,
            failures: FailureRates::default(),
        }
    }

    /// The webhook secret bodies are signed with under the seed profile's `hmac-body` scheme.
    pub fn secret(mut self, secret: impl Into<String>) -> Self {
        self.secret = secret.into();
        self
    }

    /// The team API key: REST calls must present it, and the current profile's `api-key-sha256`
    /// signature (and the seed profile's bearer token) derive from it.
    pub fn api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = api_key.into();
        self
    }

    /// The contract profile: body shape, signature scheme, bearer token and deadline.
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    /// The world's seed (ids, names, credentials, failure draws).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// The subscriber deadline. It is waited in real time divided by the time scale (1 on the
    /// paused clock), so a short one keeps tests of slow subscribers fast.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Delays before each retry, in simulated time, rounded up to whole milliseconds (the
    /// precision of the journal's times); their number is the number of retries.
    pub fn retry_delays(mut self, delays: impl IntoIterator<Item = Duration>) -> Self {
        self.retry_delays = Some(delays.into_iter().map(whole_millis).collect());
        self
    }

    /// Lets the clock run `scale` times faster than real time instead of pausing it.
    pub fn time_scale(mut self, scale: f64) -> Self {
        self.scale = Some(scale);
        self
    }

    /// Pauses the clock (the default): it moves only through [`MockInboxKit::advance`].
    pub fn paused(mut self) -> Self {
        self.scale = None;
        self
    }

    /// The simulated instant the clock starts at (truncated to milliseconds).
    pub fn start_time(mut self, start: DateTime<Utc>) -> Self {
        self.start = start
            .duration_trunc(TimeDelta::milliseconds(1))
            .unwrap_or(start);
        self
    }

    /// How long waits and advances wait, in real time, before failing with the journal.
    pub fn wait_timeout(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }

    /// The probability of the lifecycle failure branch `code` (e.g. `payment_declined`).
    pub fn failure_rate(mut self, code: impl Into<String>, probability: f64) -> Self {
        self.failures.by_code.insert(code.into(), probability);
        self
    }

    /// Starts the mock on a free loopback port; needs a Tokio runtime.
    pub async fn try_start(self) -> Result<MockInboxKit, TestkitError> {
        let url = parse_url(&self.url).map_err(|_| TestkitError::BadUrl {
            url: self.url.clone(),
        })?;
        let clock = match self.scale {
            Some(scale) => Clock::starting_at(self.start, scale)?,
            None => paused_at(self.start),
        };
        let secret = Secret::new(self.secret.clone());
        let api_key = Secret::new(self.api_key.clone());
        let mut config = ServerConfig::new(self.seed, clock, api_key.clone(), secret.clone());
        let mut subscriber =
            SubscriberSettings::from_profile(self.profile, secret, api_key.clone(), api_key);
        subscriber.url = Some(url);
        if let Some(timeout) = self.timeout {
            subscriber.timeout = timeout;
        }
        if let Some(delays) = self.retry_delays {
            subscriber.retry_delays = delays;
        }
        config.subscriber = subscriber;
        config.builtin_receiver = false;
        config.failures = self.failures;
        config.sender.jitter_seed = Some(self.seed);
        config.workers = 1;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let server = RunningServer::start(listener, config)?;
        Ok(MockInboxKit::new(
            server,
            self.secret,
            self.api_key,
            self.wait,
        ))
    }

    /// Starts the mock; panics with the reason if it cannot (see [`MockBuilder::try_start`]).
    pub async fn start(self) -> MockInboxKit {
        match self.try_start().await {
            Ok(mock) => mock,
            Err(error) => panic!("the InboxKit mock did not start: {error}"),
        }
    }
}

/// A paused clock standing exactly at `start` (pausing moves the anchor to the pause's instant,
/// so the clock is set onto `start` afterwards).
fn paused_at(start: DateTime<Utc>) -> Clock {
    let clock = Clock::starting_at(start, 1.0).expect("1.0 is a valid scale");
    clock.pause();
    clock.jump_to(start);
    clock
}

/// `duration` rounded up to whole milliseconds.
pub(crate) fn whole_millis(duration: Duration) -> Duration {
    let millis = duration.as_nanos().div_ceil(1_000_000);
    Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
}
