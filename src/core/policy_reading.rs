//! Reading a user's inline policies back into what `create` was asked for: the access kind, buckets,
//! prefixes and expiry that `list` shows.
//!
//! The reading is done by the same code that writes policies: the candidate requests (every access
//! kind, with the buckets and prefixes named in the document's ARNs) are generated again with
//! [`PolicyRequest::document`] and compared with what IAM holds. So a policy is only called
//! `read-only` if `create --read-only` would have written exactly it; anything else (an edited
//! policy, `--statement`, `--policy`) is `custom`, with the buckets its S3 ARNs name.
//!
//! The comparison ignores what does not change a grant: statement order, list order, key order,
//! Sids, and whether one statement lists several resources or several statements list one each (so
//! s3-credentials' one-policy-per-bucket users read the same as s3creds' merged statements).

use super::policy::{Access, PolicyRequest, ScopeKind};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// The condition operator and key `create --expires` merges into every Allow statement.
pub const EXPIRY_OPERATOR: &str = "DateLessThan";
pub const EXPIRY_KEY: &str = "aws:CurrentTime";

/// What a user's inline policies grant, as `list` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PolicyReading {
    pub access: ScopeKind,
    /// In the order the policy first names them.
    pub buckets: Vec<String>,
    /// Key prefixes (`foo/*`) of a generated policy; empty for the whole bucket and for `custom`.
    pub prefixes: Vec<String>,
    /// When every Allow statement has ended: the latest of their `DateLessThan aws:CurrentTime`
    /// instants, if each has one; none if any Allow statement never ends (the user's access does not
    /// end then, however much of it does).
    pub expires: Option<String>,
}

/// Read the inline policy documents of one user (usually one).
pub fn read_policies(documents: &[Value]) -> PolicyReading {
    let mut statements = Vec::new();
    let mut well_formed = true;
    for document in documents {
        match document.get("Statement") {
            Some(Value::Array(items)) => statements.extend(items.iter().cloned()),
            Some(item @ Value::Object(_)) => statements.push(item.clone()),
            _ => well_formed = false,
        }
    }
    let stripped = strip_expiry(&statements);
    let arns = s3_arns(&stripped.statements);
    let reading = |access| PolicyReading {
        access,
        buckets: arns.buckets.clone(),
        prefixes: Vec::new(),
        expires: stripped.expires.clone(),
    };
    if !well_formed || !stripped.uniform || arns.buckets.is_empty() {
        return reading(ScopeKind::Custom);
    }
    let held = canonical_grants(&stripped.statements);
    for (access, kind) in [
        (Access::ReadWrite, ScopeKind::ReadWrite),
        (Access::ReadOnly, ScopeKind::ReadOnly),
        (Access::WriteOnly, ScopeKind::WriteOnly),
    ] {
        let mut request = PolicyRequest::new(arns.buckets.clone(), access);
        request.prefixes = arns.prefixes.clone();
        request.partition = arns.partition.clone();
        let Ok(generated) = request.document() else {
            continue;
        };
        let generated = generated["Statement"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if canonical_grants(&generated) == held {
            return PolicyReading {
                prefixes: arns.prefixes.clone(),
                ..reading(kind)
            };
        }
    }
    reading(ScopeKind::Custom)
}

struct Stripped {
    statements: Vec<Value>,
    expires: Option<String>,
    /// Every Allow statement carried the same expiry, or none did: the shape `--expires` writes.
    uniform: bool,
}

/// Take the expiry condition out of every Allow statement (dropping a condition block it leaves
/// empty), noting the instants found.
fn strip_expiry(statements: &[Value]) -> Stripped {
    let mut found: Vec<Option<String>> = Vec::new();
    let statements = statements
        .iter()
        .map(|statement| {
            let mut statement = statement.clone();
            let Some(map) = statement.as_object_mut() else {
                return statement;
            };
            if map.get("Effect").and_then(Value::as_str) != Some("Allow") {
                return statement;
            }
            found.push(take_expiry(map));
            statement
        })
        .collect();
    let instants: BTreeSet<&String> = found.iter().flatten().collect();
    let every_allow_ends = !found.is_empty() && found.iter().all(Option::is_some);
    let uniform = instants.len() <= 1 && (instants.is_empty() || every_allow_ends);
    // Compared as instants, not as text: a condition written elsewhere may carry an offset. One
    // that cannot be read counts as never ending.
    let expires = if every_allow_ends {
        instants
            .iter()
            .map(|text| crate::core::expiry::parse_rfc3339(text).map(|at| (at, text)))
            .collect::<Option<Vec<_>>>()
            .and_then(|parsed| parsed.into_iter().max().map(|(_, text)| text.to_string()))
    } else {
        None
    };
    Stripped {
        statements,
        expires,
        uniform,
    }
}

fn take_expiry(statement: &mut Map<String, Value>) -> Option<String> {
    let condition = statement.get_mut("Condition")?.as_object_mut()?;
    let operator = condition.get_mut(EXPIRY_OPERATOR)?.as_object_mut()?;
    let instant = match operator.get(EXPIRY_KEY)? {
        Value::String(instant) => instant.clone(),
        Value::Array(items) if items.len() == 1 => items[0].as_str()?.to_string(),
        _ => return None,
    };
    operator.remove(EXPIRY_KEY);
    if operator.is_empty() {
        condition.remove(EXPIRY_OPERATOR);
    }
    if condition.is_empty() {
        statement.remove("Condition");
    }
    Some(instant)
}

struct Arns {
    buckets: Vec<String>,
    prefixes: Vec<String>,
    partition: String,
}

/// The buckets and object-key prefixes named by the S3 ARNs of the statements, in order of first
/// appearance.
fn s3_arns(statements: &[Value]) -> Arns {
    let mut arns = Arns {
        buckets: Vec::new(),
        prefixes: Vec::new(),
        partition: "aws".to_string(),
    };
    let mut partition_seen = false;
    for resource in statements.iter().flat_map(|s| strings(s.get("Resource"))) {
        let mut parts = resource.splitn(6, ':');
        let (Some("arn"), Some(partition), Some("s3"), Some(""), Some(""), Some(path)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            continue;
        };
        if !partition_seen {
            arns.partition = partition.to_string();
            partition_seen = true;
        }
        let (bucket, key) = match path.split_once('/') {
            Some((bucket, key)) => (bucket, Some(key)),
            None => (path, None),
        };
        if !bucket.is_empty() && !arns.buckets.iter().any(|b| b == bucket) {
            arns.buckets.push(bucket.to_string());
        }
        if let Some(key) = key.filter(|k| *k != "*") {
            if !arns.prefixes.iter().any(|p| p == key) {
                arns.prefixes.push(key.to_string());
            }
        }
    }
    arns
}

/// A string or a list of strings (IAM accepts both).
fn strings(value: Option<&Value>) -> Vec<&str> {
    match value {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// The grants of the statements as a set of one-resource statements in a canonical text form.
fn canonical_grants(statements: &[Value]) -> BTreeSet<String> {
    let mut grants = BTreeSet::new();
    for statement in statements {
        let Some(map) = statement.as_object() else {
            grants.insert(canonical(statement).to_string());
            continue;
        };
        let mut rest = map.clone();
        rest.remove("Sid");
        let resources = match rest.remove("Resource") {
            Some(Value::String(resource)) => vec![resource],
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            other => {
                // No Resource (NotResource) or a malformed one: kept whole, so it matches only itself.
                if let Some(other) = other {
                    rest.insert("Resource".into(), other);
                }
                grants.insert(canonical(&Value::Object(rest)).to_string());
                continue;
            }
        };
        if let Some(action @ Value::String(_)) = rest.get("Action").cloned() {
            rest.insert("Action".into(), Value::Array(vec![action]));
        }
        for resource in resources {
            let mut one = rest.clone();
            one.insert("Resource".into(), Value::String(resource));
            grants.insert(canonical(&Value::Object(one)).to_string());
        }
    }
    grants
}

/// Keys sorted and lists sorted (and deduplicated): order never changes what IAM grants.
fn canonical(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            Value::Object(
                keys.into_iter()
                    .map(|k| (k.clone(), canonical(&map[k])))
                    .collect(),
            )
        }
        Value::Array(items) => {
            let mut sorted: Vec<Value> = items.iter().map(canonical).collect();
            sorted.sort_by_key(|v| v.to_string());
            sorted.dedup();
            Value::Array(sorted)
        }
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::normalize_prefix;
    use serde_json::json;

    fn generated(buckets: &[&str], access: Access, prefixes: &[&str]) -> Value {
        let mut request =
            PolicyRequest::new(buckets.iter().map(|b| b.to_string()).collect(), access);
        request.prefixes = prefixes
            .iter()
            .map(|p| normalize_prefix(p).unwrap())
            .collect();
        request.document().unwrap()
    }

    /// What `create --expires` writes: the condition merged into every Allow statement.
    fn expiring(mut document: Value, instant: &str) -> Value {
        for statement in document["Statement"].as_array_mut().unwrap() {
            if statement["Effect"] != "Allow" {
                continue;
            }
            let map = statement.as_object_mut().unwrap();
            let condition = map.entry("Condition").or_insert_with(|| json!({}));
            condition[EXPIRY_OPERATOR] = json!({ EXPIRY_KEY: instant });
        }
        document
    }

    fn names(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_generated_policy_reads_back_as_what_generated_it() {
        let kinds = [
            (Access::ReadWrite, ScopeKind::ReadWrite),
            (Access::ReadOnly, ScopeKind::ReadOnly),
            (Access::WriteOnly, ScopeKind::WriteOnly),
        ];
        let bucket_sets: [&[&str]; 3] = [&["b1"], &["b1", "b2"], &["logs", "data", "archive"]];
        let prefix_sets: [&[&str]; 3] = [&[], &["foo/"], &["app1/", "app2/*"]];
        for (access, kind) in kinds {
            for buckets in bucket_sets {
                for prefixes in prefix_sets {
                    let document = generated(buckets, access, prefixes);
                    let expected_prefixes: Vec<String> = prefixes
                        .iter()
                        .map(|p| normalize_prefix(p).unwrap())
                        .collect();
                    for (document, expires) in [
                        (document.clone(), None),
                        (
                            expiring(document, "2027-01-31T12:00:00Z"),
                            Some("2027-01-31T12:00:00Z".to_string()),
                        ),
                    ] {
                        let read = read_policies(std::slice::from_ref(&document));
                        assert_eq!(
                            read,
                            PolicyReading {
                                access: kind,
                                buckets: names(buckets),
                                prefixes: expected_prefixes.clone(),
                                expires,
                            },
                            "{document}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn order_sids_and_statement_splitting_do_not_matter() {
        // s3-credentials 0.17 wrote one policy per bucket; s3creds merges them. Both read the same.
        let per_bucket: Vec<Value> = ["b1", "b2"]
            .iter()
            .map(|b| generated(&[b], Access::ReadOnly, &[]))
            .collect();
        let read = read_policies(&per_bucket);
        assert_eq!(read.access, ScopeKind::ReadOnly);
        assert_eq!(read.buckets, names(&["b1", "b2"]));
        let mut document = generated(&["b1", "b2"], Access::ReadWrite, &[]);
        let statements = document["Statement"].as_array_mut().unwrap();
        statements.reverse();
        statements[0]["Sid"] = json!("Write");
        statements[0]["Action"].as_array_mut().unwrap().reverse();
        assert_eq!(read_policies(&[document]).access, ScopeKind::ReadWrite);
    }

    #[test]
    fn extra_or_changed_statements_are_custom_with_their_buckets() {
        let mut document = generated(&["b1", "b2"], Access::ReadOnly, &["foo/"]);
        document["Statement"]
            .as_array_mut()
            .unwrap()
            .push(json!({"Effect": "Allow", "Action": "textract:*", "Resource": "*"}));
        let read = read_policies(std::slice::from_ref(&document));
        assert_eq!(
            read,
            PolicyReading {
                access: ScopeKind::Custom,
                buckets: names(&["b1", "b2"]),
                prefixes: Vec::new(),
                expires: None,
            }
        );
        // One action removed from a read-only policy: no longer what --read-only writes.
        let mut document = generated(&["b1"], Access::ReadOnly, &[]);
        document["Statement"][1]["Action"]
            .as_array_mut()
            .unwrap()
            .pop();
        assert_eq!(read_policies(&[document]).access, ScopeKind::Custom);
        // A --policy document: buckets from its ARNs, objects and buckets alike.
        let custom = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::photos/2024/*"},
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": ["arn:aws:s3:::videos", "arn:aws:s3:::photos"]},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:iam::123:user/x"}
        ]});
        let read = read_policies(&[custom]);
        assert_eq!(read.access, ScopeKind::Custom);
        assert_eq!(read.buckets, names(&["photos", "videos"]));
        // No S3 resource at all, or no Statement: custom with no buckets.
        let none =
            json!({"Statement": [{"Effect": "Allow", "Action": "textract:*", "Resource": "*"}]});
        assert_eq!(read_policies(&[none]).buckets, Vec::<String>::new());
        assert_eq!(read_policies(&[json!({})]).access, ScopeKind::Custom);
        assert_eq!(read_policies(&[]).access, ScopeKind::Custom);
    }

    #[test]
    fn other_partitions_read_back() {
        let mut request = PolicyRequest::new(names(&["b1"]), Access::WriteOnly);
        request.partition = "aws-cn".into();
        let read = read_policies(&[request.document().unwrap()]);
        assert_eq!(read.access, ScopeKind::WriteOnly);
    }

    #[test]
    fn expiry_is_read_from_custom_policies_and_uneven_expiry_is_custom() {
        let mut document = generated(&["b1"], Access::ReadOnly, &[]);
        document["Statement"]
            .as_array_mut()
            .unwrap()
            .push(json!({"Effect": "Deny", "Action": "s3:DeleteBucket", "Resource": "*"}));
        let document = expiring(document, "2027-01-31T12:00:00Z");
        // The Deny statement keeps no condition: only Allow statements get one.
        assert!(document["Statement"][2].get("Condition").is_none());
        let read = read_policies(std::slice::from_ref(&document));
        assert_eq!(read.access, ScopeKind::Custom);
        assert_eq!(read.expires.as_deref(), Some("2027-01-31T12:00:00Z"));

        // Only some Allow statements expire: not what --expires writes, and the access as a whole
        // never ends, so no expiry is shown.
        let mut document = generated(&["b1"], Access::ReadWrite, &[]);
        document["Statement"][0]["Condition"] =
            json!({EXPIRY_OPERATOR: {EXPIRY_KEY: "2027-01-31T12:00:00Z"}});
        let read = read_policies(&[document]);
        assert_eq!(read.access, ScopeKind::Custom);
        assert_eq!(read.expires, None);

        // Different instants: access has ended at the latest. Compared as instants: an offset of
        // +09:00 puts the text-wise latest one earlier.
        let mut document = expiring(
            generated(&["b1"], Access::ReadWrite, &[]),
            "2028-01-01T00:00:00Z",
        );
        document["Statement"][1]["Condition"][EXPIRY_OPERATOR][EXPIRY_KEY] =
            json!("2028-01-01T05:00:00+09:00");
        let read = read_policies(&[document]);
        assert_eq!(read.access, ScopeKind::Custom);
        assert_eq!(read.expires.as_deref(), Some("2028-01-01T00:00:00Z"));
    }

    #[test]
    fn an_expiry_beside_the_prefix_condition_keeps_the_prefix_condition() {
        let document = expiring(
            generated(&["b1"], Access::ReadOnly, &["foo/"]),
            "2027-01-31T12:00:00Z",
        );
        assert_eq!(
            document["Statement"][1]["Condition"],
            json!({"StringLike": {"s3:prefix": ["foo/*"]}, EXPIRY_OPERATOR: {EXPIRY_KEY: "2027-01-31T12:00:00Z"}})
        );
        let read = read_policies(&[document]);
        assert_eq!(read.access, ScopeKind::ReadOnly);
        assert_eq!(read.prefixes, names(&["foo/*"]));
        assert_eq!(read.expires.as_deref(), Some("2027-01-31T12:00:00Z"));
    }
}
