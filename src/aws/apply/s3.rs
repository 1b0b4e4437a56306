//! The S3 calls of a plan. Each function is one request and its error mapping; what the answer means
//! for the run is decided in `core::preconditions`.

use crate::aws::{call_error, AwsClients, CallFailure};
use crate::core::preconditions::BucketState;
use crate::error::{Error, Result};

pub async fn head_bucket(aws: &AwsClients, bucket: &str) -> Result<BucketState> {
    match aws.s3.head_bucket().bucket(bucket).send().await {
        Ok(output) => Ok(BucketState::Exists {
            region: output.bucket_region().map(str::to_string),
        }),
        Err(error) => {
            let failure = CallFailure::from_sdk(&error);
            match failure.status {
                Some(404) => Ok(BucketState::Missing),
                // Answered from another region: the bucket exists there.
                Some(301 | 400) if failure.bucket_region.is_some() => Ok(BucketState::Exists {
                    region: failure.bucket_region,
                }),
                Some(403) => Ok(BucketState::Forbidden),
                _ => Err(failure.into_error(&format!("HeadBucket {bucket}"))),
            }
        }
    }
}

pub async fn create_bucket(aws: &AwsClients, bucket: &str, region: &str) -> Result<()> {
    let client = aws.s3_in(region);
    let mut request = client.create_bucket().bucket(bucket);
    // us-east-1 is the one region that refuses an explicit LocationConstraint.
    if region != "us-east-1" {
        request = request.create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(region.into())
                .build(),
        );
    }
    request
        .send()
        .await
        .map_err(call_error(&format!("CreateBucket {bucket}")))?;
    Ok(())
}

pub async fn lift_public_access_block(aws: &AwsClients, bucket: &str, region: &str) -> Result<()> {
    let config = aws_sdk_s3::types::PublicAccessBlockConfiguration::builder()
        .block_public_acls(false)
        .ignore_public_acls(false)
        .block_public_policy(false)
        .restrict_public_buckets(false)
        .build();
    aws.s3_in(region)
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(config)
        .send()
        .await
        .map_err(call_error(&format!("PutPublicAccessBlock {bucket}")))?;
    Ok(())
}

pub async fn put_bucket_policy(
    aws: &AwsClients,
    bucket: &str,
    region: &str,
    policy: &str,
) -> Result<()> {
    aws.s3_in(region)
        .put_bucket_policy()
        .bucket(bucket)
        .policy(policy)
        .send()
        .await
        .map_err(call_error(&format!("PutBucketPolicy {bucket}")))?;
    Ok(())
}

pub async fn put_bucket_website(
    aws: &AwsClients,
    bucket: &str,
    region: &str,
    index_document: &str,
    error_document: &str,
) -> Result<()> {
    let index = aws_sdk_s3::types::IndexDocument::builder()
        .suffix(index_document)
        .build()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let error = aws_sdk_s3::types::ErrorDocument::builder()
        .key(error_document)
        .build()
        .map_err(|e| Error::Internal(e.to_string()))?;
    let config = aws_sdk_s3::types::WebsiteConfiguration::builder()
        .index_document(index)
        .error_document(error)
        .build();
    aws.s3_in(region)
        .put_bucket_website()
        .bucket(bucket)
        .website_configuration(config)
        .send()
        .await
        .map_err(call_error(&format!("PutBucketWebsite {bucket}")))?;
    Ok(())
}
