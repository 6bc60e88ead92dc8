//! Compact encodings that let the world hold a million entities in little memory.
//!
//! An id's 12-character suffix is a base-36 number below 36^12 < 2^63, so it fits a `u64`;
//! statuses and platforms are indexes into their vocabulary's `KNOWN` list; per-entity fake
//! details (tags, credentials) are regenerated from a per-entity seed instead of being stored.

use super::ids::IdKind;

/// The id alphabet of [`super::ids::new_id`], in digit order.
const ALPHABET: &[u8; 36] = b"abcdefghijklmnopqrstuvwxyz0123456789";
/// Characters after the prefix.
const SUFFIX_LEN: usize = 12;

/// The `u64` form of an id's suffix, or `None` if `uid` is not an id of `kind`.
pub fn decode_uid(kind: IdKind, uid: &str) -> Option<u64> {
    let suffix = uid.strip_prefix(kind.prefix())?;
    if suffix.len() != SUFFIX_LEN {
        return None;
    }
    suffix.bytes().rev().try_fold(0u64, |code, byte| {
        let digit = ALPHABET.iter().position(|a| *a == byte)? as u64;
        Some(code * 36 + digit)
    })
}

/// The id of `kind` whose suffix encodes `code` (the inverse of [`decode_uid`]).
pub fn encode_uid(kind: IdKind, mut code: u64) -> String {
    let mut id = String::with_capacity(kind.prefix().len() + SUFFIX_LEN);
    id.push_str(kind.prefix());
    for _ in 0..SUFFIX_LEN {
        id.push(ALPHABET[(code % 36) as usize] as char);
        code /= 36;
    }
    id
}

/// Marks "no value" in a `u8` vocabulary index (e.g. `previous_status: null`).
pub const NONE: u8 = u8::MAX;

/// The index of `value` in `known`, or [`NONE`] if it is not listed.
pub fn index_of<T: PartialEq>(known: &[T], value: &T) -> u8 {
    known
        .iter()
        .position(|k| k == value)
        .and_then(|p| u8::try_from(p).ok())
        .unwrap_or(NONE)
}

/// The value at `index` of `known`, or `None` for [`NONE`] or an index out of range.
pub fn value_at<T: Clone>(known: &[T], index: u8) -> Option<T> {
    known.get(usize::from(index)).cloned()
}

/// SplitMix64: a well-mixed 64-bit value from a counter, for per-entity seeds.
pub fn mix(value: u64) -> u64 {
    let mut z = value.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::MailboxStatus;
    use crate::model::new_id;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn uids_round_trip_through_their_code() {
        let mut rng = StdRng::seed_from_u64(5);
        for kind in [
            IdKind::Domain,
            IdKind::Mailbox,
            IdKind::ConsentRequest,
            IdKind::ClientIdRequest,
        ] {
            let uid = new_id(kind, &mut rng);
            let code = decode_uid(kind, &uid).expect("a generated id decodes");
            assert_eq!(encode_uid(kind, code), uid);
        }
        assert_eq!(decode_uid(IdKind::Domain, "mailbox-abc123def456"), None);
        assert_eq!(decode_uid(IdKind::Domain, "domain-ABC123DEF456"), None);
        assert_eq!(decode_uid(IdKind::Domain, "domain-abc"), None);
    }

    #[test]
    fn vocabulary_indexes_round_trip() {
        for status in MailboxStatus::KNOWN {
            let index = index_of(MailboxStatus::KNOWN, status);
            assert_eq!(value_at(MailboxStatus::KNOWN, index).as_ref(), Some(status));
        }
        assert_eq!(
            index_of(MailboxStatus::KNOWN, &MailboxStatus::Other("x".into())),
            NONE
        );
        assert_eq!(value_at(MailboxStatus::KNOWN, NONE), None);
    }
}
