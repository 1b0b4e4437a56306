//! The IAM calls of a plan. Each function is one request and its error mapping.

use crate::aws::{call_error, AwsClients, CallFailure};
use crate::core::preconditions::{ExistingKey, UserPermissions};
use crate::core::tags::Tag;
use crate::credentials::AccessKey;
use crate::error::{Error, Result};
use crate::secret::Secret;
use std::time::SystemTime;

/// An existing user: its permissions boundary, if any.
pub struct FoundUser {
    pub boundary: Option<String>,
}

/// None when the user does not exist.
pub async fn get_user(aws: &AwsClients, user_name: &str) -> Result<Option<FoundUser>> {
    match aws.iam.get_user().user_name(user_name).send().await {
        Ok(output) => Ok(Some(FoundUser {
            boundary: output
                .user()
                .and_then(|u| u.permissions_boundary())
                .and_then(|b| b.permissions_boundary_arn())
                .map(str::to_string),
        })),
        Err(error) => {
            let failure = CallFailure::from_sdk(&error);
            if failure.is_not_found() {
                Ok(None)
            } else {
                Err(failure.into_error(&format!("GetUser {user_name}")))
            }
        }
    }
}

pub async fn list_access_keys(aws: &AwsClients, user_name: &str) -> Result<Vec<ExistingKey>> {
    let output = aws
        .iam
        .list_access_keys()
        .user_name(user_name)
        .send()
        .await
        .map_err(call_error(&format!("ListAccessKeys {user_name}")))?;
    Ok(output
        .access_key_metadata()
        .iter()
        .map(|k| ExistingKey {
            access_key_id: k.access_key_id().unwrap_or("?").to_string(),
            status: k.status().map(|s| s.as_str()).unwrap_or("?").to_string(),
            created: k.create_date().and_then(|d| SystemTime::try_from(*d).ok()),
        })
        .collect())
}

/// Where a user's permissions come from: its inline policies, attached managed policies and groups.
pub async fn permissions_of_user(aws: &AwsClients, user_name: &str) -> Result<UserPermissions> {
    let iam = &aws.iam;
    let operation = |name: &str| format!("{name} {user_name}");
    let (inline, attached, groups) = futures::try_join!(
        async {
            iam.list_user_policies()
                .user_name(user_name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(call_error(&operation("ListUserPolicies")))
        },
        async {
            iam.list_attached_user_policies()
                .user_name(user_name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(call_error(&operation("ListAttachedUserPolicies")))
        },
        async {
            iam.list_groups_for_user()
                .user_name(user_name)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .map_err(call_error(&operation("ListGroupsForUser")))
        },
    )?;
    Ok(UserPermissions {
        inline_policies: inline,
        attached_policies: attached
            .iter()
            .filter_map(|p| p.policy_arn().map(str::to_string))
            .collect(),
        groups: groups.iter().map(|g| g.group_name().to_string()).collect(),
    })
}

/// The role's ARN, or None when it does not exist.
pub async fn get_role(aws: &AwsClients, role_name: &str) -> Result<Option<String>> {
    match aws.iam.get_role().role_name(role_name).send().await {
        Ok(output) => Ok(Some(
            output
                .role()
                .map(|r| r.arn().to_string())
                .unwrap_or_default(),
        )),
        Err(error) => {
            let failure = CallFailure::from_sdk(&error);
            if failure.is_not_found() {
                Ok(None)
            } else {
                Err(failure.into_error(&format!("GetRole {role_name}")))
            }
        }
    }
}

pub async fn create_user(
    aws: &AwsClients,
    user_name: &str,
    permissions_boundary: Option<&str>,
    tags: &[Tag],
) -> Result<()> {
    aws.iam
        .create_user()
        .user_name(user_name)
        .set_permissions_boundary(permissions_boundary.map(str::to_string))
        .set_tags(Some(iam_tags(tags)?))
        .send()
        .await
        .map_err(call_error(&format!("CreateUser {user_name}")))?;
    Ok(())
}

pub async fn put_user_policy(
    aws: &AwsClients,
    user_name: &str,
    policy_name: &str,
    document: &str,
) -> Result<()> {
    aws.iam
        .put_user_policy()
        .user_name(user_name)
        .policy_name(policy_name)
        .policy_document(document)
        .send()
        .await
        .map_err(call_error(&format!("PutUserPolicy {policy_name}")))?;
    Ok(())
}

pub async fn create_access_key(aws: &AwsClients, user_name: &str) -> Result<AccessKey> {
    let output = aws
        .iam
        .create_access_key()
        .user_name(user_name)
        .send()
        .await
        .map_err(call_error(&format!("CreateAccessKey {user_name}")))?;
    let key = output
        .access_key()
        .ok_or_else(|| Error::Internal("CreateAccessKey returned no key".into()))?;
    Ok(AccessKey {
        user_name: user_name.to_string(),
        access_key_id: key.access_key_id().to_string(),
        secret_access_key: Secret::new(key.secret_access_key()),
        status: "Active".to_string(),
        create_date: key
            .create_date()
            .and_then(|d| SystemTime::try_from(*d).ok()),
    })
}

/// Create the role and return its ARN.
pub async fn create_role(
    aws: &AwsClients,
    role_name: &str,
    trust_policy: &str,
    max_session_duration: i32,
    tags: &[Tag],
) -> Result<Option<String>> {
    let output = aws
        .iam
        .create_role()
        .role_name(role_name)
        .set_tags(Some(iam_tags(tags)?))
        .assume_role_policy_document(trust_policy)
        .max_session_duration(max_session_duration)
        .description("Issues scoped temporary S3 credentials for s3creds / s3-credentials")
        .send()
        .await
        .map_err(call_error(&format!("CreateRole {role_name}")))?;
    Ok(output.role().map(|r| r.arn().to_string()))
}

pub async fn attach_role_policy(aws: &AwsClients, role_name: &str, policy_arn: &str) -> Result<()> {
    aws.iam
        .attach_role_policy()
        .role_name(role_name)
        .policy_arn(policy_arn)
        .send()
        .await
        .map_err(call_error(&format!("AttachRolePolicy {role_name}")))?;
    Ok(())
}

/// The SDK's tag type; its builder fails only when a required field is missing, which `Tag` rules out.
fn iam_tags(tags: &[Tag]) -> Result<Vec<aws_sdk_iam::types::Tag>> {
    tags.iter()
        .map(|tag| {
            aws_sdk_iam::types::Tag::builder()
                .key(&tag.key)
                .value(&tag.value)
                .build()
                .map_err(|e| Error::Internal(format!("IAM tag {}: {e}", tag.key)))
        })
        .collect()
}

pub async fn tag_user(aws: &AwsClients, user_name: &str, tags: &[Tag]) -> Result<()> {
    aws.iam
        .tag_user()
        .user_name(user_name)
        .set_tags(Some(iam_tags(tags)?))
        .send()
        .await
        .map_err(call_error(&format!("TagUser {user_name}")))?;
    Ok(())
}

/// Removing a tag the user does not have is not an error in IAM.
pub async fn untag_user(aws: &AwsClients, user_name: &str, tag_keys: &[String]) -> Result<()> {
    aws.iam
        .untag_user()
        .user_name(user_name)
        .set_tag_keys(Some(tag_keys.to_vec()))
        .send()
        .await
        .map_err(call_error(&format!("UntagUser {user_name}")))?;
    Ok(())
}
