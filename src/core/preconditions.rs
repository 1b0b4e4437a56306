//! What the first, read-only stage of a plan finds, judged against the request. Pure functions: the
//! AWS executor gathers the facts, these decide, so every verdict is unit-tested without a server.

use crate::core::time::rfc3339;
use crate::error::{Error, Result};
use std::time::SystemTime;

/// What HeadBucket found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BucketState {
    Missing,
    /// The bucket exists and this identity may use it; `region` when S3 said it.
    Exists {
        region: Option<String>,
    },
    /// 403: it exists but belongs to someone else, or this identity may not use it.
    Forbidden,
}

/// What to do about a bucket that does not exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IfMissing {
    /// `create -c`: create it.
    Create,
    /// `create` without `-c`: refuse, and say that `-c` would create it.
    RefuseSuggestCreate,
    /// Commands that never create buckets (`serve`): refuse.
    Refuse,
}

/// The decision for one bucket: nothing to do, or create it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketVerdict {
    Ready,
    Create,
}

/// Judge one bucket. `refuse_if_exists` is set when `--public`/`--website` are asked for: they only
/// configure buckets created now.
pub fn judge_bucket(
    bucket: &str,
    state: &BucketState,
    if_missing: IfMissing,
    expected_region: Option<&str>,
    refuse_if_exists: bool,
) -> Result<BucketVerdict> {
    let operation = format!("HeadBucket {bucket}");
    match state {
        BucketState::Missing => match if_missing {
            IfMissing::Create => Ok(BucketVerdict::Create),
            IfMissing::RefuseSuggestCreate => Err(Error::aws(
                operation,
                format!("bucket {bucket} does not exist"),
            )
            .with_hint("pass -c/--create-bucket to create it")),
            IfMissing::Refuse => Err(Error::aws(
                operation,
                format!("bucket {bucket} does not exist"),
            )
            .with_hint(format!(
                "check the name, or create the bucket first (e.g. `s3creds create {bucket} -c`)"
            ))),
        },
        BucketState::Forbidden => Err(Error::AwsAuth {
            operation,
            message: format!(
                "bucket {bucket} exists but is not yours, or this identity may not access it \
                 (403 Forbidden)"
            ),
            hint: Some(
                "bucket names are global: pick another name, or use an identity with \
                 s3:ListBucket on it"
                    .into(),
            ),
        }),
        BucketState::Exists { region } => {
            if refuse_if_exists {
                return Err(Error::invalid_with_hint(
                    format!(
                        "bucket {bucket} already exists: --public and --website only configure \
                         buckets that -c creates, so nothing was changed"
                    ),
                    "to publish an existing bucket use `aws s3api put-public-access-block` and \
                     `put-bucket-policy` deliberately, or pick a new bucket name",
                ));
            }
            if let Some(expected) = expected_region {
                check_bucket_region(bucket, expected, region.as_deref())?;
            }
            Ok(BucketVerdict::Ready)
        }
    }
}

fn check_bucket_region(bucket: &str, expected: &str, actual: Option<&str>) -> Result<()> {
    match actual {
        Some(actual) if actual == expected => Ok(()),
        Some(actual) => Err(Error::invalid_with_hint(
            format!(
                "bucket {bucket} already exists in {actual}, not in --bucket-region {expected}"
            ),
            "drop --bucket-region, or name a bucket that does not exist yet",
        )),
        None => Err(Error::invalid(format!(
            "bucket {bucket} exists but the endpoint did not say its region, so --bucket-region \
             {expected} cannot be checked; drop --bucket-region"
        ))),
    }
}

/// An existing user must already have the boundary asked for explicitly: s3creds never changes an
/// existing user's boundary.
pub fn check_existing_user_boundary(
    user_name: &str,
    found: Option<&str>,
    required: Option<&str>,
) -> Result<()> {
    match required {
        Some(required) if found != Some(required) => Err(Error::invalid_with_hint(
            format!(
                "user {user_name} already exists with permissions boundary {}, not {required}; \
                 s3creds does not change an existing user's boundary",
                found.unwrap_or("(none)")
            ),
            "choose another --username, or set the boundary with \
             `aws iam put-user-permissions-boundary`",
        )),
        _ => Ok(()),
    }
}

/// An access key as ListAccessKeys shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingKey {
    pub access_key_id: String,
    pub status: String,
    pub created: Option<SystemTime>,
}

/// IAM allows two access keys per user: a third cannot be created.
pub fn check_room_for_access_key(user_name: &str, keys: &[ExistingKey]) -> Result<()> {
    if keys.len() < 2 {
        return Ok(());
    }
    let listed: Vec<String> = keys
        .iter()
        .map(|k| {
            let created = k
                .created
                .and_then(|t| rfc3339(t).ok())
                .unwrap_or_else(|| "?".into());
            format!("{} ({}, created {created})", k.access_key_id, k.status)
        })
        .collect();
    Err(Error::aws(
        format!("ListAccessKeys {user_name}"),
        format!(
            "user {user_name} already has {} access keys, the most IAM allows: {}",
            keys.len(),
            listed.join(", ")
        ),
    )
    .with_hint(format!(
        "delete one you no longer use (`aws iam delete-access-key --user-name {user_name} \
         --access-key-id ID`) or pass another --username"
    )))
}

/// Where an existing user's permissions come from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPermissions {
    pub inline_policies: Vec<String>,
    pub attached_policies: Vec<String>,
    pub groups: Vec<String>,
}

/// `create --expires` for an existing user: the expiry is written into `policy_name` only, so any
/// other source of permissions would outlive it (and `delete-user --expired` would later delete a
/// user whose access never ended). Refused, naming them, before anything changes.
pub fn check_expiry_covers_user(
    user_name: &str,
    policy_name: &str,
    permissions: &UserPermissions,
) -> Result<()> {
    let mut others: Vec<String> = permissions
        .inline_policies
        .iter()
        .filter(|name| *name != policy_name)
        .map(|name| format!("inline policy {name}"))
        .collect();
    others.extend(
        permissions
            .attached_policies
            .iter()
            .map(|arn| format!("managed policy {arn}")),
    );
    others.extend(permissions.groups.iter().map(|g| format!("group {g}")));
    if others.is_empty() {
        return Ok(());
    }
    Err(Error::invalid_with_hint(
        format!(
            "--expires cannot end the access of user {user_name}: it also has {}, which would not \
             expire",
            others.join(", ")
        ),
        "pass another --username for credentials that expire, or remove those permissions first",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;
    use std::time::{Duration, UNIX_EPOCH};

    fn exists(region: Option<&str>) -> BucketState {
        BucketState::Exists {
            region: region.map(str::to_string),
        }
    }

    #[test]
    fn a_missing_bucket_is_created_only_when_asked_and_hints_only_name_real_options() {
        let missing = BucketState::Missing;
        assert_eq!(
            judge_bucket("b", &missing, IfMissing::Create, None, false).unwrap(),
            BucketVerdict::Create
        );
        let create =
            judge_bucket("b", &missing, IfMissing::RefuseSuggestCreate, None, false).unwrap_err();
        assert_eq!(create.exit_code(), exit_code::AWS_OTHER);
        assert!(create.hint().unwrap().contains("-c/--create-bucket"));
        let serve = judge_bucket("b", &missing, IfMissing::Refuse, None, false).unwrap_err();
        assert_eq!(serve.exit_code(), exit_code::AWS_OTHER);
        assert!(!serve.hint().unwrap().contains("--create-bucket"));
        assert!(!serve.hint().unwrap().contains("pass -c"));
    }

    #[test]
    fn a_forbidden_bucket_is_an_auth_error() {
        let error =
            judge_bucket("b", &BucketState::Forbidden, IfMissing::Create, None, false).unwrap_err();
        assert_eq!(error.exit_code(), exit_code::AWS_AUTH);
    }

    #[test]
    fn existing_buckets_are_checked_against_public_and_region() {
        assert_eq!(
            judge_bucket("b", &exists(None), IfMissing::Create, None, false).unwrap(),
            BucketVerdict::Ready
        );
        let public = judge_bucket("b", &exists(None), IfMissing::Create, None, true).unwrap_err();
        assert_eq!(public.exit_code(), exit_code::INVALID_INPUT);
        assert!(judge_bucket(
            "b",
            &exists(Some("eu-west-2")),
            IfMissing::Create,
            Some("eu-west-2"),
            false
        )
        .is_ok());
        let elsewhere = judge_bucket(
            "b",
            &exists(Some("us-east-1")),
            IfMissing::Create,
            Some("eu-west-2"),
            false,
        )
        .unwrap_err();
        assert!(elsewhere
            .to_string()
            .contains("already exists in us-east-1"));
        assert!(judge_bucket(
            "b",
            &exists(None),
            IfMissing::Create,
            Some("eu-west-2"),
            false
        )
        .is_err());
    }

    #[test]
    fn boundaries_of_existing_users_are_never_changed() {
        let arn = "arn:aws:iam::aws:policy/X";
        assert!(check_existing_user_boundary("u", None, None).is_ok());
        assert!(check_existing_user_boundary("u", Some(arn), None).is_ok());
        assert!(check_existing_user_boundary("u", Some(arn), Some(arn)).is_ok());
        let error = check_existing_user_boundary("u", None, Some(arn)).unwrap_err();
        assert!(error.to_string().contains("(none)"), "{error}");
    }

    #[test]
    fn a_third_access_key_is_refused_with_both_keys_named() {
        let key = |id: &str| ExistingKey {
            access_key_id: id.into(),
            status: "Active".into(),
            created: Some(UNIX_EPOCH + Duration::from_secs(1_636_600_000)),
        };
        assert!(check_room_for_access_key("u", &[key("AKIA1")]).is_ok());
        let error = check_room_for_access_key("u", &[key("AKIA1"), key("AKIA2")]).unwrap_err();
        let text = error.to_string();
        assert!(
            text.contains("AKIA1 (Active, created 2021-11-11T03:06:40Z)"),
            "{text}"
        );
        assert!(text.contains("AKIA2"), "{text}");
        assert_eq!(error.exit_code(), exit_code::AWS_OTHER);
    }

    #[test]
    fn an_expiry_must_cover_every_permission_of_an_existing_user() {
        let only_ours = UserPermissions {
            inline_policies: vec!["s3.read-write.b".into()],
            ..UserPermissions::default()
        };
        assert!(check_expiry_covers_user("u", "s3.read-write.b", &only_ours).is_ok());
        assert!(
            check_expiry_covers_user("u", "s3.read-write.b", &UserPermissions::default()).is_ok()
        );
        let more = UserPermissions {
            inline_policies: vec!["s3.read-write.b".into(), "s3.read-only.a".into()],
            attached_policies: vec!["arn:aws:iam::aws:policy/ReadOnlyAccess".into()],
            groups: vec!["readers".into()],
        };
        let error = check_expiry_covers_user("u", "s3.read-write.b", &more).unwrap_err();
        assert_eq!(error.exit_code(), exit_code::INVALID_INPUT);
        assert_eq!(
            error.to_string(),
            "--expires cannot end the access of user u: it also has inline policy s3.read-only.a, \
             managed policy arn:aws:iam::aws:policy/ReadOnlyAccess, group readers, which would not \
             expire"
        );
    }
}
