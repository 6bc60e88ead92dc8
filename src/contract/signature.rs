//! `X-InboxKit-Signature`: the two schemes, signing and constant-time verification. The seed page
//! documents only the form `sha256=<hex>`; the API-key scheme is what integrators observed; the
//! HMAC-of-the-body scheme is this project's reading of the seed page (see the README).

use hmac::{Hmac, KeyInit, Mac};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The prefix of every signature value.
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// How the signature is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum SignatureScheme {
    /// HMAC-SHA256 of the exact body bytes, keyed with the webhook secret (this project's reading
    /// of the seed page, which shows only `sha256=<hex>`).
    HmacBody,
    /// SHA-256 of the team API key, the same for every request (observed by integrators; matches
    /// the newer pages' recipe).
    ApiKeySha256,
}

impl SignatureScheme {
    /// Both schemes, for tools that try each (e.g. `drift`, the receiver's record).
    pub const ALL: [SignatureScheme; 2] =
        [SignatureScheme::HmacBody, SignatureScheme::ApiKeySha256];

    /// The name used on the command line and in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            SignatureScheme::HmacBody => "hmac-body",
            SignatureScheme::ApiKeySha256 => "api-key-sha256",
        }
    }

    /// What the key of this scheme is called, for error messages.
    pub fn key_name(self) -> &'static str {
        match self {
            SignatureScheme::HmacBody => "webhook secret",
            SignatureScheme::ApiKeySha256 => "API key",
        }
    }
}

impl std::fmt::Display for SignatureScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A secret string (webhook secret or API key) that never prints itself.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself; call only where it is used, never to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `X-InboxKit-Signature` header.
    #[error("the X-InboxKit-Signature header is missing")]
    Missing,
    /// The value is not `sha256=` followed by 64 hex digits.
    #[error("the signature is not `sha256=` followed by 64 hex digits")]
    Malformed,
    /// Well-formed but wrong.
    #[error("the signature does not match ({scheme})")]
    Mismatch {
        /// The scheme that was checked.
        scheme: SignatureScheme,
    },
}

/// Signs and verifies under one scheme with one key.
#[derive(Clone)]
pub struct Signer {
    scheme: SignatureScheme,
    keyed: Keyed,
}

/// The key, in the form each scheme digests with.
#[derive(Clone)]
enum Keyed {
    /// HMAC state with the key already absorbed: cloned for each body.
    Hmac(Hmac<Sha256>),
    /// The api-key scheme does not depend on the body: computed once.
    Static([u8; 32]),
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for `scheme` keyed with `key` (webhook secret or API key).
    pub fn new(scheme: SignatureScheme, key: Secret) -> Self {
        let keyed = match scheme {
            SignatureScheme::HmacBody => Keyed::Hmac(
                Hmac::new_from_slice(key.expose().as_bytes())
                    .expect("HMAC accepts keys of any length"),
            ),
            SignatureScheme::ApiKeySha256 => {
                Keyed::Static(Sha256::digest(key.expose().as_bytes()).into())
            }
        };
        Signer { scheme, keyed }
    }

    /// The scheme this signer uses.
    pub fn scheme(&self) -> SignatureScheme {
        self.scheme
    }

    fn digest(&self, body: &[u8]) -> [u8; 32] {
        match &self.keyed {
            Keyed::Static(digest) => *digest,
            Keyed::Hmac(keyed) => {
                let mut mac = keyed.clone();
                mac.update(body);
                mac.finalize().into_bytes().into()
            }
        }
    }

    /// The `X-InboxKit-Signature` value for `body`: `sha256=<64 lowercase hex>`.
    ///
    /// ```
    /// use inboxkit_mock::contract::{Secret, SignatureScheme, Signer};
    ///
    /// let signer = Signer::new(SignatureScheme::HmacBody, Secret::new("It's a Secret to Everybody"));
    /// let signature = signer.sign(b"Hello, World!");
    /// assert_eq!(signature, "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17");
    /// assert!(signer.verify(b"Hello, World!", Some(&signature)).is_ok());
    /// ```
    pub fn sign(&self, body: &[u8]) -> String {
        self.sign_with_digest(body).0
    }

    /// [`Signer::sign`]'s value and the digest it writes (for a caller that keeps the digest
    /// rather than reading it back from the text).
    pub fn sign_with_digest(&self, body: &[u8]) -> (String, [u8; 32]) {
        let digest = self.digest(body);
        let mut hex = [0u8; 64];
        hex::encode_to_slice(digest, &mut hex).expect("64 digits for 32 bytes");
        let mut value = String::with_capacity(SIGNATURE_PREFIX.len() + hex.len());
        value.push_str(SIGNATURE_PREFIX);
        value.push_str(std::str::from_utf8(&hex).expect("hex digits are ASCII"));
        (value, digest)
    }

    /// Checks a header value against `body` in constant time.
    pub fn verify(&self, body: &[u8], header: Option<&str>) -> Result<(), SignatureError> {
        let header = header.ok_or(SignatureError::Missing)?;
        let given = parse_signature(header)?;
        if bool::from(given.ct_eq(&self.digest(body))) {
            Ok(())
        } else {
            Err(SignatureError::Mismatch {
                scheme: self.scheme,
            })
        }
    }
}

/// Decodes `sha256=<64 hex>` (hex of either case) into the digest bytes.
pub fn parse_signature(header: &str) -> Result<[u8; 32], SignatureError> {
    let hex_part = header
        .trim()
        .strip_prefix(SIGNATURE_PREFIX)
        .ok_or(SignatureError::Malformed)?;
    let mut digest = [0u8; 32];
    hex::decode_to_slice(hex_part, &mut digest).map_err(|_| SignatureError::Malformed)?;
    Ok(digest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn hmac_known_answer() {
        let signer = Signer::new(
            SignatureScheme::HmacBody,
            Secret::new("It's a Secret to Everybody"),
        );
        assert_eq!(
            signer.sign(b"Hello, World!"),
            "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
        );
        // Every byte is signed, whitespace included (a captured body often ends in a newline):
        // printf '{"event":"domain.status_changed"}\n' | openssl dgst -sha256 -hmac "It's a Secret to Everybody"
        assert_eq!(
            signer.sign(b"{\"event\":\"domain.status_changed\"}\n"),
            "sha256=502cb83508f38ea585500e8ec9916f597e8b2116bc3c27bb3baf04d64bd5903d"
        );
    }

    #[test]
    fn api_key_scheme_is_sha256_of_the_key() {
        // printf '%s' 'ik_live_abc123' | sha256sum
        let signer = Signer::new(SignatureScheme::ApiKeySha256, Secret::new("ik_live_abc123"));
        let expected = "sha256=0c530431e84be11903b8b716a4de19b8456c53f91fa5cbc025f447d10a4f3660";
        let actual = signer.sign(b"any body");
        assert_eq!(actual, expected);
        assert_eq!(actual, signer.sign(b"another body"), "static per key");
        let digest = Sha256::digest(b"ik_live_abc123");
        assert_eq!(actual, format!("sha256={}", hex::encode(digest)));
    }

    #[test]
    fn verification_names_the_problem() {
        let signer = Signer::new(SignatureScheme::HmacBody, Secret::new("s"));
        assert_eq!(signer.verify(b"{}", None), Err(SignatureError::Missing));
        assert_eq!(
            signer.verify(b"{}", Some("md5=abc")),
            Err(SignatureError::Malformed)
        );
        let wrong = format!("sha256={}", "0".repeat(64));
        assert_eq!(
            signer.verify(b"{}", Some(&wrong)),
            Err(SignatureError::Mismatch {
                scheme: SignatureScheme::HmacBody
            })
        );
    }

    #[test]
    fn secrets_do_not_print() {
        let signer = Signer::new(SignatureScheme::HmacBody, Secret::new("hunter2"));
        assert!(!format!("{signer:?}").contains("hunter2"));
        assert!(!format!("{:?}", Secret::new("hunter2")).contains("hunter2"));
    }

    proptest! {
        #[test]
        fn signatures_verify_and_any_change_breaks_them(
            key in ".{0,40}",
            body in proptest::collection::vec(any::<u8>(), 0..512),
            flip in any::<proptest::sample::Index>(),
        ) {
            for scheme in SignatureScheme::ALL {
                let signer = Signer::new(scheme, Secret::new(key.clone()));
                let signature = signer.sign(&body);
                prop_assert!(signature.starts_with("sha256="));
                prop_assert_eq!(signature.len(), 7 + 64);
                prop_assert!(signature[7..].chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
                prop_assert!(signer.verify(&body, Some(&signature)).is_ok());
                if scheme == SignatureScheme::HmacBody && !body.is_empty() {
                    let mut tampered = body.clone();
                    tampered[flip.index(body.len())] ^= 0x01;
                    prop_assert!(signer.verify(&tampered, Some(&signature)).is_err());
                }
            }
        }

        #[test]
        fn arbitrary_headers_never_panic(header in ".{0,100}") {
            let signer = Signer::new(SignatureScheme::HmacBody, Secret::new("k"));
            let _ = signer.verify(b"body", Some(&header));
        }
    }
}
