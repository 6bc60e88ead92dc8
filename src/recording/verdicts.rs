//! The signature verdict of a request under each scheme, for the keys at hand.

use serde::{Deserialize, Serialize};

use crate::contract::headers::SIGNATURE;
use crate::contract::{Secret, SignatureScheme, Signer};

/// Whether `X-InboxKit-Signature` verified under each scheme: `None` when no key for the scheme
/// was given, `Some(false)` when it did not verify (or the header was missing or malformed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SignatureVerdicts {
    /// HMAC-SHA256 of the body with the webhook secret.
    #[serde(rename = "hmac-body", default)]
    pub hmac_body: Option<bool>,
    /// SHA-256 of the API key.
    #[serde(rename = "api-key-sha256", default)]
    pub api_key_sha256: Option<bool>,
}

impl SignatureVerdicts {
    /// The verdict under `scheme`.
    pub fn get(&self, scheme: SignatureScheme) -> Option<bool> {
        match scheme {
            SignatureScheme::HmacBody => self.hmac_body,
            SignatureScheme::ApiKeySha256 => self.api_key_sha256,
        }
    }

    /// The schemes under which the signature verified.
    pub fn verified(&self) -> Vec<SignatureScheme> {
        SignatureScheme::ALL
            .into_iter()
            .filter(|scheme| self.get(*scheme) == Some(true))
            .collect()
    }

    /// Whether any scheme was checked at all.
    pub fn any_checked(&self) -> bool {
        self.hmac_body.is_some() || self.api_key_sha256.is_some()
    }
}

/// The keys a recorder or `drift` checks signatures with; either may be absent.
#[derive(Debug, Clone, Default)]
pub struct SignatureKeys {
    hmac: Option<Signer>,
    api_key: Option<Signer>,
}

impl SignatureKeys {
    /// Keys from an optional webhook secret and an optional team API key.
    pub fn new(secret: Option<Secret>, api_key: Option<Secret>) -> Self {
        SignatureKeys {
            hmac: secret.map(|key| Signer::new(SignatureScheme::HmacBody, key)),
            api_key: api_key.map(|key| Signer::new(SignatureScheme::ApiKeySha256, key)),
        }
    }

    /// Whether no key was given (every verdict would be `None`).
    pub fn is_empty(&self) -> bool {
        self.hmac.is_none() && self.api_key.is_none()
    }

    /// The verdicts for `body` signed with the `X-InboxKit-Signature` value `signature`.
    pub fn verdicts(&self, body: &[u8], signature: Option<&str>) -> SignatureVerdicts {
        let check = |signer: &Option<Signer>| {
            signer
                .as_ref()
                .map(|signer| signer.verify(body, signature).is_ok())
        };
        SignatureVerdicts {
            hmac_body: check(&self.hmac),
            api_key_sha256: check(&self.api_key),
        }
    }

    /// The verdicts for a request with these headers (the signature header found by name,
    /// case-insensitively) and this raw body.
    pub fn verdicts_for(&self, headers: &[(String, String)], body: &[u8]) -> SignatureVerdicts {
        let signature = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(SIGNATURE))
            .map(|(_, value)| value.as_str());
        self.verdicts(body, signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_scheme_is_judged_with_its_own_key() {
        let secret = Secret::new("s3cret");
        let api_key = Secret::new("ik_live_abc123");
        let body = br#"{"event":"domain.status_changed"}"#;
        let hmac_signature = Signer::new(SignatureScheme::HmacBody, secret.clone()).sign(body);
        let key_signature = Signer::new(SignatureScheme::ApiKeySha256, api_key.clone()).sign(body);

        let both = SignatureKeys::new(Some(secret.clone()), Some(api_key));
        let verdicts = both.verdicts(body, Some(&hmac_signature));
        assert_eq!(verdicts.hmac_body, Some(true));
        assert_eq!(verdicts.api_key_sha256, Some(false));
        assert_eq!(verdicts.verified(), [SignatureScheme::HmacBody]);
        assert_eq!(
            both.verdicts(body, Some(&key_signature)).verified(),
            [SignatureScheme::ApiKeySha256]
        );
        assert_eq!(both.verdicts(body, None).verified(), []);

        let secret_only = SignatureKeys::new(Some(secret), None);
        let headers = vec![("x-inboxkit-signature".to_owned(), hmac_signature)];
        let verdicts = secret_only.verdicts_for(&headers, body);
        assert_eq!(verdicts.api_key_sha256, None);
        assert_eq!(verdicts.hmac_body, Some(true));
        assert!(SignatureKeys::default().is_empty());
        assert!(!SignatureKeys::default().verdicts(body, None).any_checked());
    }
}
