//! Pure: the part of IAM's policy grammar that identity and session policies use. Anything IAM would
//! answer with `MalformedPolicyDocument` must be refused here, before the first AWS call, because by the
//! time IAM sees the policy s3creds may already have created a user.
//!
//! Each function returns the reason as text; [`crate::core::policy`] turns it into an error that names the
//! option the input came from.

use serde_json::{Map, Value};

/// The policy language versions IAM knows.
pub const POLICY_VERSIONS: [&str; 2] = ["2012-10-17", "2008-10-17"];

/// The condition operators IAM documents, without the `IfExists` suffix and set-operator prefix.
const CONDITION_OPERATORS: [&str; 27] = [
    "StringEquals",
    "StringNotEquals",
    "StringEqualsIgnoreCase",
    "StringNotEqualsIgnoreCase",
    "StringLike",
    "StringNotLike",
    "NumericEquals",
    "NumericNotEquals",
    "NumericLessThan",
    "NumericLessThanEquals",
    "NumericGreaterThan",
    "NumericGreaterThanEquals",
    "DateEquals",
    "DateNotEquals",
    "DateLessThan",
    "DateLessThanEquals",
    "DateGreaterThan",
    "DateGreaterThanEquals",
    "Bool",
    "BinaryEquals",
    "IpAddress",
    "NotIpAddress",
    "ArnEquals",
    "ArnLike",
    "ArnNotEquals",
    "ArnNotLike",
    "Null",
];

/// `text` quoted for an error message, cut short so that the message stays one readable line.
pub fn quoted(text: &str) -> String {
    const SHOWN: usize = 100;
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}...", &text[..cut]),
        None => format!("{text:?}"),
    }
}

/// The top level of a policy document: only `Version`, `Id` and `Statement`, and a known `Version`.
pub fn check_policy_envelope(policy: &Map<String, Value>) -> Result<(), String> {
    for key in policy.keys() {
        if !matches!(key.as_str(), "Version" | "Id" | "Statement") {
            return Err(format!(
                "unknown top-level key {} (a policy has only \"Version\", \"Id\" and \"Statement\")",
                quoted(key)
            ));
        }
    }
    if let Some(version) = policy.get("Version") {
        if !version
            .as_str()
            .is_some_and(|v| POLICY_VERSIONS.contains(&v))
        {
            return Err(format!(
                "\"Version\" must be \"2012-10-17\" or \"2008-10-17\", not {version}"
            ));
        }
    }
    if policy.get("Id").is_some_and(|id| !id.is_string()) {
        return Err("\"Id\" must be a string".to_string());
    }
    Ok(())
}

/// A statement ID: letters and digits only.
pub fn check_sid(sid: &str) -> Result<(), String> {
    if sid.chars().all(|c| c.is_ascii_alphanumeric()) {
        Ok(())
    } else {
        Err(format!(
            "\"Sid\" {} may only contain letters A-Z, a-z and digits 0-9",
            quoted(sid)
        ))
    }
}

/// An action: `*`, or `service:pattern` with a lowercase service prefix and an action name that may use
/// the wildcards `*` and `?`.
pub fn check_action(action: &str) -> Result<(), String> {
    if action == "*" {
        return Ok(());
    }
    let well_formed = action.split_once(':').is_some_and(|(service, name)| {
        !service.is_empty()
            && service
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '*' || c == '?')
    });
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "action {} is not \"*\" or \"service:Action\" (e.g. \"s3:GetObject\", \"s3:Get*\")",
            quoted(action)
        ))
    }
}

/// A resource: `*`, or an ARN `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE` (wildcards allowed). The
/// resource part is free text (S3 keys may contain almost anything) but not empty.
pub fn check_resource(resource: &str) -> Result<(), String> {
    if resource == "*" {
        return Ok(());
    }
    let segment = |text: &str, may_be_empty: bool| {
        (may_be_empty || !text.is_empty())
            && text
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-*?".contains(c))
    };
    let parts: Vec<&str> = resource.splitn(6, ':').collect();
    let well_formed = parts.len() == 6
        && parts[0] == "arn"
        && segment(parts[1], false)
        && segment(parts[2], false)
        && segment(parts[3], true)
        && segment(parts[4], true)
        && !parts[5].is_empty()
        && !parts[5].chars().any(char::is_control);
    if well_formed {
        Ok(())
    } else {
        Err(format!(
            "resource {} is not \"*\" or an ARN \
             arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE (e.g. \"arn:aws:s3:::my-bucket/*\")",
            quoted(resource)
        ))
    }
}

/// A condition block: `{operator: {key: value | [values]}}`, every level non-empty, operators from IAM's
/// documented list (optionally `ForAllValues:`/`ForAnyValue:` and `...IfExists`), values strings,
/// numbers or booleans.
pub fn check_condition(condition: &Value) -> Result<(), String> {
    let Value::Object(operators) = condition else {
        return Err("\"Condition\" must be an object".to_string());
    };
    if operators.is_empty() {
        return Err("\"Condition\" must not be empty".to_string());
    }
    for (operator, keys) in operators {
        check_condition_operator(operator)?;
        // Operators are known words by now; keys are the user's text.
        let Value::Object(keys) = keys else {
            return Err(format!(
                "condition {operator:?} must map condition keys to values, e.g. \
                 {{\"{operator}\": {{\"s3:prefix\": [\"logs/*\"]}}}}"
            ));
        };
        if keys.is_empty() {
            return Err(format!("condition {operator:?} has no condition key"));
        }
        for (key, values) in keys {
            let key_shown = quoted(key);
            if key.is_empty() || key.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(format!("condition key {key_shown} is not a valid key name"));
            }
            let is_scalar =
                |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
            let ok = match values {
                Value::Array(items) => !items.is_empty() && items.iter().all(is_scalar),
                single => is_scalar(single),
            };
            if !ok {
                return Err(format!(
                    "condition {operator:?} key {key_shown}: the value must be a string, number or \
                     boolean, or a non-empty list of them"
                ));
            }
        }
    }
    Ok(())
}

fn check_condition_operator(operator: &str) -> Result<(), String> {
    let without_set = operator
        .strip_prefix("ForAllValues:")
        .or_else(|| operator.strip_prefix("ForAnyValue:"))
        .unwrap_or(operator);
    let (base, if_exists) = match without_set.strip_suffix("IfExists") {
        Some(base) => (base, true),
        None => (without_set, false),
    };
    let known = CONDITION_OPERATORS.contains(&base) && !(if_exists && base == "Null");
    if known {
        Ok(())
    } else {
        Err(format!(
            "unknown condition operator {} (IAM's operators are String*, Numeric*, \
             Date*, Bool, BinaryEquals, IpAddress, NotIpAddress, Arn* and Null, optionally with \
             IfExists or a ForAllValues:/ForAnyValue: prefix)",
            quoted(operator)
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn envelope(value: Value) -> Result<(), String> {
        check_policy_envelope(value.as_object().unwrap())
    }

    #[test]
    fn envelope_allows_only_known_keys_and_versions() {
        assert!(envelope(json!({"Version": "2012-10-17", "Statement": []})).is_ok());
        assert!(envelope(json!({"Version": "2008-10-17", "Id": "x", "Statement": []})).is_ok());
        assert!(envelope(json!({"Statement": []})).is_ok());
        assert!(envelope(json!({"Version": "2012-10-18", "Statement": []})).is_err());
        assert!(envelope(json!({"Version": 2012, "Statement": []})).is_err());
        assert!(envelope(json!({"Id": 1, "Statement": []})).is_err());
        let error = envelope(json!({"Statement": [], "Principal": "*"})).unwrap_err();
        assert!(error.contains("\"Principal\""), "{error}");
    }

    #[test]
    fn sids_are_letters_and_digits() {
        for good in ["", "Read", "Read1", "ALLOW0"] {
            assert!(check_sid(good).is_ok(), "{good}");
        }
        for bad in ["Read-1", "read write", "Sid_1", "Ärger", "$!BUCKET_NAME!$"] {
            assert!(check_sid(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn actions_are_star_or_service_colon_pattern() {
        for good in [
            "*",
            "s3:GetObject",
            "s3:Get*",
            "s3:*",
            "s3:Get?bject",
            "aws-portal:View*",
        ] {
            assert!(check_action(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "s3",
            "s3:",
            ":GetObject",
            "S3:GetObject",
            "s3:Get Object",
            "s3:Get/Object",
            "s3:GetObject:x",
            "**",
            "s3*:Get",
        ] {
            assert!(check_action(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn resources_are_star_or_arns() {
        for good in [
            "*",
            "arn:aws:s3:::b",
            "arn:aws:s3:::b/*",
            "arn:aws:s3:::b/key with spaces:and:colons",
            "arn:aws-cn:s3:::b",
            "arn:aws:iam::123456789012:user/u",
            "arn:aws:iam::aws:policy/AmazonS3FullAccess",
            "arn:*:s3:*:*:b*",
            "arn:aws:s3:::$!BUCKET_NAME!$/*",
        ] {
            assert!(check_resource(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "b",
            "s3:::b",
            "arn:aws:s3::b",
            "arn:aws:s3:::",
            "arn::s3:::b",
            "arn:aws::::b",
            "arn:AWS:s3:::b",
            "arn:aws:s3 :::b",
            "arn:aws:s3:::b\n",
            "**",
        ] {
            assert!(check_resource(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn conditions_use_known_operators_and_scalar_values() {
        for good in [
            json!({"StringLike": {"s3:prefix": ["logs/*"]}}),
            json!({"StringEqualsIfExists": {"aws:SourceVpc": "vpc-1"}}),
            json!({"ForAnyValue:StringLike": {"aws:TagKeys": ["a*"]}}),
            json!({"ForAllValues:StringEquals": {"aws:TagKeys": ["a", "b"]}}),
            json!({"NumericLessThan": {"s3:max-keys": 10}}),
            json!({"Bool": {"aws:SecureTransport": true}}),
            json!({"Null": {"aws:TokenIssueTime": "true"}}),
            json!({"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}, "DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}),
            json!({"ArnLikeIfExists": {"aws:SourceArn": "arn:aws:s3:::b"}}),
        ] {
            assert!(check_condition(&good).is_ok(), "{good}");
        }
        for bad in [
            json!("x"),
            json!({}),
            json!({"StringLikes": {"s3:prefix": "a"}}),
            json!({"stringlike": {"s3:prefix": "a"}}),
            json!({"NullIfExists": {"aws:TokenIssueTime": "true"}}),
            json!({"ForSomeValues:StringLike": {"s3:prefix": "a"}}),
            json!({"StringLike": {}}),
            json!({"StringLike": "s3:prefix"}),
            json!({"StringLike": {"s3:prefix": []}}),
            json!({"StringLike": {"s3:prefix": null}}),
            json!({"StringLike": {"s3:prefix": {"a": "b"}}}),
            json!({"StringLike": {"s3:prefix": [["a"]]}}),
            json!({"StringLike": {"": "a"}}),
        ] {
            assert!(check_condition(&bad).is_err(), "{bad}");
        }
    }
}
