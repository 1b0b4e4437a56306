//! Execute a [`Plan`]: the only code in s3creds that changes AWS.
//!
//! Stages run in order; the lanes of a stage run concurrently; the steps of a lane run in order. The
//! first stage only reads (HeadBucket, GetUser, ListAccessKeys, GetRole) and checks what it finds against
//! the request, so a missing bucket, a bucket that is not ours, a user with two keys or a conflicting
//! flag stops the run before anything is created. Every resource created is recorded, and a later
//! failure reports that list.

use crate::aws::{call_error, AwsClients, CallFailure};
use crate::error::{Error, Result};
use crate::output::{rfc3339, IssuedCredentials};
use crate::plan::{Action, Plan, Step, When, ACCOUNT_PLACEHOLDER};
use crate::policy;
use crate::secret::Secret;
use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

/// Progress lines for a person, on stderr; `--silent` turns them off. Never given secrets.
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub silent: bool,
}

impl Progress {
    pub fn say(&self, line: impl AsRef<str>) {
        if !self.silent {
            eprintln!("{}", line.as_ref());
        }
    }
}

/// What the run has learned and done so far.
#[derive(Default)]
struct Facts {
    missing_buckets: HashSet<String>,
    user_exists: bool,
    role_exists: bool,
    role_created: bool,
    role_arn: Option<String>,
    account: Option<String>,
    new_key: Option<(String, Secret, Option<SystemTime>, String)>,
    session: Option<IssuedCredentials>,
    created: Vec<String>,
}

struct Run<'a> {
    aws: &'a AwsClients,
    progress: Progress,
    facts: Mutex<Facts>,
}

/// What a run produced.
pub struct Applied {
    pub credentials: IssuedCredentials,
    /// The role temporary credentials came from (remembered by `serve`).
    pub role_arn: Option<String>,
}

/// Execute `plan` and return the credentials it issues.
pub async fn apply(plan: &Plan, aws: &AwsClients, progress: Progress) -> Result<Applied> {
    let run = Run {
        aws,
        progress,
        facts: Mutex::new(Facts::default()),
    };
    for stage in &plan.stages {
        let results =
            futures::future::join_all(stage.lanes.iter().map(|lane| run.lane(lane))).await;
        if let Some(error) = results.into_iter().find_map(Result::err) {
            let created = run.facts().created.clone();
            return Err(error.after_creating(&created));
        }
    }
    let mut facts = run.facts();
    let role_arn = facts.role_arn.clone();
    let credentials = match (facts.session.take(), facts.new_key.take()) {
        (Some(session), _) => session,
        (None, Some((access_key_id, secret_access_key, create_date, user_name))) => {
            IssuedCredentials::AccessKey {
                user_name,
                access_key_id,
                secret_access_key,
                status: "Active".to_string(),
                create_date,
            }
        }
        (None, None) => return Err(Error::Internal("the plan issued no credentials".into())),
    };
    Ok(Applied {
        credentials,
        role_arn,
    })
}

/// AssumeRole with a session policy, retrying for up to `patience` (a role created moments ago is not
/// assumable everywhere at once).
pub async fn assume_role(
    aws: &AwsClients,
    role_arn: &str,
    session_name: &str,
    policy: &serde_json::Value,
    duration_seconds: u64,
    patience: Duration,
) -> Result<IssuedCredentials> {
    let document = policy::compact(policy);
    let call = || async {
        aws.sts
            .assume_role()
            .role_arn(role_arn)
            .role_session_name(session_name)
            .policy(&document)
            .duration_seconds(duration_seconds as i32)
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
        .map_err(|e| Error::Internal(format!("bad expiration: {e}")))?;
    Ok(IssuedCredentials::Session {
        access_key_id: credentials.access_key_id().to_string(),
        secret_access_key: Secret::new(credentials.secret_access_key()),
        session_token: Secret::new(credentials.session_token()),
        expiration,
    })
}

impl Run<'_> {
    fn facts(&self) -> std::sync::MutexGuard<'_, Facts> {
        // A poisoned lock only means another lane panicked; its facts are still the best we have.
        self.facts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record_created(&self, what: String) {
        self.facts().created.push(what);
    }

    async fn lane(&self, steps: &[Step]) -> Result<()> {
        for step in steps {
            if self.applies(step.when.as_ref()) {
                self.step(&step.action).await?;
            }
        }
        Ok(())
    }

    fn applies(&self, condition: Option<&When>) -> bool {
        let facts = self.facts();
        match condition {
            None => true,
            Some(When::BucketMissing(bucket)) => facts.missing_buckets.contains(bucket),
            Some(When::UserExists) => facts.user_exists,
            Some(When::UserMissing) => !facts.user_exists,
            Some(When::RoleMissing) => !facts.role_exists,
        }
    }

    async fn step(&self, action: &Action) -> Result<()> {
        let aws = self.aws;
        match action {
            Action::HeadBucket {
                bucket,
                create_if_missing,
                expected_region,
                refuse_if_exists,
            } => {
                let found = head_bucket(aws, bucket).await?;
                match found {
                    BucketState::Missing if *create_if_missing => {
                        self.facts().missing_buckets.insert(bucket.clone());
                    }
                    BucketState::Missing => {
                        return Err(Error::aws(
                            format!("HeadBucket {bucket}"),
                            format!("bucket {bucket} does not exist"),
                        )
                        .with_hint("pass -c/--create-bucket to create it"))
                    }
                    BucketState::Exists { region } => {
                        if *refuse_if_exists {
                            return Err(Error::invalid_with_hint(
                                format!(
                                    "bucket {bucket} already exists: --public and --website only \
                                     configure buckets that -c creates, so nothing was changed"
                                ),
                                "to publish an existing bucket use `aws s3api put-public-access-block` \
                                 and `put-bucket-policy` deliberately, or pick a new bucket name",
                            ));
                        }
                        if let Some(expected) = expected_region {
                            check_bucket_region(bucket, expected, region.as_deref())?;
                        }
                    }
                }
            }
            Action::GetUser {
                user_name,
                required_boundary,
            } => match aws.iam.get_user().user_name(user_name).send().await {
                Ok(output) => {
                    let boundary = output
                        .user()
                        .and_then(|u| u.permissions_boundary())
                        .and_then(|b| b.permissions_boundary_arn())
                        .map(str::to_string);
                    if let Some(required) = required_boundary {
                        if boundary.as_deref() != Some(required.as_str()) {
                            return Err(Error::invalid_with_hint(
                                    format!(
                                        "user {user_name} already exists with permissions boundary {}, \
                                         not {required}; s3creds does not change an existing user's boundary",
                                        boundary.as_deref().unwrap_or("(none)")
                                    ),
                                    "choose another --username, or set the boundary with \
                                     `aws iam put-user-permissions-boundary`",
                                ));
                        }
                    }
                    self.facts().user_exists = true;
                    self.progress.say(format!(
                        "Using existing user: {user_name} (permissions boundary: {})",
                        boundary.as_deref().unwrap_or("none")
                    ));
                }
                Err(error) => {
                    let failure = CallFailure::from_sdk(&error);
                    if !failure.is_not_found() {
                        return Err(failure.into_error(&format!("GetUser {user_name}")));
                    }
                }
            },
            Action::ListAccessKeys { user_name } => {
                let output = aws
                    .iam
                    .list_access_keys()
                    .user_name(user_name)
                    .send()
                    .await
                    .map_err(call_error(&format!("ListAccessKeys {user_name}")))?;
                let keys = output.access_key_metadata();
                if keys.len() >= 2 {
                    let listed: Vec<String> = keys
                        .iter()
                        .map(|k| {
                            format!(
                                "{} ({}, created {})",
                                k.access_key_id().unwrap_or("?"),
                                k.status().map(|s| s.as_str()).unwrap_or("?"),
                                k.create_date()
                                    .and_then(|d| SystemTime::try_from(*d).ok())
                                    .map(rfc3339)
                                    .unwrap_or_else(|| "?".into())
                            )
                        })
                        .collect();
                    return Err(Error::aws(
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
                    )));
                }
            }
            Action::GetRole { role_name } => {
                match aws.iam.get_role().role_name(role_name).send().await {
                    Ok(output) => {
                        let mut facts = self.facts();
                        facts.role_exists = true;
                        facts.role_arn = output.role().map(|r| r.arn().to_string());
                    }
                    Err(error) => {
                        let failure = CallFailure::from_sdk(&error);
                        if !failure.is_not_found() {
                            return Err(failure.into_error(&format!("GetRole {role_name}")));
                        }
                    }
                }
            }
            Action::CreateBucket { bucket, region } => {
                let client = aws.s3_in(region);
                let mut request = client.create_bucket().bucket(bucket);
                if region != "us-east-1" {
                    request = request.create_bucket_configuration(
                        aws_sdk_s3::types::CreateBucketConfiguration::builder()
                            .location_constraint(region.as_str().into())
                            .build(),
                    );
                }
                request
                    .send()
                    .await
                    .map_err(call_error(&format!("CreateBucket {bucket}")))?;
                self.record_created(format!("bucket {bucket} in {region}"));
                self.progress
                    .say(format!("Created bucket: {bucket} in {region}"));
            }
            Action::PutPublicAccessBlock { bucket, region } => {
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
                self.record_created(format!("public access block off on bucket {bucket}"));
                self.progress
                    .say(format!("Turned off the public access block of {bucket}"));
            }
            Action::PutBucketPolicy {
                bucket,
                region,
                policy,
            } => {
                aws.s3_in(region)
                    .put_bucket_policy()
                    .bucket(bucket)
                    .policy(policy::compact(policy))
                    .send()
                    .await
                    .map_err(call_error(&format!("PutBucketPolicy {bucket}")))?;
                self.record_created(format!("public-read bucket policy on bucket {bucket}"));
                self.progress
                    .say(format!("Attached public-read bucket policy to {bucket}"));
            }
            Action::PutBucketWebsite {
                bucket,
                region,
                index_document,
                error_document,
                url,
            } => {
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
                self.record_created(format!("website configuration on bucket {bucket}"));
                self.progress.say(format!("Configured website: {url}"));
            }
            Action::CreateUser {
                user_name,
                permissions_boundary,
            } => {
                aws.iam
                    .create_user()
                    .user_name(user_name)
                    .set_permissions_boundary(permissions_boundary.clone())
                    .send()
                    .await
                    .map_err(call_error(&format!("CreateUser {user_name}")))?;
                self.record_created(format!("IAM user {user_name}"));
                self.progress.say(match permissions_boundary {
                    Some(arn) => {
                        format!("Created user: {user_name} with permissions boundary: {arn}")
                    }
                    None => format!("Created user: {user_name} without a permissions boundary"),
                });
            }
            Action::PutUserPolicy {
                user_name,
                policy_name,
                policy,
            } => {
                aws.iam
                    .put_user_policy()
                    .user_name(user_name)
                    .policy_name(policy_name)
                    .policy_document(policy::compact(policy))
                    .send()
                    .await
                    .map_err(call_error(&format!("PutUserPolicy {policy_name}")))?;
                self.record_created(format!("inline policy {policy_name} on user {user_name}"));
                self.progress
                    .say(format!("Attached policy {policy_name} to user {user_name}"));
            }
            Action::CreateAccessKey { user_name } => {
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
                let create_date = key
                    .create_date()
                    .and_then(|d| SystemTime::try_from(*d).ok());
                self.record_created(format!(
                    "access key {} of user {user_name}",
                    key.access_key_id()
                ));
                self.facts().new_key = Some((
                    key.access_key_id().to_string(),
                    Secret::new(key.secret_access_key()),
                    create_date,
                    user_name.clone(),
                ));
                self.progress
                    .say(format!("Created access key for user: {user_name}"));
            }
            Action::WaitForAccessKey { timeout_seconds } => {
                let (id, secret) = {
                    let facts = self.facts();
                    let (id, secret, ..) = facts
                        .new_key
                        .as_ref()
                        .ok_or_else(|| Error::Internal("no access key to wait for".into()))?;
                    (id.clone(), secret.clone())
                };
                let sts = aws.sts_with_key(&id, secret.expose());
                let started = Instant::now();
                let (outcome, attempts) =
                    retry_until(Duration::from_secs(*timeout_seconds), || {
                        sts.get_caller_identity().send()
                    })
                    .await;
                match outcome {
                    Ok(_) if attempts > 1 => self.progress.say(format!(
                        "The new access key authenticates (after {:.1}s)",
                        started.elapsed().as_secs_f64()
                    )),
                    Ok(_) => {}
                    // The key exists and its secret is only shown now: print it anyway, and say so.
                    Err(_) => eprintln!(
                        "warning: the new access key {id} did not authenticate within {timeout_seconds}s; \
                         IAM is eventually consistent, so it should work shortly"
                    ),
                }
            }
            Action::GetCallerIdentity => {
                let output = aws
                    .sts
                    .get_caller_identity()
                    .send()
                    .await
                    .map_err(call_error("GetCallerIdentity"))?;
                let account = output.account().ok_or_else(|| {
                    Error::Internal("GetCallerIdentity returned no account".into())
                })?;
                self.facts().account = Some(account.to_string());
            }
            Action::CreateRole {
                role_name,
                trust_policy_template,
                max_session_duration,
            } => {
                let account = self
                    .facts()
                    .account
                    .clone()
                    .ok_or_else(|| Error::Internal("no account for the trust policy".into()))?;
                let trust =
                    policy::compact(trust_policy_template).replace(ACCOUNT_PLACEHOLDER, &account);
                let output = aws
                    .iam
                    .create_role()
                    .role_name(role_name)
                    .assume_role_policy_document(trust)
                    .max_session_duration(*max_session_duration)
                    .description(
                        "Issues scoped temporary S3 credentials for s3creds / s3-credentials",
                    )
                    .send()
                    .await
                    .map_err(call_error(&format!("CreateRole {role_name}")))?;
                let mut facts = self.facts();
                facts.role_arn = output.role().map(|r| r.arn().to_string());
                facts.role_created = true;
                facts.created.push(format!("IAM role {role_name}"));
                drop(facts);
                self.progress.say(format!("Created role: {role_name}"));
            }
            Action::AttachRolePolicy {
                role_name,
                policy_arn,
            } => {
                aws.iam
                    .attach_role_policy()
                    .role_name(role_name)
                    .policy_arn(policy_arn)
                    .send()
                    .await
                    .map_err(call_error(&format!("AttachRolePolicy {role_name}")))?;
                self.record_created(format!("attachment of {policy_arn} to role {role_name}"));
                self.progress
                    .say(format!("Attached {policy_arn} to role {role_name}"));
            }
            Action::AssumeRole {
                role_name,
                session_name,
                policy,
                duration_seconds,
                wait_seconds_if_role_is_new,
            } => {
                let (role_arn, role_is_new) = {
                    let facts = self.facts();
                    (facts.role_arn.clone(), facts.role_created)
                };
                let role_arn = role_arn
                    .ok_or_else(|| Error::Internal(format!("no ARN known for role {role_name}")))?;
                self.progress.say(format!(
                    "Assume role against {role_arn} for {duration_seconds}s"
                ));
                // A new role is not assumable everywhere at once; only then is a retry worth it.
                let patience = if role_is_new {
                    Duration::from_secs(*wait_seconds_if_role_is_new)
                } else {
                    Duration::ZERO
                };
                let session = assume_role(
                    aws,
                    &role_arn,
                    session_name,
                    policy,
                    *duration_seconds,
                    patience,
                )
                .await?;
                self.facts().session = Some(session);
            }
        }
        Ok(())
    }
}

enum BucketState {
    Missing,
    Exists { region: Option<String> },
}

async fn head_bucket(aws: &AwsClients, bucket: &str) -> Result<BucketState> {
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
                Some(403) => Err(Error::AwsAuth {
                    operation: format!("HeadBucket {bucket}"),
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
                _ => Err(failure.into_error(&format!("HeadBucket {bucket}"))),
            }
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

/// Call `attempt` until it succeeds or `timeout` has passed, backing off from 250 ms up to 4 s.
/// Returns the last outcome and the number of attempts made.
async fn retry_until<F, Fut, T, E>(
    timeout: Duration,
    mut attempt: F,
) -> (std::result::Result<T, E>, u32)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, E>>,
{
    let deadline = Instant::now() + timeout;
    let mut delay = Duration::from_millis(250);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match attempt().await {
            Ok(value) => return (Ok(value), attempts),
            Err(error) => {
                let now = Instant::now();
                if now >= deadline {
                    return (Err(error), attempts);
                }
                tokio::time::sleep(delay.min(deadline - now)).await;
                delay = (delay * 2).min(Duration::from_secs(4));
            }
        }
    }
}
