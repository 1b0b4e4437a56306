//! Pure IAM policy generation: a request (buckets, access, prefixes, custom policy, extra statements) in,
//! policy documents out. Most of the security of s3creds lives here, so it makes no AWS call and is tested
//! exhaustively (unit tests below, snapshot tests, and an independent IAM evaluator in `tests/`).
//!
//! The documents grant exactly what s3-credentials 0.17 grants, with one deliberate change: statements
//! that differ only in the bucket are merged into one statement listing every bucket. The grants are
//! identical, and the document is a fraction of the size, which matters because AWS caps a user's inline
//! policies and a session policy at 2,048 characters.

use super::policy_grammar as grammar;
use crate::error::{Error, Result};
use serde_json::{json, Map, Value};
use std::collections::HashSet;

/// The placeholder `--policy` (and `--statement`) documents use for "each bucket in turn".
pub const BUCKET_PLACEHOLDER: &str = "$!BUCKET_NAME!$";
pub const POLICY_VERSION: &str = "2012-10-17";

/// AWS limit on the combined size of a user's inline policies, white space not counted.
pub const MAX_USER_INLINE_POLICY_CHARS: usize = 2048;
/// AWS limit on the plaintext of a session policy passed to AssumeRole.
pub const MAX_SESSION_POLICY_CHARS: usize = 2048;
/// The most statements a policy may have, counted before duplicates are dropped. The shortest possible
/// statement, `{"Effect":"Allow","Action":"*","Resource":"*"}` plus a comma, is 47 characters, so even
/// AWS's largest policies (managed policies, 6,144 characters) hold at most 130; inline and session
/// policies at most 43. Counting is free, so this is checked before any work that grows with the input.
pub const MAX_STATEMENTS: usize = 130;

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
    ///
    /// Everything IAM's policy grammar would refuse is refused here, so every command (and `create`
    /// before its first AWS call) reports it: cheap limits first, then each statement's grammar, then
    /// the Sids after copying per bucket.
    pub fn document(&self) -> Result<Value> {
        let mut inputs: Vec<(&Value, &str)> = match &self.custom_policy {
            Some(template) => custom_statements(template)?
                .iter()
                .map(|s| (s, "--policy"))
                .collect(),
            None => Vec::new(),
        };
        inputs.extend(self.extra_statements.iter().map(|s| (s, "--statement")));
        self.check_statement_count(&inputs)?;
        for (statement, origin) in &inputs {
            validate_statement(statement, origin)?;
        }
        check_sids_given_once(&inputs)?;
        let mut statements = match &self.custom_policy {
            Some(_) => Vec::new(),
            None => self.generated_statements(),
        };
        for (statement, _) in &inputs {
            statements.extend(self.substitute_per_bucket(statement));
        }
        check_sids_unique_after_copying(&statements)?;
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

    /// Refuse more than [`MAX_STATEMENTS`] before copying statements per bucket, which multiplies them.
    fn check_statement_count(&self, inputs: &[(&Value, &str)]) -> Result<()> {
        let generated = if self.custom_policy.is_some() { 0 } else { 4 };
        let count = inputs
            .iter()
            .map(|(statement, _)| {
                if contains_placeholder(statement) {
                    self.buckets.len()
                } else {
                    1
                }
            })
            .fold(generated, usize::saturating_add);
        if count > MAX_STATEMENTS {
            return Err(Error::invalid_with_hint(
                format!(
                    "the policy would have {count} statements; AWS's policy size limits leave room \
                     for at most {MAX_STATEMENTS} (43 in an inline or session policy)"
                ),
                "merge statements (Action and Resource take lists), or name fewer buckets per credential",
            ));
        }
        Ok(())
    }

    /// One copy of `value` per bucket with the placeholder replaced; a single copy when there is none.
    /// With several buckets a `Sid` is numbered by bucket position (`Read` -> `Read1`, `Read2`), because
    /// IAM refuses a policy whose Sids repeat.
    fn substitute_per_bucket(&self, value: &Value) -> Vec<Value> {
        if !contains_placeholder(value) {
            return vec![value.clone()];
        }
        let numbered = self.buckets.len() > 1;
        self.buckets
            .iter()
            .enumerate()
            .map(|(position, bucket)| {
                let mut copy = substitute(value, bucket);
                if let Some(Value::String(sid)) = copy.get_mut("Sid") {
                    if numbered && !sid.is_empty() {
                        sid.push_str(&(position + 1).to_string());
                    }
                }
                copy
            })
            .collect()
    }
}

/// The statements of a `--policy` document, after checking its top level.
fn custom_statements(template: &Value) -> Result<&[Value]> {
    if let Value::Object(map) = template {
        grammar::check_policy_envelope(map).map_err(|why| {
            Error::invalid_with_hint(
                format!("--policy: {why}"),
                r#"a policy looks like {"Version": "2012-10-17", "Statement": [...]}"#,
            )
        })?;
    }
    match template.get("Statement") {
        Some(Value::Array(items)) => Ok(items),
        Some(object @ Value::Object(_)) => Ok(std::slice::from_ref(object)),
        _ => Err(Error::invalid(
            "--policy: the document needs a \"Statement\" list",
        )),
    }
}

fn sid_of(statement: &Value) -> Option<&str> {
    statement
        .get("Sid")
        .and_then(Value::as_str)
        .filter(|sid| !sid.is_empty())
}

/// IAM refuses repeated Sids; a repeat in what the user wrote is theirs to fix.
fn check_sids_given_once(inputs: &[(&Value, &str)]) -> Result<()> {
    let mut seen = HashSet::new();
    for (statement, origin) in inputs {
        if let Some(sid) = sid_of(statement) {
            if !seen.insert(sid) {
                return Err(Error::invalid_with_hint(
                    format!(
                        "{origin}: the Sid {} is used by more than one statement",
                        grammar::quoted(sid)
                    ),
                    "IAM requires every Sid in a policy to be unique: rename or remove one",
                ));
            }
        }
    }
    Ok(())
}

/// Numbering copied Sids can still collide with a Sid the user wrote (`Read` copied as `Read1` next to a
/// statement named `Read1`).
fn check_sids_unique_after_copying(statements: &[Value]) -> Result<()> {
    let mut seen = HashSet::new();
    for sid in statements.iter().filter_map(sid_of) {
        if !seen.insert(sid) {
            return Err(Error::invalid_with_hint(
                format!(
                    "the Sid {} would be used twice: statements with $!BUCKET_NAME!$ are \
                     copied per bucket with their Sid numbered (Read -> Read1, Read2, ...)",
                    grammar::quoted(sid)
                ),
                "rename the Sid that ends in a digit",
            ));
        }
    }
    Ok(())
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

/// Drop repeated statements, keeping the first. Linear: statements are compared by their compact text.
fn dedupe(statements: &mut Vec<Value>) {
    let mut seen = HashSet::with_capacity(statements.len());
    statements.retain(|s| seen.insert(compact(s)));
}

/// Check the shape of one statement of an identity or session policy.
pub fn validate_statement(statement: &Value, origin: &str) -> Result<()> {
    let bad = |why: &str| {
        Error::invalid_with_hint(
            format!("{origin}: invalid statement {}: {why}", excerpt(statement)),
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
                "unknown key {} (Principal belongs in bucket policies, not credentials)",
                grammar::quoted(key)
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
        let items: Vec<&str> = match value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        let ok = !items.is_empty()
            && items.len() == value.as_array().map_or(1, Vec::len)
            && items.iter().all(|s| !s.is_empty());
        if !ok {
            return Err(bad(&format!(
                "\"{key}\" must be a string or a non-empty list of strings"
            )));
        }
        let check = if key == "Action" {
            grammar::check_action
        } else {
            grammar::check_resource
        };
        for item in items {
            check(item).map_err(|why| bad(&why))?;
        }
    }
    if let Some(condition) = map.get("Condition") {
        grammar::check_condition(condition).map_err(|why| bad(&why))?;
    }
    match map.get("Sid") {
        None => {}
        Some(Value::String(sid)) => grammar::check_sid(sid).map_err(|why| bad(&why))?,
        Some(_) => return Err(bad("\"Sid\" must be a string")),
    }
    Ok(())
}

/// A statement as quoted in an error: compact, and cut short so that the error stays one readable line.
fn excerpt(statement: &Value) -> String {
    const SHOWN: usize = 200;
    let text = compact(statement);
    match text.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
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
    if let Some(wildcard) = body.find(['*', '?']) {
        let literal = &body[..wildcard];
        let instead = if literal.is_empty() {
            "leave out --prefix to grant the whole bucket".to_string()
        } else {
            format!(
                "a prefix already covers every key that starts with it: write --prefix {literal:?}, \
                 or repeat --prefix once per folder (--prefix app1/ --prefix app2/)"
            )
        };
        return Err(Error::invalid_with_hint(
            format!("invalid --prefix {prefix:?}: '*' and '?' are only allowed as the final '*'"),
            instead,
        ));
    }
    if body.contains("${") {
        return Err(Error::invalid_with_hint(
            format!("invalid --prefix {prefix:?}: IAM policy variables (${{...}}) are not allowed"),
            "write the literal key prefix; for per-user prefixes, pass a --policy document",
        ));
    }
    if body.len() > 1024 {
        return Err(Error::invalid_with_hint(
            "invalid --prefix: S3 keys are at most 1024 bytes",
            "use a shorter prefix: the start of the key is enough",
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
    fn a_sid_copied_per_bucket_is_numbered_by_bucket_position() {
        let mut req = request(&["b1", "b2"], Access::ReadWrite);
        req.custom_policy = Some(json!({"Version":"2012-10-17","Statement":[
            {"Sid":"Read","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::$!BUCKET_NAME!$/*"},
            {"Sid":"Text","Effect":"Allow","Action":"textract:*","Resource":"*"}
        ]}));
        let doc = req.document().unwrap();
        let sids: Vec<&str> = doc["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["Sid"].as_str().unwrap())
            .collect();
        assert_eq!(sids, ["Read1", "Read2", "Text"]);
        req.buckets = vec!["b1".into()];
        assert_eq!(req.document().unwrap()["Statement"][0]["Sid"], "Read");
    }

    #[test]
    fn repeated_or_colliding_sids_are_refused() {
        let statement = |sid: &str, resource: &str| json!({"Sid": sid, "Effect": "Allow", "Action": "s3:GetObject", "Resource": resource});
        let mut req = request(&["b1", "b2"], Access::ReadWrite);
        req.extra_statements = vec![statement("A", "*"), statement("A", "arn:aws:s3:::x")];
        let error = req.document().unwrap_err().to_string();
        assert!(error.contains("\"A\" is used by more than one"), "{error}");
        // Identical statements with the same Sid are still the user's repeat.
        req.extra_statements = vec![statement("A", "*"), statement("A", "*")];
        assert!(req.document().is_err());
        req.extra_statements = vec![
            statement("Read", "arn:aws:s3:::$!BUCKET_NAME!$"),
            statement("Read2", "*"),
        ];
        let error = req.document().unwrap_err().to_string();
        assert!(error.contains("\"Read2\" would be used twice"), "{error}");
        // Statements without a Sid may repeat; the copy is dropped.
        let plain = json!({"Effect": "Allow", "Action": "textract:*", "Resource": "*"});
        req.extra_statements = vec![plain.clone(), plain];
        let doc = req.document().unwrap();
        assert_eq!(doc["Statement"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn grammar_is_checked_for_every_statement() {
        for bad in [
            json!({"Effect":"Allow","Action":"s3 GetObject","Resource":"*"}),
            json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"bucket"}),
            json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Sid":"a-b"}),
            json!({"Effect":"Allow","Action":"s3:GetObject","Resource":"*","Condition":{"Foo":{"k":"v"}}}),
            json!({"Effect":"Allow","Action":["s3:GetObject", 7],"Resource":"*"}),
        ] {
            let mut req = request(&["b"], Access::ReadOnly);
            req.extra_statements = vec![bad.clone()];
            assert!(req.document().is_err(), "{bad}");
            let mut req = request(&["b"], Access::ReadOnly);
            req.custom_policy = Some(json!({"Statement": [bad.clone()]}));
            assert!(req.document().is_err(), "{bad}");
        }
        let mut req = request(&["b"], Access::ReadOnly);
        req.custom_policy =
            Some(json!({"Version": "2012-10-17", "Statement": [], "Principal": "*"}));
        assert!(req
            .document()
            .unwrap_err()
            .to_string()
            .contains("top-level"));
    }

    #[test]
    fn a_huge_statement_count_is_refused_before_any_quadratic_work() {
        let statement = json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"});
        let mut req = request(&["b"], Access::ReadOnly);
        req.extra_statements = vec![statement.clone(); 40_000];
        let started = std::time::Instant::now();
        let error = req.document().unwrap_err().to_string();
        assert!(error.contains("40004 statements"), "{error}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // At the limit, 130 distinct statements are deduplicated quickly and kept.
        req.custom_policy = Some(json!({"Statement": (0..MAX_STATEMENTS)
            .map(|i| json!({"Effect": "Allow", "Action": format!("s3:Get{i}"), "Resource": "*"}))
            .collect::<Vec<_>>()}));
        req.extra_statements.clear();
        assert_eq!(
            req.document().unwrap()["Statement"]
                .as_array()
                .unwrap()
                .len(),
            MAX_STATEMENTS
        );
        // The count includes the copies made per bucket.
        let mut req = request(&["b1", "b2", "b3"], Access::ReadOnly);
        req.custom_policy = Some(json!({"Statement": vec![
            json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::$!BUCKET_NAME!$"}); 50]}));
        assert!(req
            .document()
            .unwrap_err()
            .to_string()
            .contains("150 statements"));
    }

    #[test]
    fn every_prefix_error_has_a_hint() {
        for (bad, hint) in [
            ("app*/", "write --prefix \"app\""),
            ("*x", "leave out --prefix"),
            ("", "leave out --prefix"),
            ("${aws:username}/", "literal key prefix"),
        ] {
            let error = normalize_prefix(bad).unwrap_err();
            let shown = error.hint().unwrap_or_default();
            assert!(shown.contains(hint), "{bad}: {shown}");
        }
        assert!(normalize_prefix(&"k".repeat(2000))
            .unwrap_err()
            .hint()
            .is_some());
    }

    #[test]
    fn partition_follows_region() {
        assert_eq!(partition_for_region("cn-north-1"), "aws-cn");
        assert_eq!(partition_for_region("us-gov-west-1"), "aws-us-gov");
        assert_eq!(partition_for_region("eu-west-1"), "aws");
    }
}
