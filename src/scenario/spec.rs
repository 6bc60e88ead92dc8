//! The scenario format (TOML), its types and its validation.

use std::collections::BTreeMap;
use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::threshold::Threshold;
use crate::contract::{EventType, PayloadShape, Profile, SignatureScheme};
use crate::delivery::DeliveryState;
use crate::receiver::FaultProgram;

/// A whole scenario file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in reports.
    pub name: String,
    /// What it tests.
    #[serde(default)]
    pub description: String,
    /// Where deliveries go and under which contract settings.
    #[serde(default)]
    pub target: TargetSpec,
    /// The simulated account to set up.
    #[serde(default)]
    pub world: WorldSpec,
    /// Functional steps, run in order before any load.
    #[serde(default)]
    pub steps: Vec<Step>,
    /// Load phases in the open model, run in order after the steps.
    #[serde(default)]
    pub load: Vec<Phase>,
    /// Misbehaviour of the sender, on purpose.
    #[serde(default)]
    pub faults: SenderFaults,
    /// Pass/fail conditions, e.g. `success_rate >= 0.999`.
    #[serde(default)]
    pub thresholds: Vec<Spanned<String>>,
    /// What the report keeps.
    #[serde(default)]
    pub report: ReportSpec,
}

/// What the report of a run keeps (`[report]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// The first N failed deliveries kept with every attempt's request and response
    /// [default: 20; 0 keeps none]; `run --failed-deliveries` overrides it.
    pub failed_deliveries: Option<usize>,
}

/// Subscriber and contract settings; everything optional (the built-in receiver by default).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    /// Subscriber URL; absent means the built-in receiver.
    pub url: Option<String>,
    /// Webhook secret (hmac-body scheme).
    pub secret: Option<String>,
    /// API key (api-key-sha256 scheme).
    pub api_key: Option<String>,
    /// Contract profile.
    pub profile: Option<Profile>,
    /// Signature scheme override.
    pub signature_scheme: Option<SignatureScheme>,
    /// Payload shape override.
    pub payload_shape: Option<PayloadShape>,
    /// Deadline override, e.g. `10s`.
    pub timeout: Option<Spanned<String>>,
    /// Retry delays, e.g. `["10s", "30s", "60s"]`.
    pub retry_delays: Option<Vec<Spanned<String>>>,
    /// Simulated seconds per real second.
    pub time_scale: Option<f64>,
    /// Attempts in flight at once.
    pub concurrency: Option<usize>,
    /// Fault programs for the built-in receiver (the `receive --fault` syntax).
    #[serde(default)]
    pub receiver_faults: Vec<Spanned<String>>,
}

/// The simulated account.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorldSpec {
    /// Seed for names and ids (random when absent).
    pub seed: Option<u64>,
    /// Domains to create up front.
    #[serde(default)]
    pub domains: usize,
    /// Mailboxes to create up front, spread over the domains.
    #[serde(default)]
    pub mailboxes: usize,
}

/// One functional step.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Register a domain (through the simulated REST API's logic); `as` names it for later steps.
    RegisterDomain {
        /// Domain name (generated when absent).
        name: Option<String>,
        /// Reference name for later steps (`$name`).
        #[serde(rename = "as")]
        alias: Option<String>,
    },
    /// Buy a mailbox on a domain (`$alias` or a name).
    BuyMailbox {
        /// Domain reference or name.
        domain: String,
        /// Local part (generated when absent).
        username: Option<String>,
        /// Platform, e.g. `GOOGLE`.
        platform: Option<String>,
        /// Reference name for later steps.
        #[serde(rename = "as")]
        alias: Option<String>,
    },
    /// Force an entity (`$alias` or uid) into a status, if its lifecycle allows it.
    Transition {
        /// Entity reference or uid.
        entity: String,
        /// Target status.
        to: String,
    },
    /// Send one event directly.
    Trigger {
        /// Event type.
        event: String,
        /// Entity reference or uid (a fresh entity when absent).
        entity: Option<String>,
        /// Field overrides, `path = value`.
        #[serde(default)]
        set: BTreeMap<String, toml::Value>,
    },
    /// Advance the simulated clock, firing due transitions in order.
    Advance(Spanned<String>),
    /// Wait until deliveries match, or fail the step.
    Expect(Expectation),
}

/// What `expect` waits for.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expectation {
    /// Only deliveries about this entity (`$alias` or uid).
    pub entity: Option<String>,
    /// Only deliveries of this event type.
    pub event: Option<String>,
    /// The new statuses, in delivery order.
    #[serde(default)]
    pub statuses: Vec<String>,
    /// Every matching delivery ends in this state.
    pub state: Option<DeliveryState>,
    /// Exactly this many matching deliveries.
    pub count: Option<usize>,
    /// How long to wait for the deliveries (wall-clock time).
    pub within: Spanned<String>,
}

/// A load phase: a rate (constant or ramping) for a duration, over a weighted event mix.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Phase {
    /// Name in reports.
    #[serde(default)]
    pub name: Option<String>,
    /// Constant rate in events per second (or the start rate of `stages`).
    #[serde(default)]
    pub rate: f64,
    /// Length of a constant-rate phase.
    pub duration: Option<Spanned<String>>,
    /// Ramping: each stage moves linearly from the previous rate to its own.
    #[serde(default)]
    pub stages: Vec<Stage>,
    /// Deliveries in flight at once; when full, sends start late (and are counted).
    pub max_in_flight: Option<usize>,
    /// Event type -> weight; default: all four types, domains and mailboxes weighted up.
    #[serde(default)]
    pub mix: BTreeMap<Spanned<String>, f64>,
}

/// One ramp of a phase.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stage {
    /// Rate reached at the end of the stage.
    pub rate: f64,
    /// How long the ramp takes.
    pub duration: Spanned<String>,
}

/// Deliberate misbehaviour of the sender, as fractions of events in [0, 1].
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SenderFaults {
    /// Events sent twice, byte for byte (at-least-once delivery).
    #[serde(default)]
    pub duplicates: f64,
    /// Events held back and sent after the next one.
    #[serde(default)]
    pub reorder: f64,
    /// Events whose `timestamp` is an hour old.
    #[serde(default)]
    pub stale_timestamps: f64,
    /// Events signed with the wrong key (a correct subscriber rejects them).
    #[serde(default)]
    pub bad_signatures: f64,
}

type Invalid = (Range<usize>, String, String);

/// Parses a human duration kept with its position.
pub fn duration(value: &Spanned<String>, field: &str) -> Result<Duration, Invalid> {
    crate::contract::duration::parse(value.get_ref())
        .map_err(|e| (value.span(), field.to_owned(), e.to_string()))
}

impl Phase {
    /// The phase as (start rate, [(end rate, duration)]) segments.
    pub fn segments(&self) -> Vec<(f64, f64, Duration)> {
        let mut segments = Vec::new();
        if let Some(length) = &self.duration {
            let length = humantime::parse_duration(length.get_ref()).unwrap_or_default();
            segments.push((self.rate, self.rate, length));
        }
        let mut from = self.rate;
        for stage in &self.stages {
            let length = humantime::parse_duration(stage.duration.get_ref()).unwrap_or_default();
            segments.push((from, stage.rate, length));
            from = stage.rate;
        }
        segments
    }

    /// The event mix with parsed event types (validated at load).
    pub fn event_mix(&self) -> Vec<(EventType, f64)> {
        if self.mix.is_empty() {
            return vec![
                (EventType::DomainStatusChanged, 2.0),
                (EventType::MailboxStatusChanged, 6.0),
                (EventType::ConsentRequestStatusChanged, 1.0),
                (EventType::ClientIdRequestStatusChanged, 1.0),
            ];
        }
        self.mix
            .iter()
            .map(|(event, weight)| (EventType::parse(event.get_ref()), *weight))
            .collect()
    }

    /// Total length of the phase.
    pub fn length(&self) -> Duration {
        self.segments().iter().map(|(_, _, d)| *d).sum()
    }
}

impl Scenario {
    /// The built-in receiver's fault programs, parsed (validated at load).
    pub fn receiver_faults(&self) -> Vec<FaultProgram> {
        self.target
            .receiver_faults
            .iter()
            .filter_map(|p| p.get_ref().parse().ok())
            .collect()
    }

    /// The thresholds, parsed (validated at load).
    pub fn parsed_thresholds(&self) -> Vec<Threshold> {
        self.thresholds
            .iter()
            .filter_map(|t| t.get_ref().parse().ok())
            .collect()
    }

    pub(super) fn validate(&self) -> Result<(), Invalid> {
        for (index, threshold) in self.thresholds.iter().enumerate() {
            threshold.get_ref().parse::<Threshold>().map_err(|e| {
                (
                    threshold.span(),
                    format!("thresholds[{index}]"),
                    e.to_string(),
                )
            })?;
        }
        for (index, program) in self.target.receiver_faults.iter().enumerate() {
            program.get_ref().parse::<FaultProgram>().map_err(|e| {
                (
                    program.span(),
                    format!("target.receiver_faults[{index}]"),
                    e.to_string(),
                )
            })?;
        }
        if let Some(timeout) = &self.target.timeout {
            duration(timeout, "target.timeout")?;
        }
        for (index, delay) in self.target.retry_delays.iter().flatten().enumerate() {
            duration(delay, &format!("target.retry_delays[{index}]"))?;
        }
        for (index, step) in self.steps.iter().enumerate() {
            match step {
                Step::Advance(by) => {
                    duration(by, &format!("steps[{index}].advance"))?;
                }
                Step::Expect(expectation) => {
                    duration(
                        &expectation.within,
                        &format!("steps[{index}].expect.within"),
                    )?;
                }
                _ => {}
            }
        }
        let faults = &self.faults;
        for (name, value) in [
            ("duplicates", faults.duplicates),
            ("reorder", faults.reorder),
            ("stale_timestamps", faults.stale_timestamps),
            ("bad_signatures", faults.bad_signatures),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err((
                    0..0,
                    format!("faults.{name}"),
                    format!("{value} is not a fraction between 0 and 1"),
                ));
            }
        }
        for (index, phase) in self.load.iter().enumerate() {
            let field = |name: &str| format!("load[{index}].{name}");
            let rates = std::iter::once(phase.rate).chain(phase.stages.iter().map(|s| s.rate));
            if let Some(bad) = rates.into_iter().find(|r| !(r.is_finite() && *r >= 0.0)) {
                return Err((
                    0..0,
                    field("rate"),
                    format!("{bad} is not a rate >= 0 events per second"),
                ));
            }
            if let Some(length) = &phase.duration {
                duration(length, &field("duration"))?;
            }
            for (stage_index, stage) in phase.stages.iter().enumerate() {
                duration(
                    &stage.duration,
                    &field(&format!("stages[{stage_index}].duration")),
                )?;
            }
            for (event, weight) in &phase.mix {
                event
                    .get_ref()
                    .parse::<EventType>()
                    .map_err(|e| (event.span(), field("mix"), e.to_string()))?;
                if !(weight.is_finite() && *weight >= 0.0) {
                    return Err((
                        event.span(),
                        field("mix"),
                        format!("weight {weight} must be a number >= 0"),
                    ));
                }
            }
            if phase.duration.is_none() && phase.stages.is_empty() {
                return Err((
                    0..0,
                    format!("load[{index}]"),
                    "a phase needs `duration` or `stages`".into(),
                ));
            }
        }
        Ok(())
    }
}
