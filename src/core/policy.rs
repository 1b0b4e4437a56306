//! Pure IAM policy generation: a request (buckets, access, prefixes, custom policy, extra statements) in,
//! policy documents out. Most of the security of s3creds lives here, so it makes no AWS call and is tested
//! exhaustively (unit tests below, snapshot tests, and an independent IAM evaluator in `tests/`).
//!
//! The documents grant exactly what s3-credentials 0.17 grants, with one deliberate change: statements
//! that differ only in the bucket are merged into one statement listing every bucket. The grants are
//! identical, and the document is a fraction of the size, which matters because AWS caps a user's inline
//! policies and a session policy at 2,048 characters.

use crate::error::{Error, Result};
use serde_json::{json, Map, Value};

/// The placeholder `--policy` (and `--statement`) documents use for "each bucket in turn".
pub const BUCKET_PLACEHOLDER: &str = "$!BUCKET_NAME!$";
pub const POLICY_VERSION: &str = "2012-10-17";

/// AWS limit on the combined size of a user's inline policies, white space not counted.
pub const MAX_USER_INLINE_POLICY_CHARS: usize = 2048;
/// AWS limit on the plaintext of a session policy passed to AssumeRole.
pub const MAX_SESSION_POLICY_CHARS: usize = 2048;

const BUCKET_READ_ACTIONS: [&str; 2] = ["s3:ListBucket", "s3:GetBucketLocation"];
const OBJECT_READ_ACTIONS: [&str; 5] = [
    "s3:GetObject",
    "s3:GetObjectAcl",
    "s3:GetObjectLegalHold",
    "s3:GetObjectRetention",
    "s3:GetObjectTagging",
];
const OBJECT_WRITE_ACTIONS: [&str; 2] = ["s3:PutObject", "s3:DeleteObject"];

/// What the credentials may do with the buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    ReadWrite,
    ReadOnly,
    WriteOnly,
}

impl Access {
    pub fn label(self) -> &'static str {
        match self {
            Access::ReadWrite => "read-write",
            Access::ReadOnly => "read-only",
            Access::WriteOnly => "write-only",
        }
    }
}

/// The kind of a grant, as names and listings show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ScopeKind {
    ReadWrite,
    ReadOnly,
    WriteOnly,
    Custom,
}

impl ScopeKind {
    pub fn label(self) -> &'static str {
        match self {
            ScopeKind::ReadWrite => "read-write",
            ScopeKind::ReadOnly => "read-only",
            ScopeKind::WriteOnly => "write-only",
            ScopeKind::Custom => "custom",
        }
    }
}

/// Everything that determines the policy document. Built from validated command-line input.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyRequest {
    pub buckets: Vec<String>,
    pub access: Access,
    /// Key prefixes, each already ending in `*` (see [`normalize_prefix`]). Empty: the whole bucket.
    pub prefixes: Vec<String>,
    /// A `--policy` document used instead of the generated statements; `$!BUCKET_NAME!$` is substituted.
    pub custom_policy: Option<Value>,
    /// `--statement` blocks (and presets) appended to the policy.
    pub extra_statements: Vec<Value>,
    /// The AWS partition of the ARNs (`aws`, `aws-cn`, `aws-us-gov`).
    pub partition: String,
}

impl PolicyRequest {
    pub fn new(buckets: Vec<String>, access: Access) -> Self {
        PolicyRequest {
            buckets,
            access,
            prefixes: Vec::new(),
            custom_policy: None,
            extra_statements: Vec::new(),
            partition: "aws".to_string(),
        }
    }

    /// What kind of grant this is: the access, or `custom` as soon as the user supplied statements of
    /// their own.
    pub fn kind(&self) -> ScopeKind {
        match (self.is_custom(), self.access) {
            (true, _) => ScopeKind::Custom,
            (false, Access::ReadWrite) => ScopeKind::ReadWrite,
            (false, Access::ReadOnly) => ScopeKind::ReadOnly,
            (false, Access::WriteOnly) => ScopeKind::WriteOnly,
        }
    }

    /// The word used in default names: `read-write`, `read-only`, `write-only` or `custom`.
    pub fn kind_label(&self) -> &'static str {
        self.kind().label()
    }

    pub fn is_custom(&self) -> bool {
        self.custom_policy.is_some() || !self.extra_statements.is_empty()
    }

    fn s3_arn(&self, rest: &str) -> String {
        format!("arn:{}:s3:::{rest}", self.partition)
    }

    /// The one identity/session policy document for all buckets.
    pub fn document(&self) -> Result<Value> {
        let mut statements = match &self.custom_policy {
            Some(template) => self.custom_statements(template)?,
            None => self.generated_statements(),
        };
        for statement in &self.extra_statements {
            validate_statement(statement, "--statement")?;
            statements.extend(self.substitute_per_bucket(statement));
        }
        dedupe(&mut statements);
        if statements.is_empty() {
            return Err(Error::invalid("the policy has no statements"));
        }
        let version = self
            .custom_policy
            .as_ref()
            .and_then(|p| p.get("Version"))
            .cloned()
            .unwrap_or_else(|| Value::String(POLICY_VERSION.to_string()));
        Ok(json!({ "Version": version, "Statement": statements }))
    }

    fn generated_statements(&self) -> Vec<Value> {
        let bucket_arns: Vec<String> = self.buckets.iter().map(|b| self.s3_arn(b)).collect();
        let object_arns: Vec<String> = if self.prefixes.is_empty() {
            self.buckets
                .iter()
                .map(|b| self.s3_arn(&format!("{b}/*")))
                .collect()
        } else {
            self.buckets
                .iter()
                .flat_map(|b| self.prefixes.iter().map(move |p| (b, p)))
                .map(|(b, p)| self.s3_arn(&format!("{b}/{p}")))
                .collect()
        };
        let allow = |actions: &[&str], resources: &[String]| json!({"Effect": "Allow", "Action": actions, "Resource": resources});
        let mut statements = Vec::new();
        if self.access != Access::WriteOnly {
            if self.prefixes.is_empty() {
                statements.push(allow(&BUCKET_READ_ACTIONS, &bucket_arns));
            } else {
                // Listing is limited to the prefixes; the bucket's location is not secret and SDKs ask for it.
                statements.push(allow(&["s3:GetBucketLocation"], &bucket_arns));
                statements.push(json!({
                    "Effect": "Allow",
                    "Action": ["s3:ListBucket"],
                    "Resource": bucket_arns,
                    "Condition": {"StringLike": {"s3:prefix": self.prefixes}},
                }));
            }
            statements.push(allow(&OBJECT_READ_ACTIONS, &object_arns));
        }
        match self.access {
            Access::ReadWrite => statements.push(allow(&OBJECT_WRITE_ACTIONS, &object_arns)),
            Access::WriteOnly => statements.push(allow(&["s3:PutObject"], &object_arns)),
            Access::ReadOnly => {}
        }
        statements
    }

    fn custom_statements(&self, template: &Value) -> Result<Vec<Value>> {
        let statements = match template.get("Statement") {
            Some(Value::Array(items)) => items.clone(),
            Some(object @ Value::Object(_)) => vec![object.clone()],
            _ => {
                return Err(Error::invalid(
                    "--policy: the document needs a \"Statement\" list",
                ))
            }
        };
        let mut out = Vec::new();
        for statement in &statements {
            validate_statement(statement, "--policy")?;
            out.extend(self.substitute_per_bucket(statement));
        }
        Ok(out)
    }

    /// One copy of `value` per bucket with the placeholder replaced; a single copy when there is none.
    fn substitute_per_bucket(&self, value: &Value) -> Vec<Value> {
        if !contains_placeholder(value) {
            return vec![value.clone()];
        }
        self.buckets
            .iter()
            .map(|bucket| substitute(value, bucket))
            .collect()
    }
}

fn contains_placeholder(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains(BUCKET_PLACEHOLDER),
        Value::Array(items) => items.iter().any(contains_placeholder),
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains(BUCKET_PLACEHOLDER) || contains_placeholder(v)),
        _ => false,
    }
}

/// Replace the placeholder in every string of the JSON tree. Working on parsed values rather than raw text
/// means a substituted name can never change the document's structure.
fn substitute(value: &Value, bucket: &str) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace(BUCKET_PLACEHOLDER, bucket)),
        Value::Array(items) => Value::Array(items.iter().map(|v| substitute(v, bucket)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.replace(BUCKET_PLACEHOLDER, bucket), substitute(v, bucket)))
                .collect::<Map<_, _>>(),
        ),
        other => other.clone(),
    }
}

fn dedupe(statements: &mut Vec<Value>) {
    let mut seen = Vec::with_capacity(statements.len());
    statements.retain(|s| {
        if seen.contains(s) {
            false
        } else {
            seen.push(s.clone());
            true
        }
    });
}

/// Check the shape of one statement of an identity or session policy.
pub fn validate_statement(statement: &Value, origin: &str) -> Result<()> {
    let bad = |why: &str| {
        Error::invalid_with_hint(
            format!("{origin}: invalid statement {}: {why}", compact(statement)),
            r#"a statement looks like {"Effect": "Allow", "Action": "textract:*", "Resource": "*"}"#,
        )
    };
    let Value::Object(map) = statement else {
        return Err(bad("it must be a JSON object"));
    };
    for key in map.keys() {
        if !matches!(
            key.as_str(),
            "Sid" | "Effect" | "Action" | "NotAction" | "Resource" | "NotResource" | "Condition"
        ) {
            return Err(bad(&format!(
                "unknown key {key:?} (Principal belongs in bucket policies, not credentials)"
            )));
        }
    }
    match map.get("Effect").and_then(Value::as_str) {
        Some("Allow" | "Deny") => {}
        _ => return Err(bad("\"Effect\" must be \"Allow\" or \"Deny\"")),
    }
    for (key, not_key) in [("Action", "NotAction"), ("Resource", "NotResource")] {
        let value = match (map.get(key), map.get(not_key)) {
            (Some(v), None) | (None, Some(v)) => v,
            (None, None) => return Err(bad(&format!("it needs \"{key}\" (or \"{not_key}\")"))),
            (Some(_), Some(_)) => {
                return Err(bad(&format!(
                    "\"{key}\" and \"{not_key}\" cannot both be set"
                )))
            }
        };
        let ok = match value {
            Value::String(s) => !s.is_empty(),
            Value::Array(items) => {
                !items.is_empty()
                    && items
                        .iter()
                        .all(|i| i.as_str().is_some_and(|s| !s.is_empty()))
            }
            _ => false,
        };
        if !ok {
            return Err(bad(&format!(
                "\"{key}\" must be a string or a non-empty list of strings"
            )));
        }
    }
    if key_is_not_object(map, "Condition") {
        return Err(bad("\"Condition\" must be an object"));
    }
    if map.get("Sid").is_some_and(|s| !s.is_string()) {
        return Err(bad("\"Sid\" must be a string"));
    }
    Ok(())
}

fn key_is_not_object(map: &Map<String, Value>, key: &str) -> bool {
    map.get(key).is_some_and(|v| !v.is_object())
}

/// The size AWS counts: the document without insignificant white space.
pub fn compact(document: &Value) -> String {
    serde_json::to_string(document).expect("a serde_json::Value always serializes")
}

/// JSON indented by four spaces, as Python's `json.dumps(..., indent=4)` (and so s3-credentials) prints it.
pub fn pretty_json(value: &Value) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut serializer)
        .expect("a serde_json::Value always serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

pub fn compact_len(document: &Value) -> usize {
    compact(document).chars().count()
}

/// `foo/` becomes `foo/*` (as upstream). Wildcards elsewhere would silently widen the grant, so they are
/// refused.
pub fn normalize_prefix(prefix: &str) -> Result<String> {
    let body = prefix.strip_suffix('*').unwrap_or(prefix);
    if body.is_empty() {
        return Err(Error::invalid_with_hint(
            format!("invalid --prefix {prefix:?}: it is empty"),
            "leave out --prefix to grant the whole bucket",
        ));
    }
    if body.contains(['*', '?']) {
        return Err(Error::invalid(format!(
            "invalid --prefix {prefix:?}: '*' and '?' are only allowed as the final '*'"
        )));
    }
    if body.contains("${") {
        return Err(Error::invalid(format!(
            "invalid --prefix {prefix:?}: IAM policy variables (${{...}}) are not allowed"
        )));
    }
    if body.len() > 1024 {
        return Err(Error::invalid(
            "invalid --prefix: S3 keys are at most 1024 bytes",
        ));
    }
    Ok(format!("{body}*"))
}

/// The bucket policy that `--public` attaches: anyone may read any object by its key.
pub fn public_bucket_policy(partition: &str, bucket: &str) -> Value {
    json!({
        "Version": POLICY_VERSION,
        "Statement": [{
            "Sid": "AllowAllGetObject",
            "Effect": "Allow",
            "Principal": "*",
            "Action": ["s3:GetObject"],
            "Resource": [format!("arn:{partition}:s3:::{bucket}/*")],
        }],
    })
}

/// The trust policy of the role temporary credentials are issued from: any principal of the account that
/// IAM allows to call sts:AssumeRole on it.
pub fn role_trust_policy(partition: &str, account: &str) -> Value {
    json!({
        "Version": POLICY_VERSION,
        "Statement": [{
            "Effect": "Allow",
            "Principal": {"AWS": format!("arn:{partition}:iam::{account}:root")},
            "Action": "sts:AssumeRole",
        }],
    })
}

/// The AWS partition of a region name (`cn-north-1` -> `aws-cn`).
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// Parse user-supplied policy JSON. Strict JSON first; the seed documentation's own `--policy` example has
/// a trailing comma, so a document that is valid JSON5 is accepted as well.
pub fn parse_json(text: &str, origin: &str) -> Result<Value> {
    match serde_json::from_str::<Value>(text) {
        Ok(value) => Ok(value),
        Err(strict_error) => json5::from_str::<Value>(text).map_err(|_| {
            Error::invalid_with_hint(
                format!("{origin}: not valid JSON: {strict_error}"),
                "check quotes and brackets; pass a file path, a JSON string, or - for standard input",
            )
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(buckets: &[&str], access: Access) -> PolicyRequest {
        PolicyRequest::new(buckets.iter().map(|b| b.to_string()).collect(), access)
    }

    #[test]
    fn read_write_matches_upstream_for_one_bucket() {
        let doc = request(&["b"], Access::ReadWrite).document().unwrap();
        assert_eq!(
            doc,
            json!({"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":["s3:ListBucket","s3:GetBucketLocation"],"Resource":["arn:aws:s3:::b"]},
                {"Effect":"Allow","Action":["s3:GetObject","s3:GetObjectAcl","s3:GetObjectLegalHold","s3:GetObjectRetention","s3:GetObjectTagging"],"Resource":["arn:aws:s3:::b/*"]},
                {"Effect":"Allow","Action":["s3:PutObject","s3:DeleteObject"],"Resource":["arn:aws:s3:::b/*"]}
            ]})
        );
    }

    #[test]
    fn write_only_with_prefix_is_only_put_object_under_the_prefix() {
        let mut req = request(&["b"], Access::WriteOnly);
        req.prefixes = vec![normalize_prefix("logs/").unwrap()];
        assert_eq!(
            req.document().unwrap(),
            json!({"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Action":["s3:PutObject"],"Resource":["arn:aws:s3:::b/logs/*"]}
            ]})
        );
    }

    #[test]
    fn read_only_prefix_conditions_listing() {
        let mut req = request(&["b1", "b2"], Access::ReadOnly);
        req.prefixes = vec!["foo/*".into()];
        let doc = req.document().unwrap();
        let statements = doc["Statement"].as_array().unwrap();
        assert_eq!(statements.len(), 3);
        assert_eq!(statements[0]["Action"], json!(["s3:GetBucketLocation"]));
        assert_eq!(
            statements[1]["Condition"],
            json!({"StringLike":{"s3:prefix":["foo/*"]}})
        );
        assert_eq!(
            statements[2]["Resource"],
            json!(["arn:aws:s3:::b1/foo/*", "arn:aws:s3:::b2/foo/*"])
        );
        assert!(!compact(&doc).contains("PutObject"));
    }

    #[test]
    fn custom_policy_substitutes_every_bucket_and_keeps_statements() {
        let mut req = request(&["b1", "b2"], Access::ReadWrite);
        req.custom_policy = Some(json!({"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Action":["s3:GetObject*"],"Resource":["arn:aws:s3:::$!BUCKET_NAME!$/*"]}
        ]}));
        req.extra_statements = vec![json!({"Effect":"Allow","Action":"textract:*","Resource":"*"})];
        let doc = req.document().unwrap();
        let text = compact(&doc);
        assert!(
            text.contains("arn:aws:s3:::b1/*") && text.contains("arn:aws:s3:::b2/*"),
            "{text}"
        );
        assert!(text.contains("textract:*"), "{text}");
        assert!(!text.contains(BUCKET_PLACEHOLDER));
        assert_eq!(req.kind_label(), "custom");
    }

    #[test]
    fn invalid_statements_are_refused() {
        for bad in [
            json!("x"),
            json!({"Effect":"Allow","Action":"s3:*"}),
            json!({"Effect":"Maybe","Action":"s3:*","Resource":"*"}),
            json!({"Effect":"Allow","Action":[],"Resource":"*"}),
            json!({"Effect":"Allow","Action":"s3:*","Resource":"*","Principal":"*"}),
            json!({"Effect":"Allow","Action":"s3:*","NotAction":"s3:Get*","Resource":"*"}),
            json!({"Effect":"Allow","Action":"s3:*","Resource":"*","Condition":"x"}),
        ] {
            let mut req = request(&["b"], Access::ReadOnly);
            req.extra_statements = vec![bad.clone()];
            assert!(req.document().is_err(), "{bad}");
        }
    }

    #[test]
    fn prefixes_are_normalized_and_wildcards_refused() {
        assert_eq!(normalize_prefix("foo/").unwrap(), "foo/*");
        assert_eq!(normalize_prefix("foo/*").unwrap(), "foo/*");
        for bad in ["", "*", "f*o/", "a?b", "${aws:username}/"] {
            assert!(normalize_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn trailing_comma_json_from_the_seed_is_accepted_but_garbage_is_not() {
        let seed = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
            "Action": ["s3:GetObject*", "s3:ListBucket"],
            "Resource": ["arn:aws:s3:::$!BUCKET_NAME!$", "arn:aws:s3:::$!BUCKET_NAME!$/*"],}]}"#;
        assert!(parse_json(seed, "--policy").is_ok());
        let error = parse_json("{nope", "--policy").unwrap_err();
        assert!(error.to_string().starts_with("--policy: not valid JSON"));
    }

    #[test]
    fn partition_follows_region() {
        assert_eq!(partition_for_region("cn-north-1"), "aws-cn");
        assert_eq!(partition_for_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_for_region("eu-west-1"), "aws");
    }
}
