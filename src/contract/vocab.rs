//! String vocabularies of the wire contract (statuses, platforms, event names).
//!
//! Every vocabulary is open: InboxKit adds values over time, so a value the mock does not know
//! is kept verbatim in an `Other` variant instead of failing to parse. That keeps round-trips
//! exact and lets the receiver and `drift` report unknown values instead of rejecting them.

/// Declares an open string enum: known variants with their wire spelling, plus `Other(String)`.
macro_rules! open_vocabulary {
    (
        $(#[$meta:meta])*
        $name:ident { $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)? }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $( $(#[$vmeta])* $variant, )+
            /// A value this version of the mock does not know, kept verbatim.
            Other(String),
        }

        impl $name {
            /// Every known value, in the order the contract lists them.
            pub const KNOWN: &'static [$name] = &[ $( $name::$variant ),+ ];

            /// The wire spelling of this value.
            pub fn as_str(&self) -> &str {
                match self {
                    $( $name::$variant => $wire, )+
                    $name::Other(value) => value,
                }
            }

            /// Whether this value is one the contract lists.
            pub fn is_known(&self) -> bool {
                !matches!(self, $name::Other(_))
            }

            /// Parses a wire value; unknown values become `Other`.
            pub fn parse(value: &str) -> Self {
                match value {
                    $( $wire => $name::$variant, )+
                    other => $name::Other(other.to_owned()),
                }
            }

            /// Parses a wire value, refusing values the contract does not list.
            pub fn parse_known(value: &str) -> Result<Self, crate::contract::UnknownValue> {
                match Self::parse(value) {
                    $name::Other(value) => Err(crate::contract::UnknownValue {
                        vocabulary: stringify!($name),
                        value,
                        known: Self::KNOWN.iter().map(|v| v.as_str().to_owned()).collect(),
                    }),
                    known => Ok(known),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = crate::contract::UnknownValue;
            fn from_str(value: &str) -> Result<Self, Self::Err> {
                Self::parse_known(value)
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
                Ok(Self::parse(&value))
            }
        }

        /// A string limited to the known values: the schema describes what the mock emits, so
        /// a value outside the list is drift (the type itself still accepts it).
        impl schemars::JsonSchema for $name {
            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn schema_id() -> std::borrow::Cow<'static, str> {
                concat!(module_path!(), "::", stringify!($name)).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({
                    "type": "string",
                    "enum": [ $( $wire ),+ ],
                })
            }
        }
    };
}

open_vocabulary! {
    /// The `event` field and `X-InboxKit-Event` header.
    EventType {
        /// A domain's `status` changed.
        DomainStatusChanged => "domain.status_changed",
        /// A mailbox's `status` changed.
        MailboxStatusChanged => "mailbox.status_changed",
        /// An OAuth consent request changed state.
        ConsentRequestStatusChanged => "consent_request.status_changed",
        /// A Google client-ID request changed state.
        ClientIdRequestStatusChanged => "client_id_request.status_changed",
    }
}

impl EventType {
    /// The key under `data` that holds the entity this event is about.
    pub fn data_key(&self) -> Option<&'static str> {
        match self {
            EventType::DomainStatusChanged => Some("domain"),
            EventType::MailboxStatusChanged => Some("mailbox"),
            EventType::ConsentRequestStatusChanged => Some("consent_request"),
            EventType::ClientIdRequestStatusChanged => Some("client_id_request"),
            EventType::Other(_) => None,
        }
    }
}

open_vocabulary! {
    /// `data.domain.status` (integrators' list, plus the seed example's `pending`).
    DomainStatus {
        /// In the cart, not yet bought.
        Cart => "cart",
        /// Shown by the seed example as the state before `active`.
        Pending => "pending",
        /// Bought; the registrar is registering it.
        RegistrationInProgress => "registration_in_progress",
        /// Connected domain waiting for the customer's nameserver change.
        DnsSetupPending => "dns_setup_pending",
        /// Nameservers set; waiting for DNS to propagate.
        WaitingForDnsPropagation => "waiting_for_dns_propagation",
        /// Ready for mailboxes.
        Active => "active",
        /// Not usable for now.
        Inactive => "inactive",
        /// The purchase or renewal payment failed.
        PaymentFailed => "payment_failed",
        /// Cancelled by the customer.
        Cancelled => "cancelled",
        /// Removed.
        Deleted => "deleted",
    }
}

open_vocabulary! {
    /// `data.mailbox.status` (integrators' list).
    MailboxStatus {
        /// Waiting for provisioning to start.
        Pending => "pending",
        /// Bought and queued (the buy endpoint answers with this).
        Scheduled => "scheduled",
        /// Provisioning started.
        Processing => "processing",
        /// Waiting for the domain's DNS.
        WaitingForDnsPropagation => "waiting_for_dns_propagation",
        /// Waiting for the provider's activation email.
        WaitingForActivationEmail => "waiting_for_activation_email",
        /// Activation email arrived.
        ActivationEmailReceived => "activation_email_received",
        /// Creating the user in the workspace.
        ConfiguringWorkspace => "configuring_workspace",
        /// Writing DNS records.
        ConfiguringDns => "configuring_dns",
        /// Setting up DKIM.
        ConfiguringDkim => "configuring_dkim",
        /// Setting up SPF/DMARC and authentication.
        ConfiguringAuth => "configuring_auth",
        /// Last checks.
        FinalizingSetup => "finalizing_setup",
        /// Ready to send.
        Active => "active",
        /// Not usable for now.
        Inactive => "inactive",
        /// Suspended by the provider.
        Suspended => "suspended",
        /// Provisioning failed.
        Failed => "failed",
        /// The renewal payment failed.
        RenewalFailed => "renewal_failed",
        /// Cancellation requested; ends at the period's end.
        ScheduledForCancellation => "scheduled_for_cancellation",
        /// Cancelled.
        Cancelled => "cancelled",
        /// Archived after cancellation.
        Archived => "archived",
        /// Removed.
        Deleted => "deleted",
    }
}

open_vocabulary! {
    /// Status of consent requests and client-ID requests (one shared lifecycle).
    RequestStatus {
        /// Accepted, not started.
        Queued => "queued",
        /// Waiting on the customer or provider.
        Pending => "pending",
        /// Being worked on.
        Processing => "processing",
        /// Done.
        Completed => "completed",
        /// Ended without success.
        Failed => "failed",
        /// Ended by an internal error.
        Errored => "errored",
        /// Cancelled.
        Cancelled => "cancelled",
    }
}

open_vocabulary! {
    /// `dns_propagation_status` (newer docs, plus the seed example's `completed`).
    DnsPropagationStatus {
        /// Not checked yet.
        Pending => "pending",
        /// Checked, not propagated yet.
        Waiting => "waiting",
        /// Propagated.
        Propagated => "propagated",
        /// Propagation failed.
        Failed => "failed",
        /// The check itself errored.
        Errored => "errored",
        /// The seed example's spelling of "propagated".
        Completed => "completed",
    }
}

open_vocabulary! {
    /// `renewal_status` (newer docs, plus the seed example's `not_due`).
    RenewalStatus {
        /// Not applicable.
        Na => "na",
        /// Renewal under way.
        Pending => "pending",
        /// Renewed.
        Completed => "completed",
        /// Renewal failed.
        Failed => "failed",
        /// The seed example's value: renewal not due yet.
        NotDue => "not_due",
    }
}

open_vocabulary! {
    /// `data.domain.connection_type` (seed example `dns`; integrators saw the other two).
    ConnectionType {
        /// The seed example's value.
        Dns => "dns",
        /// Bought through InboxKit.
        Purchased => "purchased",
        /// Bought elsewhere and connected.
        Connected => "connected",
    }
}

open_vocabulary! {
    /// `data.mailbox.platform`; more may come.
    Platform {
        /// Google Workspace.
        Google => "GOOGLE",
        /// Microsoft 365.
        Microsoft => "MICROSOFT",
        /// Azure.
        Azure => "AZURE",
        /// Plain SMTP.
        Smtp => "SMTP",
    }
}

open_vocabulary! {
    /// `data.change_details.triggered_by`.
    TriggeredBy {
        /// InboxKit's own processing.
        System => "system",
        /// Something the customer did.
        UserAction => "user_action",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_round_trip_through_json() {
        for status in MailboxStatus::KNOWN {
            let json = serde_json::to_string(status).unwrap();
            assert_eq!(
                &serde_json::from_str::<MailboxStatus>(&json).unwrap(),
                status
            );
        }
    }

    #[test]
    fn unknown_values_are_kept_verbatim() {
        let platform: Platform = serde_json::from_str("\"YAHOO\"").unwrap();
        assert_eq!(platform, Platform::Other("YAHOO".into()));
        assert_eq!(serde_json::to_string(&platform).unwrap(), "\"YAHOO\"");
        assert!(!platform.is_known());
    }

    #[test]
    fn strict_parse_names_the_known_values() {
        let err = "domain.renamed".parse::<EventType>().unwrap_err();
        let text = err.to_string();
        assert!(text.contains("domain.renamed"), "{text}");
        assert!(text.contains("mailbox.status_changed"), "{text}");
    }

    #[test]
    fn event_types_name_their_data_key() {
        assert_eq!(EventType::MailboxStatusChanged.data_key(), Some("mailbox"));
        assert_eq!(EventType::Other("x.y".into()).data_key(), None);
    }
}
