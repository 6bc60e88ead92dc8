//! Realistic fake entities from a seeded generator: the same seed gives the same world.

use chrono::{DateTime, Utc};
use fake::Fake;
use fake::faker::company::en::CompanyName;
use fake::faker::lorem::en::Word;
use fake::faker::name::en::{FirstName, LastName};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{RngExt, SeedableRng};

use super::ids::{IdKind, new_id};
use crate::contract::{
    Account, ClientIdRequest, ConnectionType, ConsentRequest, DnsPropagationStatus, Domain,
    DomainStatus, Mailbox, MailboxStatus, Platform, RenewalStatus, RequestStatus, format_timestamp,
};

const TLDS: &[&str] = &["com", "io", "co", "net", "org"];
const DOMAIN_WORDS: &[&str] = &["mail", "send", "reach", "hq", "team", "app", "go", "get"];
const TAGS: &[&str] = &[
    "production",
    "marketing",
    "outreach",
    "sales",
    "warmup",
    "eu",
    "us",
];
/// InboxKit's own nameservers (seed example).
pub const INBOXKIT_NAMESERVERS: [&str; 2] = ["ns1.inboxkit.com", "ns2.inboxkit.com"];
/// Mailboxes a domain can hold (seed example: 50 available on a fresh domain).
pub const MAILBOXES_PER_DOMAIN: u32 = 50;

/// A deterministic source of fake but plausible InboxKit data.
#[derive(Debug)]
pub struct Faker {
    rng: StdRng,
}

impl Faker {
    /// A generator whose output depends only on `seed`.
    pub fn seeded(seed: u64) -> Self {
        Faker {
            rng: StdRng::seed_from_u64(seed),
        }
    }

    /// A generator seeded from the operating system.
    pub fn from_entropy() -> Self {
        Faker {
            rng: rand::make_rng(),
        }
    }

    /// A new id of `kind`.
    pub fn id(&mut self, kind: IdKind) -> String {
        new_id(kind, &mut self.rng)
    }

    /// A team and its default workspace.
    pub fn account(&mut self) -> Account {
        let company: String = CompanyName().fake_with_rng(&mut self.rng);
        Account {
            team_id: self.id(IdKind::Team),
            team_name: format!("{company} Team"),
            workspace_id: self.id(IdKind::Workspace),
        }
    }

    /// A plausible, lowercase domain name such as `getbrightwave.io`.
    pub fn domain_name(&mut self) -> String {
        let prefix = DOMAIN_WORDS.choose(&mut self.rng).expect("non-empty");
        let word: String = Word().fake_with_rng(&mut self.rng);
        let tld = TLDS.choose(&mut self.rng).expect("non-empty");
        let number: u16 = self.rng.random_range(1..1000);
        format!("{prefix}{word}{number}.{tld}").to_lowercase()
    }

    fn tags(&mut self) -> Vec<String> {
        let count = self.rng.random_range(0..=2);
        TAGS.sample(&mut self.rng, count)
            .map(|t| (*t).to_owned())
            .collect()
    }

    /// A freshly bought domain in `registration_in_progress`, renewing in `years`.
    pub fn purchased_domain(
        &mut self,
        name: Option<String>,
        years: u32,
        now: DateTime<Utc>,
    ) -> Domain {
        let name = name.unwrap_or_else(|| self.domain_name());
        let tld = name
            .rsplit_once('.')
            .map(|(_, tld)| tld.to_lowercase())
            .unwrap_or_default();
        Domain {
            uid: self.id(IdKind::Domain),
            name,
            tld,
            status: DomainStatus::RegistrationInProgress,
            previous_status: None,
            dns_propagation_status: DnsPropagationStatus::Pending,
            nameservers: INBOXKIT_NAMESERVERS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            connection_type: ConnectionType::Purchased,
            assigned_mailboxes: 0,
            available_mailboxes: MAILBOXES_PER_DOMAIN,
            tags: self.tags(),
            renewal_date: Some(format_timestamp(add_months(now, 12 * years))),
            renewal_status: RenewalStatus::NotDue,
            registration_years: Some(years),
        }
    }

    /// A mailbox just bought on `domain_name`, in `scheduled`.
    pub fn mailbox(
        &mut self,
        domain_name: &str,
        platform: Platform,
        now: DateTime<Utc>,
    ) -> Mailbox {
        let first_name: String = FirstName().fake_with_rng(&mut self.rng);
        let last_name: String = LastName().fake_with_rng(&mut self.rng);
        let username = format!("{}.{}", first_name, last_name)
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
            .collect::<String>();
        self.mailbox_named(
            &username,
            &first_name,
            &last_name,
            domain_name,
            platform,
            now,
        )
    }

    /// A mailbox with the given names (as the buy endpoint receives them), in `scheduled`.
    pub fn mailbox_named(
        &mut self,
        username: &str,
        first_name: &str,
        last_name: &str,
        domain_name: &str,
        platform: Platform,
        now: DateTime<Utc>,
    ) -> Mailbox {
        Mailbox {
            uid: self.id(IdKind::Mailbox),
            email: format!("{username}@{domain_name}"),
            username: username.to_owned(),
            first_name: first_name.to_owned(),
            last_name: last_name.to_owned(),
            profile_picture: String::new(),
            domain_name: domain_name.to_owned(),
            platform,
            status: MailboxStatus::Scheduled,
            previous_status: None,
            is_admin: false,
            forwarding_email: None,
            tags: self.tags(),
            mailbox_update_status: None,
            mailbox_cancellation_status: None,
            dns_propagation_status: DnsPropagationStatus::Pending,
            renewal_date: Some(format_timestamp(add_months(now, 1))),
            renewal_status: RenewalStatus::NotDue,
            renewal_cycle: "monthly".to_owned(),
            password: Some(self.password()),
            app_password: Some(self.app_password()),
            secret: Some(self.totp_secret()),
        }
    }

    /// A consent request in `queued`.
    pub fn consent_request(&mut self) -> ConsentRequest {
        let uid = self.id(IdKind::ConsentRequest);
        ConsentRequest {
            consent_url: format!("https://app.inboxkit.com/consent/{uid}"),
            uid,
            status: RequestStatus::Queued,
            status_text: status_text(&RequestStatus::Queued),
            status_reason: None,
        }
    }

    /// A client-ID request for `domain_name` in `queued`.
    pub fn client_id_request(&mut self, domain_name: &str) -> ClientIdRequest {
        ClientIdRequest {
            uid: self.id(IdKind::ClientIdRequest),
            status: RequestStatus::Queued,
            status_text: status_text(&RequestStatus::Queued),
            status_reason: None,
            domain_name: domain_name.to_owned(),
        }
    }

    /// A random 16-character password with letters, digits and symbols.
    pub fn password(&mut self) -> String {
        const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789!@#$%";
        (0..16)
            .map(|_| CHARS[self.rng.random_range(0..CHARS.len())] as char)
            .collect()
    }

    /// A Google-style app password: four groups of four lowercase letters.
    pub fn app_password(&mut self) -> String {
        (0..4)
            .map(|_| {
                (0..4)
                    .map(|_| self.rng.random_range(b'a'..=b'z') as char)
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A base32 TOTP secret of 32 characters.
    pub fn totp_secret(&mut self) -> String {
        const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        (0..32)
            .map(|_| BASE32[self.rng.random_range(0..BASE32.len())] as char)
            .collect()
    }

    /// A uniform draw in `[0, 1)`, for failure probabilities and jitter.
    pub fn unit(&mut self) -> f64 {
        self.rng.random()
    }
}

/// The human-readable `status_text` of a request status, e.g. `In progress`.
pub fn status_text(status: &RequestStatus) -> String {
    match status {
        RequestStatus::Queued => "Queued",
        RequestStatus::Pending => "Waiting for approval",
        RequestStatus::Processing => "In progress",
        RequestStatus::Completed => "Completed",
        RequestStatus::Failed => "Failed",
        RequestStatus::Errored => "Errored",
        RequestStatus::Cancelled => "Cancelled",
        RequestStatus::Other(other) => other,
    }
    .to_owned()
}

fn midnight(time: DateTime<Utc>) -> DateTime<Utc> {
    time.date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

/// Midnight of the calendar day `months` months after `time`'s day (a day past the month's end
/// becomes its last day: 2024-01-31 + 1 month = 2024-02-29); 2024-01-10 + 12 months =
/// 2025-01-10, whatever leap days lie between.
pub fn add_months(time: DateTime<Utc>, months: u32) -> DateTime<Utc> {
    midnight(time)
        .checked_add_months(chrono::Months::new(months))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-10T15:30:45.123Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_same_seed_gives_the_same_entities() {
        let mut a = Faker::seeded(42);
        let mut b = Faker::seeded(42);
        assert_eq!(a.account(), b.account());
        assert_eq!(
            a.purchased_domain(None, 1, now()),
            b.purchased_domain(None, 1, now())
        );
        assert_eq!(
            a.mailbox("x.com", Platform::Google, now()),
            b.mailbox("x.com", Platform::Google, now())
        );
        assert_ne!(Faker::seeded(1).account(), Faker::seeded(2).account());
    }

    #[test]
    fn entities_are_plausible() {
        let mut faker = Faker::seeded(3);
        let domain = faker.purchased_domain(None, 2, now());
        assert_eq!(domain.tld, domain.name.rsplit('.').next().unwrap());
        assert_eq!(
            domain.renewal_date.as_deref(),
            Some("2026-01-10T00:00:00.000Z"),
            "two calendar years after 2024-01-10"
        );
        let mailbox = faker.mailbox(&domain.name, Platform::Microsoft, now());
        assert_eq!(
            mailbox.email,
            format!("{}@{}", mailbox.username, domain.name)
        );
        assert!(mailbox.uid.starts_with("mailbox-"));
        assert_eq!(mailbox.password.as_deref().map(str::len), Some(16));
        assert_eq!(mailbox.app_password.as_deref().map(str::len), Some(19));
        assert_ne!(
            mailbox.password,
            faker
                .mailbox(&domain.name, Platform::Google, now())
                .password
        );
    }
}

#[cfg(test)]
mod calendar_tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).unwrap().to_utc()
    }

    #[test]
    fn renewal_dates_follow_the_calendar() {
        // The seed page's example: an event of 2024-01-10 renews on 2025-01-10.
        assert_eq!(
            format_timestamp(add_months(at("2024-01-10T15:30:45.123Z"), 12)),
            "2025-01-10T00:00:00.000Z"
        );
        assert_eq!(
            format_timestamp(add_months(at("2024-02-29T08:00:00Z"), 12)),
            "2025-02-28T00:00:00.000Z"
        );
        assert_eq!(
            format_timestamp(add_months(at("2024-01-31T08:00:00Z"), 1)),
            "2024-02-29T00:00:00.000Z"
        );
        assert_eq!(
            format_timestamp(add_months(at("2023-12-15T00:00:00Z"), 1)),
            "2024-01-15T00:00:00.000Z"
        );
    }
}
