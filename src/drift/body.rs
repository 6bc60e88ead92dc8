//! Walks a recorded body against the schema of what the mock emits, noting every difference.
//!
//! This is not a validator: it does not stop at the first failure, and it says what differs
//! (a field only one side has, a type, a value outside a vocabulary) at which path. It reads the
//! subset of JSON Schema that `contract::schema` generates: `$ref` into `$defs`, `anyOf`/`oneOf`
//! (nullable fields), `type`, `enum`, `const`, `properties`, `required`, `additionalProperties`
//! and `items`.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// One difference between a body and the schema.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Finding {
    /// A field the body has and the schema does not.
    Extra {
        /// Where, e.g. `data.domain.auto_renew`.
        path: String,
        /// JSON type of the value seen.
        seen: &'static str,
    },
    /// A field the schema requires and the body lacks.
    Missing {
        /// Where.
        path: String,
    },
    /// A value of another JSON type than the schema's.
    Type {
        /// Where (`[]` marks array items).
        path: String,
        /// The types the schema allows.
        expected: Vec<String>,
        /// The type seen.
        seen: &'static str,
    },
    /// A string outside the schema's list of values.
    Unknown {
        /// Where.
        path: String,
        /// The value seen.
        value: String,
        /// The values the schema lists.
        known: Vec<String>,
    },
}

/// Every difference between `value` and `schema` (whose `$defs` live in `root`), once each.
pub fn compare(root: &Value, value: &Value) -> BTreeSet<Finding> {
    let mut findings = BTreeSet::new();
    walk(root, root, value, "", &mut findings);
    findings
}

/// The JSON type name of a value, as JSON Schema spells it.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

/// Follows `$ref`s of the form `#/$defs/Name` (the only ones schemars writes).
fn resolve<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..32 {
        let Some(target) = schema.get("$ref").and_then(Value::as_str) else {
            break;
        };
        match target
            .strip_prefix("#")
            .and_then(|pointer| root.pointer(pointer))
        {
            Some(next) => schema = next,
            None => break,
        }
    }
    schema
}

fn allows(types: &[String], seen: &str) -> bool {
    types
        .iter()
        .any(|t| t == seen || (t == "number" && seen == "integer"))
}

fn walk(root: &Value, schema: &Value, value: &Value, path: &str, out: &mut BTreeSet<Finding>) {
    let schema = resolve(root, schema);
    if let Some(branches) = schema
        .get("anyOf")
        .or_else(|| schema.get("oneOf"))
        .and_then(Value::as_array)
    {
        walk_branches(root, branches, value, path, out);
        return;
    }
    let seen = json_type(value);
    let types: Vec<String> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    if !types.is_empty() && !allows(&types, seen) {
        out.insert(Finding::Type {
            path: path.to_owned(),
            expected: types,
            seen,
        });
        return;
    }
    let listed: Option<Vec<Value>> = match (schema.get("enum"), schema.get("const")) {
        (Some(Value::Array(values)), _) => Some(values.clone()),
        (_, Some(constant)) => Some(vec![constant.clone()]),
        _ => None,
    };
    if let Some(listed) = listed
        && !listed.contains(value)
    {
        let known = listed
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        match value.as_str() {
            Some(text) => out.insert(Finding::Unknown {
                path: path.to_owned(),
                value: text.to_owned(),
                known,
            }),
            None => out.insert(Finding::Type {
                path: path.to_owned(),
                expected: listed.iter().map(|v| json_type(v).to_owned()).collect(),
                seen,
            }),
        };
        return;
    }
    match value {
        Value::Object(fields) => walk_object(root, schema, fields, path, out),
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                let item_path = format!("{path}[]");
                for item in items {
                    walk(root, item_schema, item, &item_path, out);
                }
            }
        }
        _ => {}
    }
}

/// A nullable field is `anyOf: [X, {type: null}]`; other unions take the closest branch.
fn walk_branches(
    root: &Value,
    branches: &[Value],
    value: &Value,
    path: &str,
    out: &mut BTreeSet<Finding>,
) {
    let mut best: Option<BTreeSet<Finding>> = None;
    for branch in branches {
        let mut findings = BTreeSet::new();
        walk(root, branch, value, path, &mut findings);
        if findings.is_empty() {
            return;
        }
        // A branch that at least has the right type says more than one that does not.
        let rank = |f: &BTreeSet<Finding>| {
            let wrong_type = f
                .iter()
                .any(|x| matches!(x, Finding::Type { path: p, .. } if p == path));
            (wrong_type, f.len())
        };
        if best.as_ref().is_none_or(|b| rank(&findings) < rank(b)) {
            best = Some(findings);
        }
    }
    if let Some(mut findings) = best {
        // Both branches rejected the type: say every type the union allows.
        let allowed: Vec<String> = branches
            .iter()
            .flat_map(|b| branch_types(root, b))
            .collect();
        let mut merged = BTreeSet::new();
        for finding in std::mem::take(&mut findings) {
            match finding {
                Finding::Type { path: p, seen, .. } if p == path => {
                    merged.insert(Finding::Type {
                        path: p,
                        expected: allowed.clone(),
                        seen,
                    });
                }
                other => {
                    merged.insert(other);
                }
            }
        }
        out.extend(merged);
    }
}

fn branch_types(root: &Value, branch: &Value) -> Vec<String> {
    match resolve(root, branch).get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn walk_object(
    root: &Value,
    schema: &Value,
    fields: &Map<String, Value>,
    path: &str,
    out: &mut BTreeSet<Finding>,
) {
    let empty = Map::new();
    let properties = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let open_schema = schema.get("additionalProperties").filter(|a| a.is_object());
    for (key, field) in fields {
        let field_path = child(path, key);
        match properties.get(key).or(open_schema) {
            Some(field_schema) => walk(root, field_schema, field, &field_path, out),
            None if schema.get("additionalProperties") == Some(&Value::Bool(true)) => {}
            None => {
                out.insert(Finding::Extra {
                    path: field_path,
                    seen: json_type(field),
                });
            }
        }
    }
    let required = schema.get("required").and_then(Value::as_array);
    for name in required.into_iter().flatten().filter_map(Value::as_str) {
        if !fields.contains_key(name) {
            out.insert(Finding::Missing {
                path: child(path, name),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "status": {"$ref": "#/$defs/Status"},
                "previous": {"anyOf": [{"$ref": "#/$defs/Status"}, {"type": "null"}]},
                "tags": {"type": "array", "items": {"type": "string"}},
                "count": {"type": "integer"},
                "note": {"type": ["string", "null"]}
            },
            "required": ["status", "previous", "tags"],
            "additionalProperties": false,
            "$defs": {"Status": {"type": "string", "enum": ["active", "pending"]}}
        })
    }

    #[test]
    fn a_matching_body_has_no_findings() {
        let body = json!({"status": "active", "previous": null, "tags": ["a"], "note": null});
        assert!(compare(&schema(), &body).is_empty());
        let body = json!({"status": "active", "previous": "pending", "tags": [], "count": 3});
        assert!(compare(&schema(), &body).is_empty());
    }

    #[test]
    fn each_difference_is_named_once_with_its_path() {
        let body = json!({
            "status": "transferring",
            "previous": 4,
            "tags": ["a", 1, 2],
            "extra": {"nested": true},
        });
        let findings: Vec<_> = compare(&schema(), &body).into_iter().collect();
        assert_eq!(
            findings,
            [
                Finding::Extra {
                    path: "extra".into(),
                    seen: "object"
                },
                Finding::Type {
                    path: "previous".into(),
                    expected: vec!["string".into(), "null".into()],
                    seen: "integer"
                },
                Finding::Type {
                    path: "tags[]".into(),
                    expected: vec!["string".into()],
                    seen: "integer"
                },
                Finding::Unknown {
                    path: "status".into(),
                    value: "transferring".into(),
                    known: vec!["active".into(), "pending".into()]
                },
            ]
        );
        let missing = compare(&schema(), &json!({"status": "active", "tags": []}));
        assert_eq!(
            missing.into_iter().collect::<Vec<_>>(),
            [Finding::Missing {
                path: "previous".into()
            }]
        );
    }

    #[test]
    fn unknown_values_in_nullable_fields_are_unknown_values() {
        let body = json!({"status": "active", "previous": "transferring", "tags": []});
        assert_eq!(
            compare(&schema(), &body).into_iter().collect::<Vec<_>>(),
            [Finding::Unknown {
                path: "previous".into(),
                value: "transferring".into(),
                known: vec!["active".into(), "pending".into()]
            }]
        );
    }
}
