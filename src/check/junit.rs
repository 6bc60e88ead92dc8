//! The report as JUnit XML, for CI systems: a failed check is a `<failure>`, a check that needs
//! the consumer's cooperation is `<skipped>` (it neither passed nor failed).

use std::fmt::Write;

use super::{Report, Verdict};
use crate::markup::escape;

/// The test suite name in the XML.
pub const SUITE_NAME: &str = "inboxkit-mock check";

/// Renders `report` as a JUnit XML document.
pub fn render(report: &Report) -> String {
    let total_seconds: f64 = report.results.iter().map(|r| r.duration_ms).sum::<f64>() / 1e3;
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    // The same totals head the document and its one suite.
    let totals = format!(
        "name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\"",
        suite = escape(SUITE_NAME),
        tests = report.results.len(),
        failures = report.count(Verdict::Fail),
    );
    let skipped = report.count(Verdict::NeedsCooperation);
    let _ = writeln!(
        xml,
        "<testsuites {totals} skipped=\"{skipped}\" time=\"{total_seconds:.3}\">"
    );
    let _ = writeln!(
        xml,
        "  <testsuite {totals} errors=\"0\" skipped=\"{skipped}\" time=\"{total_seconds:.3}\">"
    );
    let _ = writeln!(
        xml,
        "    <properties>\n      <property name=\"target\" value=\"{}\"/>\n      <property name=\"deadline\" value=\"{}\"/>\n    </properties>",
        escape(&report.target),
        escape(&report.deadline)
    );
    for result in &report.results {
        let group = result.name.split('.').next().unwrap_or_default();
        let _ = write!(
            xml,
            "    <testcase name=\"{}\" classname=\"inboxkit_mock.check.{}\" time=\"{:.3}\"",
            escape(&result.name),
            escape(group),
            result.duration_ms / 1e3
        );
        let details = format!(
            "sent: {}\nexpected: {}\nobserved: {}",
            result.sent, result.expected, result.observed
        );
        match result.verdict {
            Verdict::Pass => {
                let _ = writeln!(
                    xml,
                    ">\n      <system-out>{}</system-out>\n    </testcase>",
                    escape(&details)
                );
            }
            Verdict::Fail => {
                let _ = writeln!(
                    xml,
                    ">\n      <failure message=\"{}\" type=\"nonconforming\">{}</failure>\n    </testcase>",
                    escape(&format!(
                        "expected {}; observed {}",
                        result.expected, result.observed
                    )),
                    escape(&details)
                );
            }
            Verdict::NeedsCooperation => {
                let _ = writeln!(
                    xml,
                    ">\n      <skipped message=\"{}\"/>\n      <system-out>{}</system-out>\n    </testcase>",
                    escape(&format!(
                        "needs the consumer's cooperation: {}",
                        result.observed
                    )),
                    escape(&details)
                );
            }
        }
    }
    xml.push_str("  </testsuite>\n</testsuites>\n");
    xml
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::CheckResult;

    fn result(name: &str, verdict: Verdict, observed: &str) -> CheckResult {
        CheckResult {
            name: name.into(),
            sent: "a <signed> body".into(),
            expected: "2xx".into(),
            observed: observed.into(),
            verdict,
            duration_ms: 12.0,
        }
    }

    #[test]
    fn verdicts_map_to_junit_elements_and_text_is_escaped() {
        let report = Report {
            target: "http://127.0.0.1:1/hook?a=1&b=2".into(),
            deadline: "10s".into(),
            results: vec![
                result("accept.domain.status_changed", Verdict::Pass, "HTTP 200"),
                result(
                    "tolerance.unknown_event",
                    Verdict::Fail,
                    "HTTP 500: {\"error\":\"<unknown>\"}\u{1}",
                ),
                result("duplicate.exact", Verdict::NeedsCooperation, "2xx twice"),
            ],
            untested: Vec::new(),
        };
        let xml = render(&report);
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" errors=\"0\" skipped=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("a=1&amp;b=2"));
        assert!(xml.contains("&quot;error&quot;:&quot;&lt;unknown&gt;&quot;"));
        assert!(!xml.contains('\u{1}'));
        assert!(
            xml.contains("<skipped message=\"needs the consumer&apos;s cooperation: 2xx twice\"/>")
        );
        assert_eq!(xml.matches("<testcase ").count(), 3);
        assert_eq!(xml.matches("<failure ").count(), 1);
        assert!(xml.contains("classname=\"inboxkit_mock.check.tolerance\""));
    }
}
