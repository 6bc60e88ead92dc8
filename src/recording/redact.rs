//! Redaction of the plain-text mailbox credentials InboxKit sends in `data.mailbox`.

use serde_json::Value;

/// The fields of `data.mailbox` that hold credentials (`refresh_token` is never documented as
/// sent, but is redacted too should it ever appear).
pub const CREDENTIAL_FIELDS: [&str; 4] = ["password", "app_password", "secret", "refresh_token"];

/// What a redacted credential is replaced with.
pub const REDACTED: &str = "<redacted>";

/// The body with every non-empty string credential of `data.mailbox` replaced by [`REDACTED`],
/// or `None` when the body is not JSON or holds no credential (then it is kept byte for byte).
///
/// A redacted body is re-serialized compactly with its field order kept, which is byte-identical
/// to the original for bodies the mock sends (compact JSON) apart from the redacted values.
pub fn redact_credentials(body: &[u8]) -> Option<Vec<u8>> {
    let mut value: Value = serde_json::from_slice(body).ok()?;
    let mailbox = value
        .get_mut("data")
        .and_then(|data| data.get_mut("mailbox"))
        .and_then(Value::as_object_mut)?;
    let mut redacted = false;
    for field in CREDENTIAL_FIELDS {
        if let Some(credential) = mailbox.get_mut(field)
            && credential
                .as_str()
                .is_some_and(|s| !s.is_empty() && s != REDACTED)
        {
            *credential = Value::String(REDACTED.to_owned());
            redacted = true;
        }
    }
    redacted.then(|| serde_json::to_vec(&value).expect("JSON values serialize"))
}

/// The non-empty string credentials of `data.mailbox` in `body` (none when it is not JSON):
/// what to hide in text that may echo the body, such as a subscriber's answer.
pub fn credentials_in(body: &[u8]) -> Vec<String> {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let Some(mailbox) = value.get("data").and_then(|data| data.get("mailbox")) else {
        return Vec::new();
    };
    CREDENTIAL_FIELDS
        .iter()
        .filter_map(|field| mailbox.get(field)?.as_str())
        .filter(|credential| !credential.is_empty() && *credential != REDACTED)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_replaced_and_nothing_else_changes() {
        let body = br#"{"event":"mailbox.status_changed","data":{"mailbox":{"uid":"m1","password":"hunter2","app_password":"abcd efgh","secret":"JBSWY3DP","profile_picture":""}}}"#;
        let redacted = redact_credentials(body).unwrap();
        let text = String::from_utf8(redacted).unwrap();
        assert_eq!(
            text,
            r#"{"event":"mailbox.status_changed","data":{"mailbox":{"uid":"m1","password":"<redacted>","app_password":"<redacted>","secret":"<redacted>","profile_picture":""}}}"#
        );
        assert!(!text.contains("hunter2"));
    }

    #[test]
    fn bodies_without_credentials_are_left_alone() {
        assert_eq!(redact_credentials(b"not json"), None);
        assert_eq!(
            redact_credentials(br#"{"data":{"domain":{"secret":"x"}}}"#),
            None,
            "only data.mailbox holds credentials"
        );
        assert_eq!(
            redact_credentials(br#"{"data":{"mailbox":{"password":""}}}"#),
            None
        );
    }
}
