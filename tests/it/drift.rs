//! `drift`: recordings of the mock itself show none; hand-written fixtures that mimic another
//! contract show exactly their one difference.

use inboxkit_mock::contract::{Profile, SignatureScheme};
use inboxkit_mock::drift::{
    DriftReport, EventDrift, Expectation, ExtraField, HeaderDifference, HeaderProblem,
    MissingField, SignatureDifference, SignatureSummary, UnknownValue, analyze,
};
use inboxkit_mock::recording::{SignatureKeys, load};

use crate::recording::{API_KEY, TempFile, fixture, keys, record_mock_traffic};
use crate::support::{SECRET, run_cli};

fn analyze_file(path: &std::path::Path, profile: Profile, keys: &SignatureKeys) -> DriftReport {
    let recording = load(path, false).unwrap();
    analyze(
        recording.requests.iter().map(|n| &n.request),
        Expectation::from(&profile.settings()),
        keys,
    )
}

/// The report's only event type.
fn only_event(report: &DriftReport) -> &EventDrift {
    assert_eq!(report.events.len(), 1, "{}", report.to_text());
    &report.events[0]
}

/// A domain event of `deliveries` deliveries whose hmac-body signatures all verified.
fn domain_verified(deliveries: usize) -> EventDrift {
    EventDrift {
        event: "domain.status_changed".into(),
        deliveries,
        signatures: SignatureSummary {
            hmac_body: deliveries,
            ..Default::default()
        },
        ..Default::default()
    }
}

#[tokio::test]
async fn a_recording_of_the_mock_itself_shows_no_drift() {
    for profile in [Profile::Seed, Profile::Current] {
        let file = record_mock_traffic(profile, false).await;
        let report = analyze_file(&file.0, profile, &SignatureKeys::default());
        assert!(!report.has_drift(), "{profile:?}: {}", report.to_text());
        assert_eq!(report.deliveries, 4);
        assert_eq!(report.events.len(), 4);
        for event in &report.events {
            let verified = match profile.settings().signature_scheme {
                SignatureScheme::HmacBody => event.signatures.hmac_body,
                SignatureScheme::ApiKeySha256 => event.signatures.api_key_sha256,
            };
            assert_eq!(
                verified, 1,
                "{}: the recorded verdicts are used",
                event.event
            );
        }
        let name = format!("{profile:?}").to_lowercase();
        let path = file.0.to_str().unwrap();
        let (code, stdout, stderr) = run_cli(&["drift", path, "--profile", &name], b"").await;
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.trim_end().ends_with("no drift"), "{stdout}");
    }
}

#[tokio::test]
async fn the_seed_example_as_received_shows_no_drift() {
    let report = analyze_file(&fixture("seed-example.jsonl"), Profile::Seed, &keys());
    assert_eq!(only_event(&report), &domain_verified(1));
}

#[test]
fn an_extra_field_is_reported_and_nothing_else() {
    let report = analyze_file(&fixture("extra-field.jsonl"), Profile::Seed, &keys());
    let expected = EventDrift {
        extra_fields: vec![ExtraField {
            path: "data.domain.auto_renew".into(),
            seen_types: vec!["boolean".into()],
            count: 1,
        }],
        ..domain_verified(1)
    };
    assert_eq!(only_event(&report), &expected);
    assert!(report.has_drift());
}

#[test]
fn a_renamed_field_is_one_extra_and_one_missing_field() {
    let report = analyze_file(&fixture("renamed-field.jsonl"), Profile::Seed, &keys());
    let expected = EventDrift {
        extra_fields: vec![ExtraField {
            path: "data.domain.top_level_domain".into(),
            seen_types: vec!["string".into()],
            count: 2,
        }],
        missing_fields: vec![MissingField {
            path: "data.domain.tld".into(),
            count: 2,
        }],
        ..domain_verified(2)
    };
    assert_eq!(only_event(&report), &expected);
}

#[test]
fn an_unknown_status_is_reported_with_its_path_and_value() {
    let report = analyze_file(&fixture("unknown-status.jsonl"), Profile::Seed, &keys());
    let event = only_event(&report);
    assert_eq!(event.unknown_values.len(), 1, "{}", report.to_text());
    let unknown = &event.unknown_values[0];
    assert_eq!(
        (unknown.path.as_str(), unknown.value.as_str(), unknown.count),
        ("data.domain.status", "transferring", 1)
    );
    assert!(
        unknown
            .known
            .contains(&"waiting_for_dns_propagation".to_owned())
    );
    let expected = EventDrift {
        unknown_values: vec![UnknownValue {
            known: unknown.known.clone(),
            ..unknown.clone()
        }],
        ..domain_verified(2)
    };
    assert_eq!(event, &expected);
}

#[test]
fn the_other_signature_scheme_is_reported() {
    let expected = EventDrift {
        signature_differences: vec![SignatureDifference {
            expected: SignatureScheme::HmacBody,
            verified_instead: Some(SignatureScheme::ApiKeySha256),
            count: 1,
        }],
        signatures: SignatureSummary {
            api_key_sha256: 1,
            ..Default::default()
        },
        ..domain_verified(1)
    };
    // Judged with both keys, and from the verdicts recorded with the line: the same report.
    for keys in [keys(), SignatureKeys::default()] {
        let report = analyze_file(&fixture("other-scheme.jsonl"), Profile::Seed, &keys);
        assert_eq!(only_event(&report), &expected);
    }
    // Compared with the current profile's scheme (and no Authorization), only the header
    // differs: the fixture sends `Authorization`.
    let mut current = Profile::Current.settings();
    current.payload_shape = inboxkit_mock::contract::PayloadShape::Seed;
    let recording = load(&fixture("other-scheme.jsonl"), false).unwrap();
    let report = analyze(
        recording.requests.iter().map(|n| &n.request),
        Expectation::from(&current),
        &keys(),
    );
    let expected = EventDrift {
        header_differences: vec![HeaderDifference {
            header: "authorization".into(),
            problem: HeaderProblem::Unexpected,
            count: 1,
        }],
        signatures: SignatureSummary {
            api_key_sha256: 1,
            ..Default::default()
        },
        ..domain_verified(1)
    };
    assert_eq!(only_event(&report), &expected);
}

#[tokio::test]
async fn the_other_payload_shape_is_reported_field_by_field() {
    let file = record_mock_traffic(Profile::Seed, false).await;
    let report = analyze_file(&file.0, Profile::Current, &keys());
    assert_eq!(report.events.len(), 4);
    for event in &report.events {
        let paths = |fields: Vec<&str>| fields.into_iter().map(str::to_owned).collect::<Vec<_>>();
        let extra: Vec<_> = event.extra_fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(
            extra,
            paths(vec!["data.change_details", "workspace_id"]),
            "{}",
            event.event
        );
        let missing: Vec<_> = event
            .missing_fields
            .iter()
            .map(|f| f.path.as_str())
            .collect();
        assert_eq!(missing, ["data.metadata"]);
        assert_eq!(
            event.header_differences,
            [HeaderDifference {
                header: "authorization".into(),
                problem: HeaderProblem::Unexpected,
                count: 1
            }]
        );
        assert_eq!(
            event.signature_differences[0].verified_instead,
            Some(SignatureScheme::HmacBody)
        );
        assert!(event.type_mismatches.is_empty() && event.unknown_values.is_empty());
    }
}

#[tokio::test]
async fn the_cli_exits_1_on_drift_and_speaks_json() {
    let path = fixture("extra-field.jsonl");
    let path = path.to_str().unwrap();
    let (code, stdout, _) = run_cli(&["drift", path], b"").await;
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("data.domain.auto_renew"), "{stdout}");
    let (code, stdout, _) = run_cli(
        &[
            "drift",
            path,
            "--output",
            "json",
            "--secret",
            SECRET,
            "--api-key",
            API_KEY,
        ],
        b"",
    )
    .await;
    assert_eq!(code, 1);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        json["events"][0]["extra_fields"][0]["path"],
        "data.domain.auto_renew"
    );
    assert_eq!(json["events"][0]["signatures"]["hmac_body"], 1);
    assert!(
        !stdout.contains(SECRET) && !stdout.contains(API_KEY),
        "keys never printed"
    );
}

#[tokio::test]
async fn a_corrupt_line_is_named_and_skipped_only_when_asked() {
    let path = fixture("corrupt.jsonl");
    let path = path.to_str().unwrap();
    let (code, stdout, stderr) = run_cli(&["drift", path], b"").await;
    assert_eq!(code, 64, "{stdout}{stderr}");
    assert!(
        stderr.contains("line 2") && stderr.contains("truncated"),
        "{stderr}"
    );
    assert!(stdout.is_empty());
    let (code, stdout, stderr) = run_cli(&["drift", path, "--skip-bad"], b"").await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.contains("skipped line 2"), "{stderr}");
    assert!(stdout.contains("2 deliveries"), "{stdout}");

    let empty = TempFile::new();
    std::fs::write(&empty.0, "\n").unwrap();
    let (code, _, stderr) = run_cli(&["drift", empty.0.to_str().unwrap()], b"").await;
    assert_eq!(code, 64, "an empty capture is not a pass: {stderr}");
}
