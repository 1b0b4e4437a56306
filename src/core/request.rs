//! The validated request every command works from. The command line is turned into these types once
//! (by `crate::request`), and nothing downstream re-validates: a `Scope` exists only if its buckets are
//! valid and distinct, its prefixes are safe and its policy document was generated without error.

use super::duration;
use super::expiry::{self, Expiry};
use super::names;
use super::policy::{self, PolicyRequest};
use crate::error::{Error, Result};
use serde_json::Value;
use std::time::Duration;

/// A bucket name that follows the S3 naming rules.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BucketName(String);

impl BucketName {
    pub fn parse(text: &str) -> Result<BucketName> {
        names::validate_bucket_name(text)?;
        Ok(BucketName(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One or more distinct bucket names, in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buckets(Vec<BucketName>);

impl Buckets {
    pub fn parse(names: &[String]) -> Result<Buckets> {
        if names.is_empty() {
            return Err(Error::invalid("name at least one bucket"));
        }
        let mut buckets: Vec<BucketName> = Vec::with_capacity(names.len());
        for name in names {
            let bucket = BucketName::parse(name)?;
            if buckets.contains(&bucket) {
                return Err(Error::invalid_with_hint(
                    format!("bucket {name:?} is named twice"),
                    "name each bucket once",
                ));
            }
            buckets.push(bucket);
        }
        Ok(Buckets(buckets))
    }

    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(|b| b.0.clone()).collect()
    }
}

/// A key prefix as it appears in policies: ends in exactly one `*`, no other wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrefix(String);

impl KeyPrefix {
    pub fn parse(text: &str) -> Result<KeyPrefix> {
        policy::normalize_prefix(text).map(KeyPrefix)
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An STS session duration: 15 minutes to 12 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionDuration(Duration);

impl SessionDuration {
    pub fn parse(text: &str) -> Result<SessionDuration> {
        duration::parse_session_duration(text).map(SessionDuration)
    }

    pub fn get(self) -> Duration {
        self.0
    }

    pub fn seconds(self) -> u64 {
        self.0.as_secs()
    }
}

/// Which AWS limit a policy document must fit: both are 2,048 characters today, but they are separate
/// limits of separate APIs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PolicyLimit {
    /// All inline policies of an IAM user together.
    UserInlinePolicy,
    /// The `Policy` parameter of AssumeRole.
    SessionPolicy,
}

impl PolicyLimit {
    fn chars(self) -> usize {
        match self {
            PolicyLimit::UserInlinePolicy => policy::MAX_USER_INLINE_POLICY_CHARS,
            PolicyLimit::SessionPolicy => policy::MAX_SESSION_POLICY_CHARS,
        }
    }

    fn what(self) -> &'static str {
        match self {
            PolicyLimit::UserInlinePolicy => "user inline policy",
            PolicyLimit::SessionPolicy => "session policy",
        }
    }
}

/// What the credentials may do: the buckets and the one policy document for all of them, generated
/// once when the scope is built.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    policy: PolicyRequest,
    document: Value,
    /// `--expires`: already written into every Allow statement of `document`.
    expiry: Option<Expiry>,
}

impl Scope {
    /// Validate `policy` and generate its document. Buckets are checked before anything else, so a bad
    /// or repeated bucket is reported the same way by every command.
    pub fn new(policy: PolicyRequest) -> Result<Scope> {
        Buckets::parse(&policy.buckets)?;
        let document = policy.document()?;
        Ok(Scope {
            policy,
            document,
            expiry: None,
        })
    }

    /// The same scope ending at `expiry`: every Allow statement gets the time condition. Size limits
    /// are checked later against this longer document.
    pub fn with_expiry(mut self, expiry: Expiry) -> Result<Scope> {
        self.document = expiry::add_expiry(&self.document, &expiry)?;
        self.expiry = Some(expiry);
        Ok(self)
    }

    pub fn expiry(&self) -> Option<&Expiry> {
        self.expiry.as_ref()
    }

    pub fn buckets(&self) -> &[String] {
        &self.policy.buckets
    }

    pub fn request(&self) -> &PolicyRequest {
        &self.policy
    }

    pub fn document(&self) -> &Value {
        &self.document
    }

    /// `read-write`, `read-only`, `write-only` or `custom`.
    pub fn kind_label(&self) -> &'static str {
        self.policy.kind_label()
    }

    pub fn partition(&self) -> &str {
        &self.policy.partition
    }

    /// Refuse a document longer than AWS allows for `limit` (white space not counted).
    pub fn check_size(&self, limit: PolicyLimit) -> Result<()> {
        let size = policy::compact_len(&self.document);
        if size > limit.chars() {
            return Err(Error::invalid_with_hint(
                format!(
                    "the {} would be {size} characters; AWS allows at most {}",
                    limit.what(),
                    limit.chars()
                ),
                "name fewer buckets or prefixes per credential, or shorten --policy/--statement/--preset",
            ));
        }
        Ok(())
    }
}

/// Longest `--wait-timeout` accepted: IAM propagates within seconds; an hour is already generous, and
/// the bound keeps every deadline computation far from overflow.
pub const MAX_WAIT: Duration = Duration::from_secs(3600);

/// `--wait-timeout`: how long to wait for IAM's eventual consistency.
pub fn parse_wait(text: &str) -> Result<Duration> {
    let seconds = duration::parse_seconds(text)?;
    if seconds > MAX_WAIT.as_secs() {
        return Err(Error::invalid_with_hint(
            format!("invalid --wait-timeout {text:?}: at most 1h"),
            "IAM makes new keys usable within seconds; use e.g. 60s, or --no-wait",
        ));
    }
    Ok(Duration::from_secs(seconds))
}

/// What `serve` (and `profile add`, which writes a `serve` command) is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ServeRequest {
    pub scope: Scope,
    pub duration: SessionDuration,
    /// Fetch anew when cached credentials have less than this left.
    pub refresh_window: Duration,
    pub use_cache: bool,
}

impl ServeRequest {
    pub fn new(
        scope: Scope,
        duration: SessionDuration,
        refresh_window: Duration,
        use_cache: bool,
    ) -> Result<ServeRequest> {
        if refresh_window >= duration.get() {
            return Err(Error::invalid_with_hint(
                format!(
                    "--refresh-window {}s leaves no time to use credentials lasting --duration {}s",
                    refresh_window.as_secs(),
                    duration.seconds()
                ),
                "make the refresh window shorter than the duration (defaults: 15m and 1h)",
            ));
        }
        scope.check_size(PolicyLimit::SessionPolicy)?;
        Ok(ServeRequest {
            scope,
            duration,
            refresh_window,
            use_cache,
        })
    }

    /// The role session name: the upstream naming pattern, shortened to STS's limit.
    pub fn session_name(&self) -> String {
        names::derived_name(
            self.scope.kind_label(),
            self.scope.buckets(),
            names::MAX_SESSION_NAME,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::Access;
    use crate::error::exit_code;

    fn scope(buckets: &[&str]) -> Result<Scope> {
        Scope::new(PolicyRequest::new(
            buckets.iter().map(|b| b.to_string()).collect(),
            Access::ReadWrite,
        ))
    }

    #[test]
    fn a_bucket_named_twice_is_refused() {
        let error = scope(&["b-one", "b-two", "b-one"]).unwrap_err();
        assert_eq!(error.exit_code(), exit_code::INVALID_INPUT);
        assert_eq!(error.to_string(), "bucket \"b-one\" is named twice");
    }

    #[test]
    fn invalid_and_missing_buckets_are_refused() {
        assert!(scope(&[]).is_err());
        assert!(scope(&["Bad_Name"]).is_err());
        assert!(scope(&["ok-bucket"]).is_ok());
    }

    #[test]
    fn the_document_is_generated_once_and_carried() {
        let s = scope(&["b-one"]).unwrap();
        assert_eq!(s.document(), &s.request().document().unwrap());
    }

    #[test]
    fn size_limits_are_checked_per_kind() {
        let many: Vec<String> = (0..40).map(|i| format!("bucket-number-{i:03}")).collect();
        let big = Scope::new(PolicyRequest::new(many, Access::ReadWrite)).unwrap();
        for limit in [PolicyLimit::UserInlinePolicy, PolicyLimit::SessionPolicy] {
            let error = big.check_size(limit).unwrap_err();
            assert!(error.to_string().contains(limit.what()), "{error}");
        }
        let small = scope(&["b-one"]).unwrap();
        assert!(small.check_size(PolicyLimit::SessionPolicy).is_ok());
    }

    #[test]
    fn serve_requests_need_a_refresh_window_shorter_than_the_duration() {
        let duration = SessionDuration::parse("1h").unwrap();
        let s = scope(&["b-one"]).unwrap();
        assert!(ServeRequest::new(s.clone(), duration, Duration::from_secs(900), true).is_ok());
        let error = ServeRequest::new(s, duration, Duration::from_secs(3600), true).unwrap_err();
        assert_eq!(error.exit_code(), exit_code::INVALID_INPUT);
    }

    #[test]
    fn wait_timeouts_are_bounded() {
        assert_eq!(parse_wait("60s").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_wait("1h").unwrap(), MAX_WAIT);
        for bad in ["18446744073709551615", "3601", "2h", "x"] {
            assert_eq!(
                parse_wait(bad).unwrap_err().exit_code(),
                exit_code::INVALID_INPUT,
                "{bad}"
            );
        }
    }
}
