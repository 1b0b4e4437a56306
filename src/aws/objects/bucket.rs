//! Bucket settings: policy, public access block, CORS, ACL and policy status. Reads return the JSON the
//! Python tool prints (boto3's keys, in the order of the API's shapes).

use crate::aws::{call_error, CallFailure};
use crate::core::objects::{CorsRule, PublicAccessBlock};
use crate::error::{Error, Result};
use aws_sdk_s3::types::{CorsConfiguration, PublicAccessBlockConfiguration};
use aws_sdk_s3::Client;
use serde_json::{json, Map, Value};

/// HeadBucket: a missing bucket is a clear error (exit 5) before anything is changed.
pub async fn require_bucket(s3: &Client, bucket: &str) -> Result<()> {
    match s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => Ok(()),
        Err(error) => {
            let failure = CallFailure::from_sdk(&error);
            if failure.is_not_found() && !failure.is_auth() {
                Err(Error::aws(
                    "HeadBucket",
                    format!("NoSuchBucket: bucket {bucket:?} does not exist"),
                ))
            } else {
                Err(failure.into_error("HeadBucket"))
            }
        }
    }
}

/// Stop before a multi-file transfer when the bucket does not exist, rather than failing every file.
/// Only "missing" stops it: credentials that may write objects but not list the bucket (write-only
/// keys) get a 403 from HeadBucket and go on.
pub async fn refuse_missing_bucket(s3: &Client, bucket: &str) -> Result<()> {
    match require_bucket(s3, bucket).await {
        Err(error @ Error::Aws { .. }) if error.to_string().contains("NoSuchBucket") => Err(error),
        _ => Ok(()),
    }
}

/// The bucket policy, parsed; AWS stores it as text.
pub async fn get_policy(s3: &Client, bucket: &str) -> Result<Value> {
    let answer = s3
        .get_bucket_policy()
        .bucket(bucket)
        .send()
        .await
        .map_err(call_error("GetBucketPolicy"))?;
    let text = answer.policy().unwrap_or("{}");
    serde_json::from_str(text)
        .map_err(|e| Error::aws("GetBucketPolicy", format!("the policy is not JSON: {e}")))
}

pub async fn put_policy(s3: &Client, bucket: &str, policy: &Value) -> Result<()> {
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(call_error("PutBucketPolicy"))?;
    Ok(())
}

/// The public access block, or None when the bucket has none configured.
pub async fn get_public_access_block(
    s3: &Client,
    bucket: &str,
) -> Result<Option<PublicAccessBlock>> {
    match s3.get_public_access_block().bucket(bucket).send().await {
        Ok(answer) => {
            let config = answer.public_access_block_configuration();
            Ok(Some(PublicAccessBlock {
                block_public_acls: config.and_then(|c| c.block_public_acls()).unwrap_or(false),
                ignore_public_acls: config.and_then(|c| c.ignore_public_acls()).unwrap_or(false),
                block_public_policy: config
                    .and_then(|c| c.block_public_policy())
                    .unwrap_or(false),
                restrict_public_buckets: config
                    .and_then(|c| c.restrict_public_buckets())
                    .unwrap_or(false),
            }))
        }
        Err(error) => {
            let failure = CallFailure::from_sdk(&error);
            if failure.code.as_deref() == Some("NoSuchPublicAccessBlockConfiguration") {
                Ok(None)
            } else {
                Err(failure.into_error("GetPublicAccessBlock"))
            }
        }
    }
}

pub async fn put_public_access_block(
    s3: &Client,
    bucket: &str,
    settings: PublicAccessBlock,
) -> Result<()> {
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(settings.block_public_acls)
                .ignore_public_acls(settings.ignore_public_acls)
                .block_public_policy(settings.block_public_policy)
                .restrict_public_buckets(settings.restrict_public_buckets)
                .build(),
        )
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
        .send()
        .await
        .map_err(call_error("PutPublicAccessBlock"))?;
    Ok(())
}

/// The CORS rules as boto3 returns them: ID, AllowedHeaders, AllowedMethods, AllowedOrigins,
/// ExposeHeaders, MaxAgeSeconds, each only when present.
pub async fn get_cors(s3: &Client, bucket: &str) -> Result<Value> {
    let answer = s3
        .get_bucket_cors()
        .bucket(bucket)
        .send()
        .await
        .map_err(call_error("GetBucketCors"))?;
    let rules = answer
        .cors_rules()
        .iter()
        .map(|rule| {
            let mut object = Map::new();
            if let Some(id) = rule.id() {
                object.insert("ID".into(), json!(id));
            }
            for (name, values) in [
                ("AllowedHeaders", rule.allowed_headers()),
                ("AllowedMethods", rule.allowed_methods()),
                ("AllowedOrigins", rule.allowed_origins()),
                ("ExposeHeaders", rule.expose_headers()),
            ] {
                if !values.is_empty() {
                    object.insert(name.into(), json!(values));
                }
            }
            if let Some(seconds) = rule.max_age_seconds() {
                object.insert("MaxAgeSeconds".into(), json!(seconds));
            }
            Value::Object(object)
        })
        .collect();
    Ok(Value::Array(rules))
}

pub async fn put_cors(s3: &Client, bucket: &str, rule: &CorsRule) -> Result<()> {
    let built = aws_sdk_s3::types::CorsRule::builder()
        .id(&rule.id)
        .set_allowed_origins(Some(rule.allowed_origins.clone()))
        .set_allowed_methods(Some(rule.allowed_methods.clone()))
        .set_allowed_headers(Some(rule.allowed_headers.clone()).filter(|h| !h.is_empty()))
        .set_expose_headers(Some(rule.expose_headers.clone()).filter(|h| !h.is_empty()))
        .set_max_age_seconds(rule.max_age_seconds)
        .build()
        .map_err(|e| Error::Internal(format!("CORS rule: {e}")))?;
    let config = CorsConfiguration::builder()
        .cors_rules(built)
        .build()
        .map_err(|e| Error::Internal(format!("CORS configuration: {e}")))?;
    s3.put_bucket_cors()
        .bucket(bucket)
        .cors_configuration(config)
        .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Crc32)
        .send()
        .await
        .map_err(call_error("PutBucketCors"))?;
    Ok(())
}

/// GetBucketAcl as boto3 prints it: Owner {DisplayName, ID}, Grants [{Grantee {...}, Permission}].
pub async fn get_acl(s3: &Client, bucket: &str) -> Result<Value> {
    let answer = s3
        .get_bucket_acl()
        .bucket(bucket)
        .send()
        .await
        .map_err(call_error("GetBucketAcl"))?;
    let mut object = Map::new();
    if let Some(owner) = answer.owner() {
        let mut o = Map::new();
        if let Some(name) = owner.display_name() {
            o.insert("DisplayName".into(), json!(name));
        }
        if let Some(id) = owner.id() {
            o.insert("ID".into(), json!(id));
        }
        object.insert("Owner".into(), Value::Object(o));
    }
    let grants: Vec<Value> = answer
        .grants()
        .iter()
        .map(|grant| {
            let mut g = Map::new();
            if let Some(grantee) = grant.grantee() {
                let mut e = Map::new();
                for (name, value) in [
                    ("DisplayName", grantee.display_name()),
                    ("EmailAddress", grantee.email_address()),
                    ("ID", grantee.id()),
                    ("Type", Some(grantee.r#type().as_str())),
                    ("URI", grantee.uri()),
                ] {
                    if let Some(value) = value {
                        e.insert(name.into(), json!(value));
                    }
                }
                g.insert("Grantee".into(), Value::Object(e));
            }
            if let Some(permission) = grant.permission() {
                g.insert("Permission".into(), json!(permission.as_str()));
            }
            Value::Object(g)
        })
        .collect();
    object.insert("Grants".into(), Value::Array(grants));
    Ok(Value::Object(object))
}

pub async fn get_policy_status(s3: &Client, bucket: &str) -> Result<Value> {
    let answer = s3
        .get_bucket_policy_status()
        .bucket(bucket)
        .send()
        .await
        .map_err(call_error("GetBucketPolicyStatus"))?;
    let is_public = answer.policy_status().and_then(|s| s.is_public());
    Ok(json!({"PolicyStatus": {"IsPublic": is_public.unwrap_or(false)}}))
}
