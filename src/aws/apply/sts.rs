//! The STS calls of a plan.

use super::retry_until;
use crate::aws::{call_error, AwsClients, CallFailure};
use crate::credentials::SessionCredentials;
use crate::error::{Error, Result};
use crate::secret::Secret;
use std::time::{Duration, SystemTime};

/// The account ID of the caller.
pub async fn account_id(aws: &AwsClients) -> Result<String> {
    let output = aws
        .sts
        .get_caller_identity()
        .send()
        .await
        .map_err(call_error("GetCallerIdentity"))?;
    output
        .account()
        .map(str::to_string)
        .ok_or_else(|| Error::Internal("GetCallerIdentity returned no account".into()))
}

/// AssumeRole with a session policy, retrying for up to `patience` (a role created moments ago is not
/// assumable everywhere at once).
pub async fn assume_role(
    aws: &AwsClients,
    role_arn: &str,
    session_name: &str,
    policy: &str,
    duration_seconds: u64,
    external_id: Option<&str>,
    patience: Duration,
) -> Result<SessionCredentials> {
    // The duration is validated to 900..=43200 when the request is built.
    let duration_seconds = i32::try_from(duration_seconds)
        .map_err(|_| Error::Internal(format!("duration {duration_seconds}s out of range")))?;
    let call = || async {
        aws.sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name)
            .policy(policy)
            .duration_seconds(duration_seconds)
            .set_external_id(external_id.map(str::to_string))
            .send()
            .await
    };
    let (result, _) = retry_until(patience, call).await;
    let output = result
        .map_err(|e| CallFailure::from_sdk(&e).into_error(&format!("AssumeRole {role_arn}")))?;
    let credentials = output
        .credentials()
        .ok_or_else(|| Error::Internal("AssumeRole returned no credentials".into()))?;
    let expiration = SystemTime::try_from(*credentials.expiration())
        .map_err(|e| Error::Internal(format!("AssumeRole returned a bad expiration: {e}")))?;
    Ok(SessionCredentials {
        access_key_id: credentials.access_key_id().to_string(),
        secret_access_key: Secret::new(credentials.secret_access_key()),
        session_token: Secret::new(credentials.session_token()),
        expiration,
    })
}

/// Whether a new access key authenticates within `timeout` (sts:GetCallerIdentity with it), and after
/// how many attempts.
pub async fn key_authenticates(
    aws: &AwsClients,
    access_key_id: &str,
    secret: &Secret,
    timeout: Duration,
) -> (bool, u32) {
    let sts = aws.sts_with_key(access_key_id, secret.expose());
    let (outcome, attempts) = retry_until(timeout, || sts.get_caller_identity().send()).await;
    (outcome.is_ok(), attempts)
}
