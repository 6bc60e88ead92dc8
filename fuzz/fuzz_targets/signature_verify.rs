//! Signature verification: never panics, accepts a header only if it is the right value, always
//! accepts its own signature, and (HMAC of the body) refuses it once the body changes.
#![no_main]

use inboxkit_mock::contract::{Secret, SignatureScheme, Signer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // Layout: scheme byte, key length byte, key, header length byte, header, body.
    let Some((&scheme, rest)) = data.split_first() else {
        return;
    };
    let Some((key, rest)) = take(rest) else {
        return;
    };
    let Some((header, body)) = take(rest) else {
        return;
    };
    let scheme = if scheme & 1 == 0 {
        SignatureScheme::HmacBody
    } else {
        SignatureScheme::ApiKeySha256
    };
    let signer = Signer::new(
        scheme,
        Secret::new(String::from_utf8_lossy(key).into_owned()),
    );
    let header = String::from_utf8_lossy(header);
    let right = signer.sign(body);
    assert!(signer.verify(body, Some(&right)).is_ok());
    if signer.verify(body, Some(&header)).is_ok() {
        assert_eq!(header.trim().to_ascii_lowercase(), right);
    }
    if scheme == SignatureScheme::HmacBody {
        let mut tampered = body.to_vec();
        match tampered.last_mut() {
            Some(last) => *last ^= 1,
            None => tampered.push(b'x'),
        }
        assert!(
            signer.verify(&tampered, Some(&right)).is_err(),
            "a changed body must not verify"
        );
    }
});

/// A length-prefixed slice and what follows it.
fn take(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let (&len, rest) = data.split_first()?;
    let len = usize::from(len).min(rest.len());
    Some(rest.split_at(len))
}
