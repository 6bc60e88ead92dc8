//! Subscriber settings: where webhooks go and how they are signed, changeable at run time.
//!
//! A workspace's webhook URL (set through the REST API) wins; otherwise the URL configured here
//! (`PUT /_mock/subscriber`); otherwise the built-in receiver. Signing, deadline and retry
//! settings here apply to every workspace.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Deserializer};
use url::Url;

use super::answers::{Redacted, SubscriberView};
use super::problem::ApiError;
use crate::contract::profile::humantime_serde_compat;
use crate::contract::{PayloadShape, Profile, Secret, SignatureScheme, Signer};
use crate::delivery::policy::parse_delays;
use crate::delivery::{RetryPolicy, Subscriber};
use crate::model::world::Workspace;

/// How webhooks are signed and sent.
#[derive(Debug, Clone)]
pub struct SubscriberSettings {
    /// Default subscriber URL; `None` means the built-in receiver.
    pub url: Option<Url>,
    /// Profile the settings started from.
    pub profile: Profile,
    /// Body layout.
    pub payload_shape: PayloadShape,
    /// Signature scheme.
    pub signature_scheme: SignatureScheme,
    /// Webhook secret (HMAC key of `hmac-body`).
    pub secret: Secret,
    /// Key hashed by `api-key-sha256` (InboxKit uses the team API key).
    pub api_key: Secret,
    /// Whether `Authorization: Bearer` is sent.
    pub send_authorization: bool,
    /// The bearer token sent when it is.
    pub bearer: Secret,
    /// Subscriber deadline (simulated time).
    pub timeout: Duration,
    /// Delays before each retry (simulated time).
    pub retry_delays: Vec<Duration>,
    /// Whether the mock-only `X-InboxKit-Mock-*` headers are added.
    pub mock_headers: bool,
}

impl SubscriberSettings {
    /// The profile's settings with these keys.
    pub fn from_profile(profile: Profile, secret: Secret, api_key: Secret, bearer: Secret) -> Self {
        let settings = profile.settings();
        SubscriberSettings {
            url: None,
            profile,
            payload_shape: settings.payload_shape,
            signature_scheme: settings.signature_scheme,
            secret,
            api_key,
            send_authorization: settings.send_authorization,
            bearer,
            timeout: settings.timeout,
            retry_delays: RetryPolicy::default().delays,
            mock_headers: true,
        }
    }

    /// The signer for a workspace (its own webhook secret, if it has one).
    pub fn signer(&self, workspace_secret: Option<&Secret>) -> Signer {
        let key = match self.signature_scheme {
            SignatureScheme::HmacBody => workspace_secret.unwrap_or(&self.secret),
            SignatureScheme::ApiKeySha256 => &self.api_key,
        };
        Signer::new(self.signature_scheme, key.clone())
    }

    /// The delivery target of `workspace`, falling back to `default_url`.
    pub fn subscriber(&self, workspace: &Workspace, default_url: &Url) -> Arc<Subscriber> {
        let url = workspace
            .webhook_url
            .clone()
            .or_else(|| self.url.clone())
            .unwrap_or_else(|| default_url.clone());
        Arc::new(Subscriber {
            url,
            signer: self.signer(workspace.webhook_secret.as_ref()),
            bearer: self.send_authorization.then(|| self.bearer.clone()),
            timeout: self.timeout,
            policy: RetryPolicy::with_delays(self.retry_delays.clone()),
            mock_headers: self.mock_headers,
        })
    }

    /// Applies a partial update: a profile first resets its settings, explicit fields then win.
    pub fn apply(&mut self, update: SubscriberUpdate) -> Result<(), ApiError> {
        if let Some(profile) = update.profile {
            let settings = profile.settings();
            self.profile = profile;
            self.payload_shape = settings.payload_shape;
            self.signature_scheme = settings.signature_scheme;
            self.timeout = settings.timeout;
            self.send_authorization = settings.send_authorization;
        }
        if let Some(url) = update.url {
            self.url = url.map(|text| parse_url(&text)).transpose()?;
        }
        // As on the command line: a lone key implies its scheme unless one is named.
        match (&update.secret, &update.api_key, update.signature_scheme) {
            (_, _, Some(scheme)) => self.signature_scheme = scheme,
            (Some(_), None, None) => self.signature_scheme = SignatureScheme::HmacBody,
            (None, Some(_), None) => self.signature_scheme = SignatureScheme::ApiKeySha256,
            _ => {}
        }
        if let Some(secret) = update.secret {
            self.secret = non_empty(secret, "secret")?;
        }
        if let Some(api_key) = update.api_key {
            self.api_key = non_empty(api_key, "api_key")?;
        }
        if let Some(shape) = update.payload_shape {
            self.payload_shape = shape;
        }
        if let Some(timeout) = update.timeout {
            if timeout.is_zero() {
                return Err(ApiError::BadRequest(
                    "`timeout` must be longer than zero".into(),
                ));
            }
            self.timeout = timeout;
        }
        if let Some(delays) = update.retry_delays {
            self.retry_delays = delays.into_vec()?;
        }
        if let Some(send) = update.send_authorization {
            self.send_authorization = send;
        }
        if let Some(token) = update.auth_token {
            self.bearer = non_empty(token, "auth_token")?;
        }
        if let Some(mock_headers) = update.mock_headers {
            self.mock_headers = mock_headers;
        }
        Ok(())
    }

    /// The settings as `GET /_mock/subscriber` answers them, every secret redacted.
    pub(crate) fn redacted(&self, builtin: Option<&Url>) -> SubscriberView {
        let shown = |duration: &Duration| humantime::format_duration(*duration).to_string();
        SubscriberView {
            url: self.url.as_ref().map(Url::to_string),
            effective_url: self.url.as_ref().or(builtin).map(Url::to_string),
            uses_builtin_receiver: self.url.is_none() && builtin.is_some(),
            profile: self.profile,
            payload_shape: self.payload_shape,
            signature_scheme: self.signature_scheme,
            secret: Redacted::Redacted,
            api_key: Redacted::Redacted,
            send_authorization: self.send_authorization,
            auth_token: self.send_authorization.then_some(Redacted::Redacted),
            timeout: shown(&self.timeout),
            retry_delays: self.retry_delays.iter().map(shown).collect(),
            mock_headers: self.mock_headers,
        }
    }
}

/// What a redacted secret reads as.
pub const REDACTED: &str = "<redacted>";

fn non_empty(value: String, field: &str) -> Result<Secret, ApiError> {
    if value.is_empty() {
        return Err(ApiError::BadRequest(format!("`{field}` must not be empty")));
    }
    Ok(Secret::new(value))
}

/// Parses a subscriber URL: http or https with a host.
pub fn parse_url(text: &str) -> Result<Url, ApiError> {
    let url = Url::parse(text)
        .map_err(|e| ApiError::BadRequest(format!("`{text}` is not a valid URL: {e}")))?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(ApiError::BadRequest(format!(
            "`{text}` is not an http:// or https:// URL with a host"
        ))),
    }
}

/// The body of `PUT /_mock/subscriber`; every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubscriberUpdate {
    /// New default URL; `null` goes back to the built-in receiver.
    #[serde(default, deserialize_with = "present")]
    pub url: Option<Option<String>>,
    /// Profile whose settings apply first.
    pub profile: Option<Profile>,
    /// Body layout.
    pub payload_shape: Option<PayloadShape>,
    /// Signature scheme.
    pub signature_scheme: Option<SignatureScheme>,
    /// Webhook secret.
    pub secret: Option<String>,
    /// API key for `api-key-sha256`.
    pub api_key: Option<String>,
    /// Subscriber deadline, e.g. `"10s"`.
    #[serde(default, with = "optional_duration")]
    pub timeout: Option<Duration>,
    /// Retry delays: `"10s,30s,60s"` or `["10s", "30s", "60s"]`.
    pub retry_delays: Option<Delays>,
    /// Send `Authorization: Bearer`.
    pub send_authorization: Option<bool>,
    /// Bearer token.
    pub auth_token: Option<String>,
    /// Add the mock-only headers.
    pub mock_headers: Option<bool>,
}

/// Retry delays as a comma-separated string or a list of durations.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Delays {
    /// `"10s,30s,60s"`.
    Text(String),
    /// `["10s", "30s", "60s"]`.
    List(Vec<String>),
}

impl Delays {
    fn into_vec(self) -> Result<Vec<Duration>, ApiError> {
        let text = match self {
            Delays::Text(text) => text,
            Delays::List(list) => list.join(","),
        };
        parse_delays(&text).map_err(|e| {
            ApiError::BadRequest(format!(
                "`retry_delays`: `{text}` is not a list of durations like 10s,30s,60s: {e}"
            ))
        })
    }
}

fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

mod optional_duration {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        struct Wrapper(#[serde(with = "super::humantime_serde_compat")] Duration);
        Option::<Wrapper>::deserialize(deserializer).map(|w| w.map(|Wrapper(d)| d))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn settings() -> SubscriberSettings {
        SubscriberSettings::from_profile(
            Profile::Seed,
            Secret::new("s3cret"),
            Secret::new("key"),
            Secret::new("tok"),
        )
    }

    #[test]
    fn a_profile_resets_then_fields_win() {
        let mut s = settings();
        let update: SubscriberUpdate = serde_json::from_value(json!({
            "profile": "current", "timeout": "5s", "retry_delays": ["1s", "2s"], "url": "http://127.0.0.1:9/hook"
        }))
        .unwrap();
        s.apply(update).unwrap();
        assert_eq!(s.payload_shape, PayloadShape::Current);
        assert_eq!(s.signature_scheme, SignatureScheme::ApiKeySha256);
        assert_eq!(s.timeout, Duration::from_secs(5));
        assert_eq!(s.retry_delays.len(), 2);
        let reset: SubscriberUpdate =
            serde_json::from_value(json!({"url": null, "secret": "new"})).unwrap();
        s.apply(reset).unwrap();
        assert_eq!(s.url, None);
        assert_eq!(s.signature_scheme, SignatureScheme::HmacBody);
    }

    #[test]
    fn secrets_never_show() {
        let text = serde_json::to_string(&settings().redacted(None)).unwrap();
        assert!(
            !text.contains("s3cret") && !text.contains("\"key\"") && !text.contains("tok\""),
            "{text}"
        );
        let bad: Result<SubscriberUpdate, _> = serde_json::from_value(json!({"colour": "red"}));
        assert!(bad.is_err());
        assert!(
            settings()
                .apply(serde_json::from_value(json!({"url": "ftp://x"})).unwrap())
                .is_err()
        );
    }

    /// The answer's exact text, field order included, as the settings view wrote it when it
    /// was a `json!` literal: typing the answer changed no byte.
    #[test]
    fn the_view_keeps_its_wire_form() {
        let mut s = settings();
        let builtin: Url = "http://127.0.0.1:7/inbox".parse().unwrap();
        assert_eq!(
            serde_json::to_string(&s.redacted(Some(&builtin))).unwrap(),
            concat!(
                r#"{"url":null,"effective_url":"http://127.0.0.1:7/inbox","uses_builtin_receiver":true,"#,
                r#""profile":"seed","payload_shape":"seed","signature_scheme":"hmac-body","#,
                r#""secret":"<redacted>","api_key":"<redacted>","send_authorization":true,"#,
                r#""auth_token":"<redacted>","timeout":"10s","retry_delays":["10s","30s","1m"],"#,
                r#""mock_headers":true}"#
            )
        );
        s.apply(
            serde_json::from_value(
                json!({"profile": "current", "url": "http://127.0.0.1:9/hook",
                "retry_delays": "1s,2m", "mock_headers": false}),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(
            serde_json::to_string(&s.redacted(None)).unwrap(),
            concat!(
                r#"{"url":"http://127.0.0.1:9/hook","effective_url":"http://127.0.0.1:9/hook","#,
                r#""uses_builtin_receiver":false,"profile":"current","payload_shape":"current","#,
                r#""signature_scheme":"api-key-sha256","secret":"<redacted>","api_key":"<redacted>","#,
                r#""send_authorization":false,"auth_token":null,"timeout":"30s","#,
                r#""retry_delays":["1s","2m"],"mock_headers":false}"#
            )
        );
        assert_eq!(serde_json::to_value(Redacted::Redacted).unwrap(), REDACTED);
    }
}
