//! The IAM tags s3creds puts on the users and the role it creates.
//!
//! They let `list` show only what s3creds manages, let `delete-user` refuse a person's account unless
//! `--force` is given, and let `delete-user --expired` find keys past their `--expires`. Tags carry only
//! short facts: IAM allows 50 tags of 128-character keys and 256-character values, so the bucket list
//! stays in the policy, where `list` reads it back.

use crate::error::{Error, Result};
use serde::Serialize;

/// Present (value `true`) on everything s3creds creates.
pub const MANAGED: &str = "s3creds:managed";
/// The access kind: `read-write`, `read-only`, `write-only` or `custom`.
pub const ACCESS: &str = "s3creds:access";
/// The s3creds version that created it.
pub const VERSION: &str = "s3creds:version";
/// When the user's policy stops allowing anything (`create --expires`), RFC 3339 UTC.
pub const EXPIRES: &str = "s3creds:expires";

const MANAGED_VALUE: &str = "true";
const MAX_TAGS: usize = 50;
const MAX_KEY_CHARS: usize = 128;
const MAX_VALUE_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// What s3creds records about a user or role it creates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ManagedTags {
    /// `ScopeKind::label()` for users; absent on the role, whose scope changes with every session.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access: Option<String>,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

impl ManagedTags {
    /// Tags for something this build of s3creds creates now.
    pub fn new(access: Option<&str>, expires: Option<String>) -> ManagedTags {
        ManagedTags {
            access: access.map(str::to_string),
            version: env!("CARGO_PKG_VERSION").to_string(),
            expires,
        }
    }

    /// The tags to send, checked against IAM's limits so a bad value fails before any call.
    pub fn to_tags(&self) -> Result<Vec<Tag>> {
        let mut tags = vec![tag(MANAGED, MANAGED_VALUE), tag(VERSION, &self.version)];
        if let Some(access) = &self.access {
            tags.push(tag(ACCESS, access));
        }
        if let Some(expires) = &self.expires {
            tags.push(tag(EXPIRES, expires));
        }
        check(&tags)?;
        Ok(tags)
    }

    /// Read back the tags of a user or role: `None` when s3creds does not manage it. Unknown tags
    /// (added by people) are ignored; a managed user with a missing field reads as `None` there.
    pub fn from_tags<'a>(
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Option<ManagedTags> {
        let mut managed = false;
        let mut read = ManagedTags::default();
        for (key, value) in tags {
            match key {
                MANAGED => managed = value == MANAGED_VALUE,
                ACCESS => read.access = Some(value.to_string()),
                VERSION => read.version = value.to_string(),
                EXPIRES => read.expires = Some(value.to_string()),
                _ => {}
            }
        }
        managed.then_some(read)
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.to_string(),
        value: value.to_string(),
    }
}

/// IAM's tag rules: at most 50 tags; keys 1-128 and values 0-256 characters of letters, digits,
/// spaces and `_ . : / = + - @`; keys must not start with `aws:`.
pub fn check(tags: &[Tag]) -> Result<()> {
    if tags.len() > MAX_TAGS {
        return Err(Error::invalid(format!(
            "{} tags: IAM allows at most {MAX_TAGS}",
            tags.len()
        )));
    }
    let allowed = |c: char| c.is_alphanumeric() || " _.:/=+-@".contains(c);
    for Tag { key, value } in tags {
        let key_chars = key.chars().count();
        if key_chars == 0 || key_chars > MAX_KEY_CHARS || !key.chars().all(allowed) {
            return Err(Error::invalid(format!(
                "tag key {key:?}: IAM allows 1-{MAX_KEY_CHARS} letters, digits, spaces and _.:/=+-@"
            )));
        }
        if key.to_ascii_lowercase().starts_with("aws:") {
            return Err(Error::invalid(format!(
                "tag key {key:?}: the aws: prefix is reserved"
            )));
        }
        if value.chars().count() > MAX_VALUE_CHARS || !value.chars().all(allowed) {
            return Err(Error::invalid(format!(
                "tag {key}: the value must be at most {MAX_VALUE_CHARS} letters, digits, spaces and _.:/=+-@"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_tags() {
        let tags = ManagedTags::new(Some("read-only"), Some("2027-01-31T12:00:00Z".into()));
        let sent = tags.to_tags().unwrap();
        assert_eq!(sent[0], tag(MANAGED, "true"));
        assert_eq!(sent.len(), 4);
        let read = ManagedTags::from_tags(sent.iter().map(|t| (t.key.as_str(), t.value.as_str())));
        assert_eq!(read, Some(tags));
    }

    #[test]
    fn role_tags_have_no_access_or_expiry() {
        let sent = ManagedTags::new(None, None).to_tags().unwrap();
        let keys: Vec<&str> = sent.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys, [MANAGED, VERSION]);
    }

    #[test]
    fn untagged_or_foreign_is_not_managed() {
        assert_eq!(ManagedTags::from_tags([]), None);
        assert_eq!(ManagedTags::from_tags([("team", "data")]), None);
        assert_eq!(ManagedTags::from_tags([(MANAGED, "false")]), None);
        let read = ManagedTags::from_tags([(MANAGED, "true"), ("team", "data")]).unwrap();
        assert_eq!(read.access, None);
    }

    #[test]
    fn iam_limits_are_enforced() {
        assert!(check(&[tag("k", &"v".repeat(256))]).is_ok());
        assert!(check(&[tag("k", &"v".repeat(257))]).is_err());
        assert!(check(&[tag(&"k".repeat(129), "v")]).is_err());
        assert!(check(&[tag("", "v")]).is_err());
        assert!(check(&[tag("aws:x", "v")]).is_err());
        assert!(check(&[tag("k", "a;b")]).is_err());
        let many: Vec<Tag> = (0..51).map(|i| tag(&format!("k{i}"), "v")).collect();
        assert!(check(&many).is_err());
        assert!(check(&many[..50]).is_ok());
    }
}
