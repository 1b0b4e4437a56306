//! The read-only AWS calls of `whoami`, `list` and the `list-*` commands. Nothing here changes AWS
//! (that is `apply`'s job, through a plan; GenerateCredentialReport only asks IAM to prepare a
//! report); each function is one kind of read with its error mapping, and the reads that follow a
//! list (one per policy, one per key) run concurrently.

use crate::aws::{call_error, AwsClients, CallFailure};
use crate::core::credential_report::CredentialReport;
use crate::error::{Error, Result};
use aws_sdk_iam::types::{
    AccessKeyLastUsed, AccessKeyMetadata, EntityType, Policy, PolicyVersion, ReportStateType, Role,
    User, UserDetail,
};
use futures::future::try_join_all;
use serde_json::Value;

/// How many users `list` reads at once unless `--concurrency` says otherwise. Each user's reads run
/// side by side too (its policies and its keys), so at most about twice this many calls are in flight.
pub const DEFAULT_CONCURRENCY: usize = 8;

pub async fn list_users(aws: &AwsClients) -> Result<Vec<User>> {
    aws.iam
        .list_users()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(call_error("ListUsers"))
}

pub async fn list_roles(aws: &AwsClients) -> Result<Vec<Role>> {
    aws.iam
        .list_roles()
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(call_error("ListRoles"))
}

/// The role with its tags (GetRole returns them; ListRoles does not). None when it does not exist.
pub async fn get_role(aws: &AwsClients, role_name: &str) -> Result<Option<Role>> {
    match aws.iam.get_role().role_name(role_name).send().await {
        Ok(output) => Ok(output.role),
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

/// A user's tags as (key, value). ListUsers does not return tags on AWS, so this is one call per user.
pub async fn user_tags(aws: &AwsClients, user_name: &str) -> Result<Vec<(String, String)>> {
    let tags: Vec<_> = aws
        .iam
        .list_user_tags()
        .user_name(user_name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(call_error(&format!("ListUserTags {user_name}")))?;
    Ok(tags.into_iter().map(|t| (t.key, t.value)).collect())
}

/// A user's inline policies: (name, document), documents fetched concurrently.
pub async fn user_policies(aws: &AwsClients, user_name: &str) -> Result<Vec<(String, Value)>> {
    let names: Vec<String> = aws
        .iam
        .list_user_policies()
        .user_name(user_name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(call_error(&format!("ListUserPolicies {user_name}")))?;
    try_join_all(names.into_iter().map(|name| async move {
        let output = aws
            .iam
            .get_user_policy()
            .user_name(user_name)
            .policy_name(&name)
            .send()
            .await
            .map_err(call_error(&format!("GetUserPolicy {user_name} {name}")))?;
        let document = policy_document(output.policy_document())?;
        Ok((name, document))
    }))
    .await
}

/// An access key and when it was last used (GetAccessKeyLastUsed; empty dates for a key never used).
pub struct KeyUse {
    pub key: AccessKeyMetadata,
    pub last_used: Option<AccessKeyLastUsed>,
    /// Set when `last_used` comes from IAM's credential report: the report's time. A use after it
    /// does not show yet (IAM reuses a report for up to four hours). None when asked directly.
    pub as_of: Option<aws_sdk_iam::primitives::DateTime>,
}

/// A user's access keys (ListAccessKeys), without their last use.
pub async fn access_key_list(aws: &AwsClients, user_name: &str) -> Result<Vec<AccessKeyMetadata>> {
    aws.iam
        .list_access_keys()
        .user_name(user_name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(call_error(&format!("ListAccessKeys {user_name}")))
}

/// GetAccessKeyLastUsed: None (or empty dates) for a key never used.
pub async fn key_last_used(aws: &AwsClients, key_id: &str) -> Result<Option<AccessKeyLastUsed>> {
    Ok(aws
        .iam
        .get_access_key_last_used()
        .access_key_id(key_id)
        .send()
        .await
        .map_err(call_error(&format!("GetAccessKeyLastUsed {key_id}")))?
        .access_key_last_used)
}

/// Every IAM user with its tags and inline policies, from GetAccountAuthorizationDetails: one call
/// per 1,000 users instead of three or more per user. None when AWS answers with an error (a policy
/// may allow ListUsers but not this call), so that the caller reads user by user; an error only
/// when no answer came (those calls would fail the same way).
pub async fn users_with_details(aws: &AwsClients) -> Result<Option<Vec<UserDetail>>> {
    let pages = aws
        .iam
        .get_account_authorization_details()
        .filter(EntityType::User)
        .max_items(1000)
        .into_paginator()
        .send()
        .try_collect()
        .await;
    match pages {
        Ok(pages) => Ok(Some(
            pages
                .into_iter()
                .flat_map(|page| page.user_detail_list.unwrap_or_default())
                .collect(),
        )),
        Err(error) => {
            let failure = CallFailure::from_sdk(&error);
            if failure.transport.is_none() {
                Ok(None)
            } else {
                Err(failure.into_error("GetAccountAuthorizationDetails"))
            }
        }
    }
}

/// A user's inline policies as GetAccountAuthorizationDetails gives them: (name, document).
pub fn detail_policies(user: &UserDetail) -> Result<Vec<(String, Value)>> {
    user.user_policy_list()
        .iter()
        .map(|policy| {
            let name = policy.policy_name().unwrap_or_default().to_string();
            let document = policy_document(policy.policy_document().unwrap_or_default())?;
            Ok((name, document))
        })
        .collect()
}

/// GenerateCredentialReport: true when a report is ready to read. A refusal is false: the report only
/// saves calls, so `list` then asks about each key.
pub async fn credential_report_ready(aws: &AwsClients) -> bool {
    aws.iam
        .generate_credential_report()
        .send()
        .await
        .is_ok_and(|output| output.state() == Some(&ReportStateType::Complete))
}

/// GetCredentialReport, parsed, with the time IAM generated it. None when it cannot be had or read
/// (see `credential_report_ready`).
pub async fn credential_report(
    aws: &AwsClients,
) -> Option<(CredentialReport, Option<aws_sdk_iam::primitives::DateTime>)> {
    let output = aws.iam.get_credential_report().send().await.ok()?;
    let generated = output.generated_time;
    let text = String::from_utf8(output.content?.into_inner()).ok()?;
    Some((CredentialReport::parse(&text)?, generated))
}

/// A role's inline policies: (name, document).
pub async fn role_policies(aws: &AwsClients, role_name: &str) -> Result<Vec<(String, Value)>> {
    let names: Vec<String> = aws
        .iam
        .list_role_policies()
        .role_name(role_name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(call_error(&format!("ListRolePolicies {role_name}")))?;
    try_join_all(names.into_iter().map(|name| async move {
        let output = aws
            .iam
            .get_role_policy()
            .role_name(role_name)
            .policy_name(&name)
            .send()
            .await
            .map_err(call_error(&format!("GetRolePolicy {role_name} {name}")))?;
        let document = policy_document(output.policy_document())?;
        Ok((name, document))
    }))
    .await
}

/// A managed policy attached to a role, with its default version and that version's document.
pub struct AttachedPolicyDetails {
    pub policy: Policy,
    pub version: Option<PolicyVersion>,
    pub document: Option<Value>,
}

pub async fn attached_role_policies(
    aws: &AwsClients,
    role_name: &str,
) -> Result<Vec<AttachedPolicyDetails>> {
    let attached: Vec<_> = aws
        .iam
        .list_attached_role_policies()
        .role_name(role_name)
        .into_paginator()
        .items()
        .send()
        .try_collect()
        .await
        .map_err(call_error(&format!("ListAttachedRolePolicies {role_name}")))?;
    try_join_all(attached.into_iter().map(|attached| async move {
        let arn = attached.policy_arn().unwrap_or_default().to_string();
        let policy = aws
            .iam
            .get_policy()
            .policy_arn(&arn)
            .send()
            .await
            .map_err(call_error(&format!("GetPolicy {arn}")))?
            .policy
            .ok_or_else(|| Error::aws(format!("GetPolicy {arn}"), "no policy in the answer"))?;
        let version_id = policy.default_version_id().unwrap_or_default().to_string();
        let version = aws
            .iam
            .get_policy_version()
            .policy_arn(&arn)
            .version_id(&version_id)
            .send()
            .await
            .map_err(call_error(&format!("GetPolicyVersion {arn} {version_id}")))?
            .policy_version;
        let document = version
            .as_ref()
            .and_then(|v| v.document())
            .map(policy_document)
            .transpose()?;
        Ok(AttachedPolicyDetails {
            policy,
            version,
            document,
        })
    }))
    .await
}

/// `sts:GetCallerIdentity`: (UserId, Account, Arn).
pub async fn caller_identity(aws: &AwsClients) -> Result<(String, String, String)> {
    let output = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(call_error("GetCallerIdentity"))?;
    Ok((
        output.user_id.unwrap_or_default(),
        output.account.unwrap_or_default(),
        output.arn.unwrap_or_default(),
    ))
}

pub async fn list_buckets(aws: &AwsClients) -> Result<Vec<aws_sdk_s3::types::Bucket>> {
    Ok(aws
        .s3
        .list_buckets()
        .send()
        .await
        .map_err(call_error("ListBuckets"))?
        .buckets
        .unwrap_or_default())
}

/// What `list-buckets --details` shows of one bucket.
pub struct BucketDetails {
    pub acl: aws_sdk_s3::operation::get_bucket_acl::GetBucketAclOutput,
    pub region: String,
    pub public_access_block: Option<aws_sdk_s3::types::PublicAccessBlockConfiguration>,
    pub website: Option<aws_sdk_s3::operation::get_bucket_website::GetBucketWebsiteOutput>,
}

/// ACL, region, public access block and website of a bucket, read concurrently. A bucket without a
/// public access block or website configuration has None there (S3 answers those with an error).
pub async fn bucket_details(aws: &AwsClients, bucket: &str) -> Result<BucketDetails> {
    let s3 = &aws.s3;
    let (acl, location, public_access_block, website) = futures::join!(
        s3.get_bucket_acl().bucket(bucket).send(),
        s3.get_bucket_location().bucket(bucket).send(),
        s3.get_public_access_block().bucket(bucket).send(),
        s3.get_bucket_website().bucket(bucket).send(),
    );
    let acl = acl.map_err(call_error(&format!("GetBucketAcl {bucket}")))?;
    let region = location
        .map_err(call_error(&format!("GetBucketLocation {bucket}")))?
        .location_constraint
        .map(|c| c.as_str().to_string())
        .filter(|c| !c.is_empty())
        // "Buckets in Region us-east-1 have a LocationConstraint of null."
        .unwrap_or_else(|| "us-east-1".to_string());
    Ok(BucketDetails {
        acl,
        region,
        public_access_block: public_access_block
            .ok()
            .and_then(|o| o.public_access_block_configuration),
        website: website.ok(),
    })
}

/// IAM returns policy documents URL-encoded (RFC 3986).
pub fn policy_document(encoded: &str) -> Result<Value> {
    let text = percent_decoded(encoded)
        .ok_or_else(|| Error::aws("read a policy", "the document is not URL-encoded UTF-8"))?;
    serde_json::from_str(&text)
        .map_err(|e| Error::aws("read a policy", format!("the document is not JSON: {e}")))
}

fn percent_decoded(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents_are_url_decoded() {
        assert_eq!(
            policy_document("%7B%22Version%22%3A%20%222012-10-17%22%7D").unwrap(),
            serde_json::json!({"Version": "2012-10-17"})
        );
        // Already plain JSON (moto, some SDKs) reads the same.
        assert_eq!(
            policy_document("{\"a\": [1]}").unwrap(),
            serde_json::json!({"a": [1]})
        );
        assert!(percent_decoded("%4").is_none());
        assert!(percent_decoded("%zz").is_none());
        assert_eq!(percent_decoded("%C3%A9").as_deref(), Some("é"));
    }
}
