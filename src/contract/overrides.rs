//! Field overrides (`--set data.domain.status=active`) applied to a body before it is signed.

use serde_json::Value;

/// One `PATH=VALUE` assignment into a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldOverride {
    /// Dot-separated path; array elements by index (`data.domain.tags.0`).
    pub path: Vec<String>,
    /// The value: JSON if it parses as JSON, otherwise the text as a string.
    pub value: Value,
}

/// Why an override could not be parsed or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OverrideError {
    /// No `=` in the assignment.
    #[error("`{0}` is not PATH=VALUE (e.g. data.domain.status=active)")]
    MissingEquals(String),
    /// Empty path or an empty segment (`data..status`).
    #[error("`{0}` is not a valid path: segments are non-empty and separated by dots")]
    BadPath(String),
    /// A segment walks into a value that is neither an object nor an array.
    #[error("`{path}`: `{segment}` is inside a {kind}, which has no fields")]
    NotAContainer {
        /// The whole path.
        path: String,
        /// The segment that could not be followed.
        segment: String,
        /// What was found there.
        kind: &'static str,
    },
    /// An array index that is not a number or is past the end.
    #[error("`{path}`: `{segment}` is not an index of an array of {len} elements")]
    BadIndex {
        /// The whole path.
        path: String,
        /// The offending segment.
        segment: String,
        /// The array's length.
        len: usize,
    },
}

impl std::str::FromStr for FieldOverride {
    type Err = OverrideError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (path, raw) = text
            .split_once('=')
            .ok_or_else(|| OverrideError::MissingEquals(text.to_owned()))?;
        let path: Vec<String> = path.split('.').map(str::to_owned).collect();
        if path.iter().any(|segment| segment.trim().is_empty()) {
            return Err(OverrideError::BadPath(text.to_owned()));
        }
        let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()));
        Ok(FieldOverride { path, value })
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl FieldOverride {
    /// Sets the value, creating the last key of an object if it is missing.
    pub fn apply(&self, body: &mut Value) -> Result<(), OverrideError> {
        let full = self.path.join(".");
        let (last, parents) = self.path.split_last().expect("paths are never empty");
        let mut node = body;
        for segment in parents {
            node = child(node, segment, &full)?;
        }
        match node {
            Value::Object(map) => {
                map.insert(last.clone(), self.value.clone());
            }
            other => *child(other, last, &full)? = self.value.clone(),
        }
        Ok(())
    }
}

fn child<'a>(
    node: &'a mut Value,
    segment: &str,
    full: &str,
) -> Result<&'a mut Value, OverrideError> {
    match node {
        Value::Object(map) => Ok(map.entry(segment.to_owned()).or_insert(Value::Null)),
        Value::Array(items) => {
            let len = items.len();
            segment
                .parse::<usize>()
                .ok()
                .and_then(|index| items.get_mut(index))
                .ok_or_else(|| OverrideError::BadIndex {
                    path: full.to_owned(),
                    segment: segment.to_owned(),
                    len,
                })
        }
        other => Err(OverrideError::NotAContainer {
            path: full.to_owned(),
            segment: segment.to_owned(),
            kind: kind(other),
        }),
    }
}

/// Applies every override in order.
pub fn apply_all(body: &mut Value, overrides: &[FieldOverride]) -> Result<(), OverrideError> {
    overrides.iter().try_for_each(|o| o.apply(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sets_strings_numbers_and_nested_fields() {
        let mut body = json!({"data": {"domain": {"status": "pending", "tags": ["a"]}}});
        let sets: Vec<FieldOverride> = [
            "data.domain.status=active",
            "data.domain.tags.0=7",
            "data.extra={\"x\":true}",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        apply_all(&mut body, &sets).unwrap();
        assert_eq!(
            body,
            json!({"data": {"domain": {"status": "active", "tags": [7]}, "extra": {"x": true}}})
        );
    }

    #[test]
    fn malformed_assignments_are_named() {
        assert_eq!(
            "data.domain.status".parse::<FieldOverride>().unwrap_err(),
            OverrideError::MissingEquals("data.domain.status".into())
        );
        assert!(matches!(
            "data..x=1".parse::<FieldOverride>(),
            Err(OverrideError::BadPath(_))
        ));
        let mut body = json!({"event": "x", "data": {"tags": []}});
        let err = "event.sub=1"
            .parse::<FieldOverride>()
            .unwrap()
            .apply(&mut body)
            .unwrap_err();
        assert!(err.to_string().contains("string"), "{err}");
        let err = "data.tags.3=1"
            .parse::<FieldOverride>()
            .unwrap()
            .apply(&mut body)
            .unwrap_err();
        assert!(matches!(err, OverrideError::BadIndex { len: 0, .. }));
    }
}
