//! Entity ids in InboxKit's formats.
//!
//! Documented by example: `team-abc123def456`, `ws_456def789abc`, `domain-xyz789ghi012`
//! (a prefix and 12 lowercase alphanumerics). Mailbox and request ids are not shown in the docs;
//! the mock chooses the same pattern with the prefixes below.

use rand::{Rng, RngExt};

const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
const SUFFIX_LEN: usize = 12;

/// What an id names, with its prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    /// `team-` (documented).
    Team,
    /// `ws_` (documented).
    Workspace,
    /// `domain-` (documented).
    Domain,
    /// `mailbox-` (chosen).
    Mailbox,
    /// `consent-` (chosen).
    ConsentRequest,
    /// `clientid-` (chosen).
    ClientIdRequest,
}

impl IdKind {
    /// The prefix, separator included.
    pub fn prefix(self) -> &'static str {
        match self {
            IdKind::Team => "team-",
            IdKind::Workspace => "ws_",
            IdKind::Domain => "domain-",
            IdKind::Mailbox => "mailbox-",
            IdKind::ConsentRequest => "consent-",
            IdKind::ClientIdRequest => "clientid-",
        }
    }
}

/// A new id of `kind`, drawn from `rng` (deterministic for a seeded rng).
pub fn new_id(kind: IdKind, rng: &mut impl Rng) -> String {
    let mut id = String::with_capacity(kind.prefix().len() + SUFFIX_LEN);
    id.push_str(kind.prefix());
    id.extend((0..SUFFIX_LEN).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char));
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    #[test]
    fn ids_follow_the_documented_pattern() {
        let mut rng = StdRng::seed_from_u64(7);
        let id = new_id(IdKind::Domain, &mut rng);
        let suffix = id.strip_prefix("domain-").unwrap();
        assert_eq!(suffix.len(), 12);
        assert!(suffix.bytes().all(|b| ALPHABET.contains(&b)));
        assert!(new_id(IdKind::Workspace, &mut rng).starts_with("ws_"));
    }
}
