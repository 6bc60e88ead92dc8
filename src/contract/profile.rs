//! Contract profiles: the two generations of InboxKit's docs, and the settings they bundle.

use std::time::Duration;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::signature::SignatureScheme;

/// A bundle of contract settings matching one generation of InboxKit's documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Profile {
    /// The "Status Change Webhook" page (2025-09) the product was specified from.
    #[default]
    Seed,
    /// The newer "Webhook Integration & Signature Verification" pages.
    Current,
}

/// Which body layout to emit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum PayloadShape {
    /// Top-level `workspace_id`; `data.change_details`.
    Seed,
    /// No top-level `workspace_id`; `data.metadata`.
    Current,
}

/// The seed page's receiver deadline ("Timeout (>10s)").
pub const SEED_TIMEOUT: Duration = Duration::from_secs(10);
/// The newer pages' receiver deadline.
pub const CURRENT_TIMEOUT: Duration = Duration::from_secs(30);

/// Every contract setting that differs between profiles; each can be overridden on its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractSettings {
    /// Body layout.
    pub payload_shape: PayloadShape,
    /// How `X-InboxKit-Signature` is computed.
    pub signature_scheme: SignatureScheme,
    /// How long a subscriber has to answer completely.
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
    /// Whether `Authorization: Bearer <token>` is sent.
    pub send_authorization: bool,
}

impl Profile {
    /// The settings this profile stands for.
    pub fn settings(self) -> ContractSettings {
        match self {
            Profile::Seed => ContractSettings {
                payload_shape: PayloadShape::Seed,
                signature_scheme: SignatureScheme::HmacBody,
                timeout: SEED_TIMEOUT,
                send_authorization: true,
            },
            Profile::Current => ContractSettings {
                payload_shape: PayloadShape::Current,
                signature_scheme: SignatureScheme::ApiKeySha256,
                timeout: CURRENT_TIMEOUT,
                send_authorization: false,
            },
        }
    }
}

impl Default for ContractSettings {
    fn default() -> Self {
        Profile::default().settings()
    }
}

/// Serializes durations as human strings (`10s`) in JSON and config files.
pub mod humantime_serde_compat {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `10s`, `1m 30s`, ...
    pub fn serialize<S: Serializer>(value: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&humantime::format_duration(*value).to_string())
    }

    /// Reads `10s`, `250ms`, `5m`, ... up to [`crate::contract::duration::MAX_DURATION`].
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(deserializer)?;
        crate::contract::duration::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_match_the_contract_table() {
        let seed = Profile::Seed.settings();
        assert_eq!(seed.timeout, Duration::from_secs(10));
        assert_eq!(seed.signature_scheme, SignatureScheme::HmacBody);
        assert!(seed.send_authorization);
        let current = Profile::Current.settings();
        assert_eq!(current.timeout, Duration::from_secs(30));
        assert_eq!(current.payload_shape, PayloadShape::Current);
        assert!(!current.send_authorization);
    }

    #[test]
    fn settings_serialize_with_human_durations() {
        let json = serde_json::to_value(Profile::Seed.settings()).unwrap();
        assert_eq!(json["timeout"], "10s");
        let back: ContractSettings = serde_json::from_value(json).unwrap();
        assert_eq!(back, Profile::Seed.settings());
    }
}
