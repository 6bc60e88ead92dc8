//! The plain-HTTP client's answer parser: whatever a subscriber sends back, it never panics,
//! never keeps more body than the cap, and a complete answer framed by `Content-Length` has a
//! body of exactly that length (up to the cap).
#![no_main]

use inboxkit_mock::delivery::fuzz_parse_answer;
use libfuzzer_sys::fuzz_target;

/// The cap on kept body bytes: small, so that inputs reach it.
const CAP: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Ok(reply) = fuzz_parse_answer(data, CAP) else {
        return;
    };
    assert!(reply.body.len() <= CAP, "a body over the cap");
    assert!(
        !reply.truncated || reply.body.len() == CAP,
        "truncated before the cap"
    );
    assert!(
        !(100..200).contains(&reply.status) || reply.status == 101,
        "an interim answer taken as final"
    );
    let has = |name: &str| reply.headers.iter().any(|(n, _)| n == name);
    // Transfer-Encoding overrides Content-Length: only a length that frames the body must be a
    // number (an invalid one beside Transfer-Encoding is ignored, as hyper ignores it).
    let framed_by_length = reply.status != 204 && reply.status != 304 && !has("transfer-encoding");
    let length = reply
        .headers
        .iter()
        .filter(|(name, _)| framed_by_length && *name == "content-length")
        .flat_map(|(_, value)| value.split(','))
        .map(|part| {
            part.trim()
                .parse::<u64>()
                .expect("an accepted Content-Length that frames the body is a number")
        })
        .next();
    if let (true, Some(length), None) = (framed_by_length, length, &reply.body_error) {
        let expected = usize::try_from(length).unwrap_or(usize::MAX).min(CAP);
        assert_eq!(
            reply.body.len(),
            expected,
            "the body is not as long as announced"
        );
    }
    if reply.body_error.is_some() || reply.truncated {
        assert!(
            !reply.reusable,
            "a connection reused after an unfinished body"
        );
    }
});
