//! The compact syntax of fault programs: parsing with errors that name the token, and
//! printing back to the same text.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::{
    DEFAULT_FAIL_STATUS, FaultAction, FaultError, FaultProgram, KNOWN_ACTIONS, check_code,
};

fn parse_code(program: &str, token: &str) -> Result<u16, FaultError> {
    let code = token.trim().parse::<u16>().map_err(|_| {
        FaultError::new(program, token, "is not an HTTP status code from 200 to 599")
    })?;
    check_code(program, code)?;
    Ok(code)
}

fn parse_duration(program: &str, token: &str) -> Result<Duration, FaultError> {
    humantime::parse_duration(token.trim()).map_err(|e| {
        FaultError::new(
            program,
            token,
            format!("is not a duration like 250ms or 15s ({e})"),
        )
    })
}

/// `Retry-After` takes whole seconds; a bare number means seconds, and a duration must be a
/// whole number of seconds (`5µs` or `1.5s` cannot be sent and is refused, not rounded).
fn parse_seconds(program: &str, token: &str) -> Result<Duration, FaultError> {
    if let Ok(seconds) = token.trim().parse::<u64>() {
        return Ok(Duration::from_secs(seconds));
    }
    let duration = parse_duration(program, token)?;
    if duration.subsec_nanos() != 0 {
        return Err(FaultError::new(
            program,
            token,
            "is not a whole number of seconds (Retry-After carries whole seconds)".to_owned(),
        ));
    }
    Ok(duration)
}

impl FromStr for FaultProgram {
    type Err = FaultError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let program = text.trim();
        let mut parts = program.split(':');
        let head = parts.next().unwrap_or_default().trim();
        let (name, value) = match head.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim())),
            None => (head, None),
        };
        let needs_value = |what: &str| {
            value.filter(|v| !v.is_empty()).ok_or_else(|| {
                FaultError::new(program, head, format!("needs a value: {name}={what}"))
            })
        };
        let no_value = || match value {
            Some(_) => Err(FaultError::new(
                program,
                head,
                format!("takes no value: write `{name}`"),
            )),
            None => Ok(()),
        };
        let mut action = match name {
            "status" => FaultAction::Status {
                codes: needs_value("500,500,200")?
                    .split(',')
                    .map(|code| parse_code(program, code))
                    .collect::<Result<_, _>>()?,
                retry_after: None,
            },
            "delay" => {
                let value = needs_value("15s or 1s..20s")?;
                let (min, max) = match value.split_once("..") {
                    Some((min, max)) => {
                        (parse_duration(program, min)?, parse_duration(program, max)?)
                    }
                    None => {
                        let fixed = parse_duration(program, value)?;
                        (fixed, fixed)
                    }
                };
                if min > max {
                    return Err(FaultError::new(
                        program,
                        value,
                        "has a minimum above its maximum",
                    ));
                }
                FaultAction::Delay { min, max }
            }
            "fail" => {
                let value = needs_value("20%")?;
                let number = value.strip_suffix('%').unwrap_or(value).trim();
                let percent = number
                    .parse::<f64>()
                    .ok()
                    .filter(|p| (0.0..=100.0).contains(p))
                    .ok_or_else(|| {
                        FaultError::new(program, value, "is not a percentage from 0% to 100%")
                    })?;
                FaultAction::Fail {
                    percent,
                    status: DEFAULT_FAIL_STATUS,
                    retry_after: None,
                }
            }
            "close" => {
                no_value()?;
                FaultAction::Close
            }
            "drip" => FaultAction::Drip {
                over: parse_duration(program, needs_value("10s")?)?,
            },
            "bad-signature" => {
                no_value()?;
                FaultAction::BadSignature
            }
            "" => {
                return Err(FaultError::new(
                    program,
                    head,
                    format!("is empty; write one of: {KNOWN_ACTIONS}"),
                ));
            }
            other => {
                return Err(FaultError::new(
                    program,
                    other,
                    format!("is not a fault; known: {KNOWN_ACTIONS}"),
                ));
            }
        };
        let mut fault = FaultProgram::new(FaultAction::Close);
        for modifier in parts {
            let modifier = modifier.trim();
            match modifier.split_once('=') {
                Some(("retry-after", value)) => match &mut action {
                    FaultAction::Status { retry_after, .. }
                    | FaultAction::Fail { retry_after, .. } => {
                        *retry_after = Some(parse_seconds(program, value)?);
                    }
                    _ => {
                        return Err(FaultError::new(
                            program,
                            modifier,
                            "applies only to status and fail",
                        ));
                    }
                },
                Some(("event", value)) if !value.trim().is_empty() => {
                    fault.event = Some(value.trim().to_owned())
                }
                Some(("uid", value)) if !value.trim().is_empty() => {
                    fault.uid = Some(value.trim().to_owned())
                }
                Some(_) => {
                    return Err(FaultError::new(
                        program,
                        modifier,
                        "is not a modifier; known: retry-after=SECS, event=EVENT, uid=UID, CODE (fail only)",
                    ));
                }
                None => match &mut action {
                    FaultAction::Fail { status, .. } => *status = parse_code(program, modifier)?,
                    _ => {
                        return Err(FaultError::new(
                            program,
                            modifier,
                            "is not a modifier; known: retry-after=SECS, event=EVENT, uid=UID, CODE (fail only)",
                        ));
                    }
                },
            }
        }
        fault.action = action;
        Ok(fault)
    }
}

pub(super) fn format_duration(duration: Duration) -> String {
    humantime::format_duration(duration)
        .to_string()
        .replace(' ', "")
}

impl fmt::Display for FaultProgram {
    /// The compact syntax; parsing it gives the same program back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let retry = |retry_after: &Option<Duration>| {
            retry_after.map_or(String::new(), |d| format!(":retry-after={}", d.as_secs()))
        };
        match &self.action {
            FaultAction::Status { codes, retry_after } => {
                let codes: Vec<String> = codes.iter().map(u16::to_string).collect();
                write!(f, "status={}{}", codes.join(","), retry(retry_after))?;
            }
            FaultAction::Delay { min, max } if min == max => {
                write!(f, "delay={}", format_duration(*min))?
            }
            FaultAction::Delay { min, max } => write!(
                f,
                "delay={}..{}",
                format_duration(*min),
                format_duration(*max)
            )?,
            FaultAction::Fail {
                percent,
                status,
                retry_after,
            } => write!(f, "fail={percent}%:{status}{}", retry(retry_after))?,
            FaultAction::Close => f.write_str("close")?,
            FaultAction::Drip { over } => write!(f, "drip={}", format_duration(*over))?,
            FaultAction::BadSignature => f.write_str("bad-signature")?,
        }
        if let Some(event) = &self.event {
            write!(f, ":event={event}")?;
        }
        if let Some(uid) = &self.uid {
            write!(f, ":uid={uid}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> FaultProgram {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn the_compact_syntax_covers_every_fault() {
        assert_eq!(
            parse("status=500,500,200").action,
            FaultAction::Status {
                codes: vec![500, 500, 200],
                retry_after: None
            }
        );
        assert_eq!(
            parse("status=429:retry-after=30").action,
            FaultAction::Status {
                codes: vec![429],
                retry_after: Some(Duration::from_secs(30))
            }
        );
        assert_eq!(
            parse("delay=15s").action,
            FaultAction::Delay {
                min: Duration::from_secs(15),
                max: Duration::from_secs(15)
            }
        );
        assert_eq!(
            parse("delay=1s..20s").action,
            FaultAction::Delay {
                min: Duration::from_secs(1),
                max: Duration::from_secs(20)
            }
        );
        assert_eq!(
            parse("fail=20%:503").action,
            FaultAction::Fail {
                percent: 20.0,
                status: 503,
                retry_after: None
            }
        );
        assert_eq!(parse("close").action, FaultAction::Close);
        assert_eq!(
            parse("drip=10s").action,
            FaultAction::Drip {
                over: Duration::from_secs(10)
            }
        );
        assert_eq!(parse("bad-signature").action, FaultAction::BadSignature);
        let targeted = parse("status=410:event=mailbox.status_changed:uid=mailbox-1");
        assert_eq!(targeted.event.as_deref(), Some("mailbox.status_changed"));
        assert_eq!(targeted.uid.as_deref(), Some("mailbox-1"));
    }

    #[test]
    fn errors_name_the_offending_token() {
        for (text, token) in [
            ("status=5x0", "5x0"),
            ("status=700", "700"),
            ("status=", "status="),
            ("delay=soon", "soon"),
            ("delay=20s..1s", "20s..1s"),
            ("fail=120%", "120%"),
            ("fail=20%:abc", "abc"),
            ("close=now", "close=now"),
            ("explode", "explode"),
            ("delay=1s:retry-after=3", "retry-after=3"),
            ("status=500:colour=red", "colour=red"),
            // Found by the fuzzer: Retry-After cannot carry 5µs, so it is refused, not rounded.
            ("fail=12.5%:retry-after=5µs", "5µs"),
            ("status=429:retry-after=1.5s", "1.5s"),
            ("", ""),
        ] {
            let error = text.parse::<FaultProgram>().unwrap_err();
            assert_eq!(error.token, token, "{text}: {error}");
            assert!(error.to_string().contains(&format!("`{token}`")), "{error}");
        }
    }

    #[test]
    fn display_round_trips_through_the_parser() {
        for text in [
            "status=500,500,200",
            "status=429:retry-after=30:event=domain.status_changed",
            "delay=250ms",
            "delay=1s..20s:uid=domain-abc",
            "fail=12.5%:503:retry-after=5",
            "status=503:retry-after=120",
            "close",
            "drip=1m30s",
            "bad-signature",
        ] {
            let program = parse(text);
            assert_eq!(program.to_string(), text);
            assert_eq!(parse(&program.to_string()), program);
        }
    }
}
