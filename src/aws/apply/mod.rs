//! Execute a [`Plan`]: the only code in s3creds that changes AWS.
//!
//! Stages run in order; the lanes of a stage run concurrently; the steps of a lane run in order. The
//! first stage only reads (HeadBucket, GetUser, ListAccessKeys, GetRole) and `core::preconditions`
//! judges what it finds, so a missing bucket, a bucket that is not ours, a user with two keys or a
//! conflicting flag stops the run before anything is created. Every resource created is recorded, and
//! a later failure reports that list. Credentials issued before a failure (or a panic) are handed back
//! with it: a secret AWS shows once must reach the user whatever happens next.

mod iam;
pub mod iam_delete;
pub mod rotate;
mod s3;
mod sts;

use crate::aws::AwsClients;
use crate::core::plan::{Action, Plan, Step, When, ACCOUNT_PLACEHOLDER};
use crate::core::policy;
use crate::core::preconditions::{self, BucketVerdict};
use crate::credentials::{AccessKey, IssuedCredentials, SessionCredentials};
use crate::error::{Error, Result};
use futures::FutureExt;
use std::collections::HashSet;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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
    new_key: Option<AccessKey>,
    session: Option<SessionCredentials>,
    created: Vec<String>,
}

struct Run<'a> {
    aws: &'a AwsClients,
    progress: Progress,
    facts: Mutex<Facts>,
}

/// What a run produced.
#[derive(Debug)]
pub struct Applied {
    pub credentials: IssuedCredentials,
    /// The role temporary credentials came from (remembered by `serve`).
    pub role_arn: Option<String>,
}

/// A run that failed. `issued` holds credentials AWS had already issued: the caller must still show
/// them, since their secret cannot be fetched again.
#[derive(Debug)]
pub struct Failed {
    pub error: Error,
    /// The action that failed (`HeadBucket`, `AssumeRole`...).
    pub action: &'static str,
    pub issued: Option<IssuedCredentials>,
}

impl From<Failed> for Error {
    fn from(failed: Failed) -> Error {
        failed.error
    }
}

/// Execute `plan` and return the credentials it issues.
pub async fn apply(
    plan: &Plan,
    aws: &AwsClients,
    progress: Progress,
) -> std::result::Result<Applied, Failed> {
    let run = Run {
        aws,
        progress,
        facts: Mutex::new(Facts::default()),
    };
    if let Err((action, error)) = run.stages(plan).await {
        let mut facts = run.facts();
        let created = facts.created.clone();
        return Err(Failed {
            error: error.after_creating(&created),
            action,
            issued: facts.take_credentials(),
        });
    }
    let mut facts = run.facts();
    let role_arn = facts.role_arn.clone();
    match facts.take_credentials() {
        Some(credentials) => Ok(Applied {
            credentials,
            role_arn,
        }),
        None => Err(Failed {
            error: Error::Internal("the plan issued no credentials".into()),
            action: "apply",
            issued: None,
        }),
    }
}

/// Run a plan that only reads (checks of what exists) and report the first problem.
pub async fn check(plan: &Plan, aws: &AwsClients) -> Result<()> {
    if plan.steps().any(|step| step.action.mutates()) {
        return Err(Error::Internal(
            "a check plan must not change anything".into(),
        ));
    }
    let run = Run {
        aws,
        progress: Progress { silent: true },
        facts: Mutex::new(Facts::default()),
    };
    run.stages(plan).await.map_err(|(_, error)| error)
}

impl Facts {
    fn take_credentials(&mut self) -> Option<IssuedCredentials> {
        match (self.session.take(), self.new_key.take()) {
            (Some(session), _) => Some(IssuedCredentials::Session(session)),
            (None, Some(key)) => Some(IssuedCredentials::AccessKey(key)),
            (None, None) => None,
        }
    }
}

impl Run<'_> {
    fn facts(&self) -> std::sync::MutexGuard<'_, Facts> {
        // A poisoned lock only means another lane panicked; its facts are still the best we have.
        self.facts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record_created(&self, what: String) {
        self.facts().created.push(what);
    }

    /// The stages in order, the lanes of each at once; the first failure (and its action) stops
    /// the run after the stage it happened in.
    async fn stages(&self, plan: &Plan) -> std::result::Result<(), (&'static str, Error)> {
        for stage in &plan.stages {
            let results =
                futures::future::join_all(stage.lanes.iter().map(|lane| self.lane(lane))).await;
            if let Some(failure) = results.into_iter().find_map(Result::err) {
                return Err(failure);
            }
        }
        Ok(())
    }

    async fn lane(&self, steps: &[Step]) -> std::result::Result<(), (&'static str, Error)> {
        for step in steps {
            if self.applies(step.when.as_ref()) {
                // A bug in one step must not lose what earlier steps created or issued: the panic
                // becomes an error, reported with the list of created resources.
                AssertUnwindSafe(self.step(&step.action))
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|panic| {
                        Err(Error::Internal(format!(
                            "{} failed unexpectedly: {}",
                            step.action.name(),
                            panic_message(panic.as_ref())
                        )))
                    })
                    .map_err(|error| (step.action.name(), error))?;
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
                if_missing,
                expected_region,
                refuse_if_exists,
            } => {
                let state = s3::head_bucket(aws, bucket).await?;
                let verdict = preconditions::judge_bucket(
                    bucket,
                    &state,
                    *if_missing,
                    expected_region.as_deref(),
                    *refuse_if_exists,
                )?;
                if verdict == BucketVerdict::Create {
                    self.facts().missing_buckets.insert(bucket.clone());
                }
            }
            Action::GetUser {
                user_name,
                required_boundary,
            } => {
                if let Some(user) = iam::get_user(aws, user_name).await? {
                    preconditions::check_existing_user_boundary(
                        user_name,
                        user.boundary.as_deref(),
                        required_boundary.as_deref(),
                    )?;
                    self.facts().user_exists = true;
                    self.progress.say(format!(
                        "Using existing user: {user_name} (permissions boundary: {})",
                        user.boundary.as_deref().unwrap_or("none")
                    ));
                }
            }
            Action::ListAccessKeys { user_name } => {
                let keys = iam::list_access_keys(aws, user_name).await?;
                preconditions::check_room_for_access_key(user_name, &keys)?;
            }
            Action::ListUserPolicies {
                user_name,
                policy_name,
            } => {
                let permissions = iam::permissions_of_user(aws, user_name).await?;
                preconditions::check_expiry_covers_user(user_name, policy_name, &permissions)?;
            }
            Action::GetRole { role_name } => {
                if let Some(arn) = iam::get_role(aws, role_name).await? {
                    let mut facts = self.facts();
                    facts.role_exists = true;
                    facts.role_arn = Some(arn);
                }
            }
            Action::CreateBucket { bucket, region } => {
                s3::create_bucket(aws, bucket, region).await?;
                self.record_created(format!("bucket {bucket} in {region}"));
                self.progress
                    .say(format!("Created bucket: {bucket} in {region}"));
            }
            Action::PutPublicAccessBlock { bucket, region } => {
                s3::lift_public_access_block(aws, bucket, region).await?;
                self.record_created(format!("public access block off on bucket {bucket}"));
                self.progress
                    .say(format!("Turned off the public access block of {bucket}"));
            }
            Action::PutBucketPolicy {
                bucket,
                region,
                policy,
            } => {
                s3::put_bucket_policy(aws, bucket, region, &policy::compact(policy)).await?;
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
                s3::put_bucket_website(aws, bucket, region, index_document, error_document).await?;
                self.record_created(format!("website configuration on bucket {bucket}"));
                self.progress.say(format!("Configured website: {url}"));
            }
            Action::CreateUser {
                user_name,
                permissions_boundary,
                tags,
            } => {
                iam::create_user(aws, user_name, permissions_boundary.as_deref(), tags).await?;
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
                iam::put_user_policy(aws, user_name, policy_name, &policy::compact(policy)).await?;
                self.record_created(format!("inline policy {policy_name} on user {user_name}"));
                self.progress
                    .say(format!("Attached policy {policy_name} to user {user_name}"));
            }
            Action::CreateAccessKey { user_name } => {
                let key = iam::create_access_key(aws, user_name).await?;
                self.record_created(format!(
                    "access key {} of user {user_name}",
                    key.access_key_id
                ));
                self.facts().new_key = Some(key);
                self.progress
                    .say(format!("Created access key for user: {user_name}"));
            }
            Action::WaitForAccessKey { timeout_seconds } => {
                let (id, secret) = {
                    let facts = self.facts();
                    let key = facts
                        .new_key
                        .as_ref()
                        .ok_or_else(|| Error::Internal("no access key to wait for".into()))?;
                    (key.access_key_id.clone(), key.secret_access_key.clone())
                };
                let started = Instant::now();
                let (authenticated, attempts) = sts::key_authenticates(
                    aws,
                    &id,
                    &secret,
                    Duration::from_secs(*timeout_seconds),
                )
                .await;
                match (authenticated, attempts) {
                    (true, 1) => {}
                    (true, _) => self.progress.say(format!(
                        "The new access key authenticates (after {:.1}s)",
                        started.elapsed().as_secs_f64()
                    )),
                    // The key exists and its secret is only shown now: print it anyway, and say so.
                    (false, _) => eprintln!(
                        "warning: the new access key {id} did not authenticate within {timeout_seconds}s; \
                         IAM is eventually consistent, so it should work shortly"
                    ),
                }
            }
            Action::GetCallerIdentity => {
                let account = sts::account_id(aws).await?;
                self.facts().account = Some(account);
            }
            Action::CreateRole {
                role_name,
                trust_policy_template,
                max_session_duration,
                tags,
            } => {
                let account = self
                    .facts()
                    .account
                    .clone()
                    .ok_or_else(|| Error::Internal("no account for the trust policy".into()))?;
                let trust =
                    policy::compact(trust_policy_template).replace(ACCOUNT_PLACEHOLDER, &account);
                let arn =
                    iam::create_role(aws, role_name, &trust, *max_session_duration, tags).await?;
                let mut facts = self.facts();
                facts.role_arn = arn;
                facts.role_created = true;
                facts.created.push(format!("IAM role {role_name}"));
                drop(facts);
                self.progress.say(format!("Created role: {role_name}"));
            }
            Action::AttachRolePolicy {
                role_name,
                policy_arn,
            } => {
                iam::attach_role_policy(aws, role_name, policy_arn).await?;
                self.record_created(format!("attachment of {policy_arn} to role {role_name}"));
                self.progress
                    .say(format!("Attached {policy_arn} to role {role_name}"));
            }
            Action::AssumeRole {
                role_name,
                role_arn,
                session_name,
                policy,
                duration_seconds,
                wait_seconds_if_role_is_new,
                external_id,
            } => {
                let (found_arn, role_is_new) = {
                    let facts = self.facts();
                    (facts.role_arn.clone(), facts.role_created)
                };
                let role_arn = role_arn
                    .clone()
                    .or(found_arn)
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
                let session = sts::assume_role(
                    aws,
                    &role_arn,
                    session_name,
                    &policy::compact(policy),
                    *duration_seconds,
                    external_id.as_deref(),
                    patience,
                )
                .await?;
                let mut facts = self.facts();
                facts.session = Some(session);
                facts.role_arn = Some(role_arn);
            }
            Action::TagUser { user_name, tags } => {
                iam::tag_user(aws, user_name, tags).await?;
                self.record_created(format!("tags of user {user_name}"));
            }
            Action::UntagUser {
                user_name,
                tag_keys,
            } => {
                iam::untag_user(aws, user_name, tag_keys).await?;
            }
        }
        Ok(())
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_string())
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
    // Deadlines are computed with checked arithmetic: a huge timeout means "no deadline", never a
    // panic (request building bounds every timeout anyway).
    let deadline = Instant::now().checked_add(timeout);
    let mut delay = Duration::from_millis(250);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match attempt().await {
            Ok(value) => return (Ok(value), attempts),
            Err(error) => {
                let now = Instant::now();
                let left = match deadline {
                    Some(deadline) if now >= deadline => return (Err(error), attempts),
                    Some(deadline) => deadline - now,
                    None => delay,
                };
                tokio::time::sleep(delay.min(left)).await;
                delay = (delay * 2).min(Duration::from_secs(4));
            }
        }
    }
}
