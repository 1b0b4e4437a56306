//! AWS naming rules and the names s3creds derives: bucket names, IAM user/policy names, role session names.
//!
//! Everything here is checked before the first AWS call that changes anything, so a bad name never leaves
//! half-created resources behind.

use crate::error::{Error, Result};
use sha2::{Digest, Sha256};

/// IAM user names: 1..=64 characters of `[\w+=,.@-]`.
pub const MAX_USER_NAME: usize = 64;
/// IAM inline policy names: 1..=128 characters of `[\w+=,.@-]`.
pub const MAX_POLICY_NAME: usize = 128;
/// STS RoleSessionName: 2..=64 characters of `[\w+=,.@-]`.
pub const MAX_SESSION_NAME: usize = 64;
pub const MIN_SESSION_NAME: usize = 2;

/// Check an S3 general purpose bucket name against the S3 naming rules.
pub fn validate_bucket_name(name: &str) -> Result<()> {
    let problem = bucket_name_problem(name);
    match problem {
        None => Ok(()),
        Some(problem) => Err(Error::invalid_with_hint(
            format!("invalid bucket name {name:?}: {problem}"),
            "bucket names are 3-63 characters of lowercase letters, digits, '.' and '-', \
             starting and ending with a letter or digit",
        )),
    }
}

fn bucket_name_problem(name: &str) -> Option<&'static str> {
    if !(3..=63).contains(&name.len()) {
        return Some("it must be between 3 and 63 characters long");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Some("only lowercase letters, digits, '.' and '-' are allowed");
    }
    let first = name.as_bytes()[0];
    let last = name.as_bytes()[name.len() - 1];
    if !first.is_ascii_alphanumeric() || !last.is_ascii_alphanumeric() {
        return Some("it must start and end with a letter or digit");
    }
    if name.contains("..") {
        return Some("it must not contain two adjacent periods");
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Some("it must not be formatted as an IP address");
    }
    const RESERVED_PREFIXES: [&str; 4] =
        ["xn--", "sthree-", "sthree-configurator", "amzn-s3-demo-"];
    if RESERVED_PREFIXES.iter().any(|p| name.starts_with(p)) {
        return Some("it starts with a prefix S3 reserves");
    }
    const RESERVED_SUFFIXES: [&str; 5] = ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"];
    if RESERVED_SUFFIXES.iter().any(|s| name.ends_with(s)) {
        return Some("it ends with a suffix S3 reserves");
    }
    None
}

/// The characters IAM allows in user, policy and role session names.
fn is_iam_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "_+=,.@-".contains(c)
}

fn validate_iam_name(kind: &str, name: &str, min: usize, max: usize) -> Result<()> {
    let length = name.chars().count();
    if length < min || length > max {
        return Err(Error::invalid(format!(
            "invalid {kind} {name:?}: it must be {min} to {max} characters long (it has {length})"
        )));
    }
    if let Some(bad) = name.chars().find(|c| !is_iam_name_char(*c)) {
        return Err(Error::invalid_with_hint(
            format!("invalid {kind} {name:?}: character {bad:?} is not allowed"),
            "IAM names may use letters, digits and _ + = , . @ -",
        ));
    }
    Ok(())
}

pub fn validate_user_name(name: &str) -> Result<()> {
    validate_iam_name("user name", name, 1, MAX_USER_NAME)
}

pub fn validate_policy_name(name: &str) -> Result<()> {
    validate_iam_name("policy name", name, 1, MAX_POLICY_NAME)
}

pub fn validate_session_name(name: &str) -> Result<()> {
    validate_iam_name(
        "role session name",
        name,
        MIN_SESSION_NAME,
        MAX_SESSION_NAME,
    )
}

/// The upstream naming pattern `s3.{kind}.{bucket1,bucket2}`, shortened to `max` characters when needed.
///
/// Shortening keeps the readable head of the full name and appends `-` plus 10 hex digits of the SHA-256
/// of the full name, so two different bucket sets never share a shortened name by accident and the
/// same request always yields the same name (re-running `create` finds the same user).
pub fn derived_name(kind: &str, buckets: &[String], max: usize) -> String {
    let full = format!("s3.{kind}.{}", buckets.join(","));
    if full.len() <= max {
        return full;
    }
    const HASH_HEX: usize = 10;
    let digest = Sha256::digest(full.as_bytes());
    let hash: String = digest
        .iter()
        .take(HASH_HEX / 2)
        .map(|b| format!("{b:02x}"))
        .collect();
    // Every character of `full` is ASCII (bucket names are validated first), so byte slicing is safe;
    // trailing separators are trimmed so the name does not end in ".-" or ",-".
    let head = full[..max - HASH_HEX - 1].trim_end_matches(['.', ',', '-']);
    format!("{head}-{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_bucket_names_pass() {
        for name in [
            "abc",
            "static.niche-museums.com",
            "a1-b2.c3",
            &"a".repeat(63),
        ] {
            validate_bucket_name(name).unwrap();
        }
    }

    #[test]
    fn bad_bucket_names_fail_with_a_reason() {
        for (name, reason) in [
            ("ab", "between 3 and 63"),
            (&"a".repeat(64), "between 3 and 63"),
            ("My-Bucket", "lowercase"),
            ("my_bucket", "lowercase"),
            ("-bucket", "start and end"),
            ("bucket.", "start and end"),
            ("my..bucket", "adjacent periods"),
            ("192.168.5.4", "IP address"),
            ("xn--bucket", "prefix"),
            ("bucket-s3alias", "suffix"),
            ("arn:aws:s3:::b", "lowercase"),
        ] {
            let message = validate_bucket_name(name).unwrap_err().to_string();
            assert!(message.contains(reason), "{name}: {message}");
        }
    }

    #[test]
    fn iam_names_follow_the_limits() {
        validate_user_name("s3.read-write.my-bucket").unwrap();
        validate_user_name(&"u".repeat(64)).unwrap();
        assert!(validate_user_name(&"u".repeat(65)).is_err());
        assert!(validate_user_name("").is_err());
        assert!(validate_user_name("bad name").is_err());
        assert!(validate_user_name("bad/name").is_err());
        validate_policy_name(&"p".repeat(128)).unwrap();
        assert!(validate_policy_name(&"p".repeat(129)).is_err());
        assert!(validate_session_name("a").is_err());
        validate_session_name("ab").unwrap();
    }

    #[test]
    fn short_derived_names_are_the_upstream_pattern() {
        let buckets = vec!["static.niche-museums.com".to_string()];
        assert_eq!(
            derived_name("read-write", &buckets, MAX_USER_NAME),
            "s3.read-write.static.niche-museums.com"
        );
        let two = vec!["b1".to_string(), "b2".to_string()];
        assert_eq!(
            derived_name("read-only", &two, MAX_USER_NAME),
            "s3.read-only.b1,b2"
        );
    }

    #[test]
    fn long_derived_names_are_shortened_deterministically_and_stay_valid() {
        let long: Vec<String> = (0..5).map(|i| format!("{}-{i}", "x".repeat(40))).collect();
        let name = derived_name("read-write", &long, MAX_USER_NAME);
        assert_eq!(name.len(), MAX_USER_NAME);
        assert!(name.starts_with("s3.read-write.xxxx"), "{name}");
        validate_user_name(&name).unwrap();
        assert_eq!(name, derived_name("read-write", &long, MAX_USER_NAME));
        let mut other = long.clone();
        other[4].push('9');
        assert_ne!(name, derived_name("read-write", &other, MAX_USER_NAME));
    }
}
