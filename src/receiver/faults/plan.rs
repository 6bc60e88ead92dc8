//! Applying fault programs: which programs match a request, and what they do to it.

use std::sync::Mutex;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

use super::syntax::format_duration;
use super::{FaultAction, FaultProgram};

/// How the receiver answers a request the faults decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAnswer {
    /// This code, with `Retry-After` when set.
    Status {
        /// HTTP code.
        code: u16,
        /// `Retry-After` value.
        retry_after: Option<Duration>,
    },
    /// No answer: the connection is closed.
    Close,
    /// 401, as if the signature were wrong.
    BadSignature,
}

/// What the faults do to one request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FaultPlan {
    /// Wait this long before answering.
    pub delay: Duration,
    /// Replaces normal handling when set (the request is then not processed).
    pub answer: Option<FaultAnswer>,
    /// The 2xx code a status sequence chose for a normally handled request.
    pub success_status: Option<u16>,
    /// Spread the answer's body over this long.
    pub drip: Option<Duration>,
    /// The programs that took effect, with what they did, for the record.
    pub applied: Vec<String>,
}

impl FaultPlan {
    /// Whether no fault touched the request.
    pub fn is_clean(&self) -> bool {
        self.applied.is_empty()
    }
}

#[derive(Debug)]
struct ProgramState {
    program: FaultProgram,
    matched: usize,
}

#[derive(Debug)]
struct Inner {
    programs: Vec<ProgramState>,
    rng: StdRng,
}

/// The receiver's fault programs with their sequence state; replaced at run time as a whole.
#[derive(Debug)]
pub struct Faults {
    inner: Mutex<Inner>,
}

impl Faults {
    /// Programs applied in order; `seed` makes random delays and failures repeatable.
    pub fn new(programs: Vec<FaultProgram>, seed: Option<u64>) -> Self {
        let rng = seed.map_or_else(rand::make_rng, StdRng::seed_from_u64);
        Faults {
            inner: Mutex::new(Inner {
                programs: states(programs),
                rng,
            }),
        }
    }

    /// Replaces every program; sequences start over.
    pub fn set(&self, programs: Vec<FaultProgram>) {
        self.inner.lock().expect("faults lock").programs = states(programs);
    }

    /// The programs in force.
    pub fn programs(&self) -> Vec<FaultProgram> {
        let inner = self.inner.lock().expect("faults lock");
        inner
            .programs
            .iter()
            .map(|state| state.program.clone())
            .collect()
    }

    /// Decides what happens to a request about `event` / `uid`, advancing sequences.
    pub fn plan(&self, event: Option<&str>, uid: Option<&str>) -> FaultPlan {
        let mut inner = self.inner.lock().expect("faults lock");
        let Inner { programs, rng } = &mut *inner;
        let mut plan = FaultPlan::default();
        for state in programs
            .iter_mut()
            .filter(|s| s.program.matches(event, uid))
        {
            state.matched += 1;
            let spec = state.program.to_string();
            let effect = match &state.program.action {
                FaultAction::Status { codes, retry_after } => {
                    let index = (state.matched - 1).min(codes.len().saturating_sub(1));
                    let Some(&code) = codes.get(index) else {
                        continue;
                    };
                    if (200..300).contains(&code) {
                        plan.success_status.get_or_insert(code);
                    } else if plan.answer.is_none() {
                        plan.answer = Some(FaultAnswer::Status {
                            code,
                            retry_after: *retry_after,
                        });
                    }
                    format!("{spec} -> {code}")
                }
                FaultAction::Delay { min, max } => {
                    let wait = if min == max {
                        *min
                    } else {
                        let nanos = rng.random_range(min.as_nanos()..=max.as_nanos());
                        Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
                    };
                    plan.delay += wait;
                    format!("{spec} -> {}", format_duration(wait))
                }
                FaultAction::Fail {
                    percent,
                    status,
                    retry_after,
                } => {
                    if rng.random::<f64>() * 100.0 >= *percent {
                        continue;
                    }
                    if plan.answer.is_none() {
                        plan.answer = Some(FaultAnswer::Status {
                            code: *status,
                            retry_after: *retry_after,
                        });
                    }
                    format!("{spec} -> {status}")
                }
                FaultAction::Close => {
                    plan.answer.get_or_insert(FaultAnswer::Close);
                    spec
                }
                FaultAction::Drip { over } => {
                    plan.drip.get_or_insert(*over);
                    spec
                }
                FaultAction::BadSignature => {
                    plan.answer.get_or_insert(FaultAnswer::BadSignature);
                    spec
                }
            };
            plan.applied.push(effect);
        }
        plan
    }
}

fn states(programs: Vec<FaultProgram>) -> Vec<ProgramState> {
    programs
        .into_iter()
        .map(|program| ProgramState {
            program,
            matched: 0,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> FaultProgram {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn a_status_sequence_advances_per_matching_request_and_repeats_its_last_code() {
        let faults = Faults::new(vec![parse("status=500,503,200")], Some(1));
        let codes: Vec<_> = (0..5)
            .map(|_| {
                let plan = faults.plan(Some("e"), Some("u"));
                match plan.answer {
                    Some(FaultAnswer::Status { code, .. }) => code,
                    None => plan.success_status.unwrap_or(0),
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        assert_eq!(codes, [500, 503, 200, 200, 200]);
    }

    #[test]
    fn targets_limit_programs_and_later_programs_still_add_delays() {
        let faults = Faults::new(
            vec![
                parse("status=410:event=mailbox.status_changed"),
                parse("close:uid=domain-1"),
                parse("delay=5ms"),
            ],
            Some(1),
        );
        let plan = faults.plan(Some("domain.status_changed"), Some("domain-2"));
        assert_eq!((plan.answer, plan.delay), (None, Duration::from_millis(5)));
        let plan = faults.plan(Some("domain.status_changed"), Some("domain-1"));
        assert_eq!(plan.answer, Some(FaultAnswer::Close));
        let plan = faults.plan(Some("mailbox.status_changed"), Some("domain-1"));
        assert_eq!(
            plan.answer,
            Some(FaultAnswer::Status {
                code: 410,
                retry_after: None
            }),
            "the first program that decides wins"
        );
        assert_eq!(plan.applied.len(), 3);
    }

    #[test]
    fn random_faults_stay_in_their_bounds() {
        let faults = Faults::new(vec![parse("delay=10ms..20ms"), parse("fail=30%")], Some(42));
        let mut failures = 0;
        for _ in 0..1000 {
            let plan = faults.plan(None, None);
            assert!(
                plan.delay >= Duration::from_millis(10) && plan.delay <= Duration::from_millis(20)
            );
            failures += usize::from(plan.answer.is_some());
        }
        assert!(
            (200..400).contains(&failures),
            "{failures} of 1000 failed at 30%"
        );
        let never = Faults::new(vec![parse("fail=0%")], None);
        let always = Faults::new(vec![parse("fail=100%")], None);
        for _ in 0..100 {
            assert!(never.plan(None, None).is_clean());
            assert!(always.plan(None, None).answer.is_some());
        }
    }

    #[test]
    fn replacing_programs_restarts_sequences() {
        let faults = Faults::new(vec![parse("status=500,200")], None);
        assert!(faults.plan(None, None).answer.is_some());
        assert!(faults.plan(None, None).answer.is_none());
        faults.set(vec![parse("status=500,200")]);
        assert!(faults.plan(None, None).answer.is_some());
        assert_eq!(faults.programs(), vec![parse("status=500,200")]);
    }
}
