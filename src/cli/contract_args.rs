//! Contract and delivery options shared by the subcommands that send or check signatures.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use url::Url;

use super::CliError;
use inboxkit_mock::contract::{
    ContractSettings, PayloadShape, Profile, Secret, SignatureScheme, Signer,
};
use inboxkit_mock::delivery::policy::parse_delays;
use inboxkit_mock::delivery::transport::TransportOptions;
use inboxkit_mock::delivery::{RetryPolicy, SenderOptions, Subscriber};
use inboxkit_mock::simulation::Clock;

/// Which key a signature uses and how it is computed.
#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// Webhook secret: the HMAC key of the hmac-body scheme.
    #[arg(long, env = "INBOXKIT_MOCK_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// Team API key: hashed by the api-key-sha256 scheme.
    #[arg(long, env = "INBOXKIT_MOCK_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// Signature scheme [default: the one whose key is given, else the profile's].
    #[arg(long, env = "INBOXKIT_MOCK_SIGNATURE_SCHEME", value_enum)]
    pub signature_scheme: Option<SignatureScheme>,
}

impl KeyArgs {
    /// The scheme: explicit, else implied by the only key given, else `fallback`.
    pub fn scheme(&self, fallback: SignatureScheme) -> SignatureScheme {
        match (self.signature_scheme, &self.secret, &self.api_key) {
            (Some(scheme), _, _) => scheme,
            (None, Some(_), None) => SignatureScheme::HmacBody,
            (None, None, Some(_)) => SignatureScheme::ApiKeySha256,
            (None, _, _) => fallback,
        }
    }

    /// The signer for the chosen scheme, or a usage error naming the missing key.
    pub fn signer(&self, fallback: SignatureScheme) -> Result<Signer, CliError> {
        let scheme = self.scheme(fallback);
        let (key, flag) = match scheme {
            SignatureScheme::HmacBody => (&self.secret, "--secret (or INBOXKIT_MOCK_SECRET)"),
            SignatureScheme::ApiKeySha256 => {
                (&self.api_key, "--api-key (or INBOXKIT_MOCK_API_KEY)")
            }
        };
        let key = key.as_ref().ok_or_else(|| {
            CliError::usage(format!(
                "the {scheme} signature scheme needs the {}: pass {flag}",
                scheme.key_name()
            ))
        })?;
        Ok(Signer::new(scheme, Secret::new(key.clone())))
    }
}

/// Contract profile and per-setting overrides.
#[derive(Debug, Clone, Args)]
pub struct ProfileArgs {
    /// Contract profile: `seed` (the 2025-09 page) or `current` (the newer pages).
    #[arg(long, env = "INBOXKIT_MOCK_PROFILE", value_enum, default_value_t = Profile::Seed)]
    pub profile: Profile,
    /// Body layout [default: the profile's].
    #[arg(long, env = "INBOXKIT_MOCK_PAYLOAD_SHAPE", value_enum)]
    pub payload_shape: Option<PayloadShape>,
    /// Subscriber deadline, e.g. 10s [default: the profile's: seed 10s, current 30s].
    #[arg(long, env = "INBOXKIT_MOCK_TIMEOUT", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
}

impl ProfileArgs {
    /// The profile's settings with the overrides applied (the scheme is resolved by `KeyArgs`).
    pub fn settings(&self) -> ContractSettings {
        let mut settings = self.profile.settings();
        if let Some(shape) = self.payload_shape {
            settings.payload_shape = shape;
        }
        if let Some(timeout) = self.timeout {
            settings.timeout = timeout;
        }
        settings
    }
}

/// Everything that decides how a webhook is sent.
#[derive(Debug, Clone, Args)]
pub struct DeliveryArgs {
    #[command(flatten)]
    pub profile: ProfileArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
    /// Bearer token for `Authorization` [default: the API key, else a random token].
    #[arg(long, env = "INBOXKIT_MOCK_AUTH_TOKEN", hide_env_values = true)]
    pub auth_token: Option<String>,
    /// Send `Authorization: Bearer <token>` [default: the profile's: seed yes, current no].
    #[arg(long, env = "INBOXKIT_MOCK_SEND_AUTHORIZATION")]
    pub send_authorization: Option<bool>,
    /// Leave out the mock-only X-InboxKit-Mock-Delivery and X-InboxKit-Mock-Attempt headers.
    #[arg(long, env = "INBOXKIT_MOCK_NO_MOCK_HEADERS")]
    pub no_mock_headers: bool,
    /// Delays before retries 1, 2, 3 (simulated time; their count is the number of retries).
    #[arg(long, env = "INBOXKIT_MOCK_RETRY_DELAYS", default_value = "10s,30s,60s", value_parser = parse_delay_list)]
    pub retry_delays: DelayList,
    /// Simulated seconds per real second: 100 makes a 10 s retry delay 100 ms of waiting (the
    /// response deadline stays real time).
    #[arg(long, env = "INBOXKIT_MOCK_TIME_SCALE", default_value_t = 1.0)]
    pub time_scale: f64,
    /// Accept an https subscriber's invalid certificate (self-signed test servers).
    #[arg(long, env = "INBOXKIT_MOCK_INSECURE")]
    pub insecure: bool,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    inboxkit_mock::contract::duration::parse(text).map_err(|e| e.to_string())
}

/// A parsed `--retry-delays` list.
#[derive(Debug, Clone)]
pub struct DelayList(pub Vec<Duration>);

fn parse_delay_list(text: &str) -> Result<DelayList, String> {
    parse_delays(text).map(DelayList).map_err(|e| {
        format!("`{text}` is not a comma-separated list of durations like 10s,30s,60s: {e}")
    })
}

impl DeliveryArgs {
    /// The simulated clock at the chosen scale.
    pub fn clock(&self) -> Result<Clock, CliError> {
        Clock::scaled(self.time_scale).map_err(|e| CliError::usage(format!("--time-scale: {e}")))
    }

    /// Sender settings: `--insecure`, everything else at its default.
    pub fn sender_options(&self) -> SenderOptions {
        SenderOptions {
            transport: TransportOptions {
                insecure: self.insecure,
            },
            ..SenderOptions::default()
        }
    }

    /// The subscriber at `url` with every setting resolved.
    pub fn subscriber(&self, url: Url) -> Result<Arc<Subscriber>, CliError> {
        let settings = self.profile.settings();
        let signer = self.keys.signer(settings.signature_scheme)?;
        let send_authorization = self
            .send_authorization
            .unwrap_or(settings.send_authorization);
        let bearer = send_authorization.then(|| {
            Secret::new(
                self.auth_token
                    .clone()
                    .or_else(|| self.keys.api_key.clone())
                    .unwrap_or_else(random_token),
            )
        });
        Ok(Arc::new(Subscriber {
            url,
            signer,
            bearer,
            timeout: settings.timeout,
            policy: RetryPolicy::with_delays(self.retry_delays.0.clone()),
            mock_headers: !self.no_mock_headers,
        }))
    }
}

/// A random bearer token, so no fixed credential is ever sent.
pub fn random_token() -> String {
    format!("ikm_{}", uuid::Uuid::new_v4().simple())
}

/// Parses a subscriber URL, accepting only http and https.
pub fn parse_target(text: &str) -> Result<Url, CliError> {
    let url = Url::parse(text)
        .map_err(|e| CliError::usage(format!("`{text}` is not a valid URL: {e}")))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(CliError::usage(format!(
            "`{text}` is not an http:// or https:// URL with a host"
        ))),
    }
}
