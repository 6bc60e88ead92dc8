//! The retry policy against a reference model written from the contract's words, not from the
//! code: over random sequences of answers (HTTP codes and failures below HTTP) and random
//! settings, the real classifier and policy give the same attempts, terminal state and delays.

use std::time::Duration;

use inboxkit_mock::delivery::{AttemptOutcome, Decision, RetryPolicy, TerminalState};
use proptest::prelude::*;

/// One answer as a subscriber gives it.
#[derive(Debug, Clone, Copy)]
enum Answer {
    Status(u16),
    Timeout,
    Refused,
}

/// CONTRACT.md: "2xx done; 4xx never retried; 5xx and timeout retried" (3 times by default);
/// chosen: connection failures retried like 5xx unless turned off; 3xx not retried unless
/// turned on; anything outside 200-599 not retried.
fn model(
    answers: &[Answer],
    retries: usize,
    connection: bool,
    redirects: bool,
) -> (usize, &'static str) {
    for (index, answer) in answers.iter().enumerate() {
        let attempt = index + 1;
        let retry = match *answer {
            Answer::Status(code) if (200..300).contains(&code) => return (attempt, "delivered"),
            Answer::Status(code) if (400..500).contains(&code) => false,
            Answer::Status(code) if (500..600).contains(&code) => true,
            Answer::Status(code) if (300..400).contains(&code) => redirects,
            Answer::Status(_) => false,
            Answer::Timeout => true,
            Answer::Refused => connection,
        };
        if !retry {
            return (attempt, "rejected");
        }
        if attempt > retries {
            return (attempt, "exhausted");
        }
    }
    (answers.len(), "unfinished")
}

fn outcome(answer: Answer) -> AttemptOutcome {
    match answer {
        Answer::Status(code) => AttemptOutcome::from_status(code),
        Answer::Timeout => AttemptOutcome::Timeout,
        Answer::Refused => AttemptOutcome::ConnectError,
    }
}

fn answer() -> impl Strategy<Value = Answer> {
    prop_oneof![
        (100u16..=999).prop_map(Answer::Status),
        prop::sample::select(vec![200u16, 204, 301, 400, 401, 410, 429, 500, 503])
            .prop_map(Answer::Status),
        Just(Answer::Timeout),
        Just(Answer::Refused),
    ]
}

proptest! {
    #[test]
    fn the_policy_agrees_with_the_contracts_model(
        answers in prop::collection::vec(answer(), 8),
        delays in prop::collection::vec(1u64..600, 0..6),
        connection in any::<bool>(),
        redirects in any::<bool>(),
    ) {
        let policy = RetryPolicy {
            delays: delays.iter().map(|s| Duration::from_secs(*s)).collect(),
            jitter: 0.0,
            retry_connection_errors: connection,
            retry_redirects: redirects,
        };
        let mut attempts = 0;
        let mut waited = Vec::new();
        let state = loop {
            let answer = answers[attempts];
            attempts += 1;
            match policy.decide(attempts as u32, outcome(answer), 0.5) {
                Decision::Finish(state) => break state,
                Decision::RetryAfter(delay) => waited.push(delay.as_secs()),
            }
        };
        let expected = model(&answers, delays.len(), connection, redirects);
        let state = match state {
            TerminalState::Delivered => "delivered",
            TerminalState::Rejected => "rejected",
            TerminalState::Exhausted => "exhausted",
        };
        prop_assert_eq!((attempts, state), expected);
        // Retry n waits the n-th configured delay.
        prop_assert_eq!(&waited[..], &delays[..waited.len()]);
    }
}
