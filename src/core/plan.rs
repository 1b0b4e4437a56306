//! Plan, then apply: a validated [`CreateRequest`] becomes a [`Plan`], the exact ordered list of AWS calls
//! `create` may make. `--dry-run` prints this plan; `aws::apply` executes it and nothing else, so the
//! two can never drift apart. Building a plan is pure: no AWS call, no credentials needed.

use super::expiry::Expiry;
use super::names;
use super::policy;
use super::preconditions::IfMissing;
use super::request::{PolicyLimit, Scope, SessionDuration};
use super::tags::{ManagedTags, Tag};
use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// The role temporary credentials are issued from. The name is upstream's, so accounts that already
/// used s3-credentials reuse their role.
pub const ROLE_NAME: &str = "s3-credentials.AmazonS3FullAccess";
pub const ROLE_MAX_SESSION_SECONDS: i32 = 43200;
/// The region used when neither the command line, the environment nor the profile names one. IAM is
/// global and signs in us-east-1, so this is the region every AWS account can use.
pub const FALLBACK_REGION: &str = "us-east-1";
const S3_FULL_ACCESS: &str = "AmazonS3FullAccess";
const S3_READ_ONLY_ACCESS: &str = "AmazonS3ReadOnlyAccess";

/// `--user-permissions-boundary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundaryChoice {
    /// Upstream's default: S3 read-only or full access, none for custom policies.
    Default,
    None,
    Arn(String),
}

impl BoundaryChoice {
    pub fn parse(text: &str) -> Result<Self> {
        if text == "none" {
            return Ok(BoundaryChoice::None);
        }
        let valid = text.starts_with("arn:aws")
            && text.split(':').nth(2) == Some("iam")
            && text
                .split(':')
                .nth(5)
                .is_some_and(|r| r.starts_with("policy/") && r.len() > 7);
        if !valid || text.len() > 2048 {
            return Err(Error::invalid_with_hint(
                format!("invalid --user-permissions-boundary {text:?}"),
                "give a managed policy ARN such as arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess, or none",
            ));
        }
        Ok(BoundaryChoice::Arn(text.to_string()))
    }
}

/// Permanent (IAM user) or temporary (STS session) credentials.
#[derive(Debug, Clone, PartialEq)]
pub enum CredentialKind {
    Permanent {
        /// `--username`; derived from the buckets when absent.
        user_name: Option<String>,
        boundary: BoundaryChoice,
    },
    Temporary {
        duration: SessionDuration,
        /// `--username` doubles as the RoleSessionName.
        session_name: Option<String>,
    },
}

/// A validated `create` request.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    pub scope: Scope,
    pub kind: CredentialKind,
    pub create_buckets: bool,
    pub public: bool,
    pub website: bool,
    pub bucket_region: Option<String>,
    /// How long to wait for IAM's eventual consistency: a new access key to authenticate, a new role to
    /// be assumable. Zero skips the wait.
    pub wait: Duration,
}

/// Which discovered fact a step depends on. Steps with a condition are skipped when it is false.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "if", content = "name", rename_all = "snake_case")]
pub enum When {
    BucketMissing(String),
    UserExists,
    UserMissing,
    RoleMissing,
}

/// One AWS call (or, for `WaitForAccessKey`, a bounded series of read-only calls).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "action")]
pub enum Action {
    HeadBucket {
        bucket: String,
        /// Create when missing (`-c`), or fail.
        if_missing: IfMissing,
        /// The bucket must be in this region (`--bucket-region`).
        expected_region: Option<String>,
        /// `--public`/`--website` are asked for: an existing bucket is refused.
        refuse_if_exists: bool,
    },
    GetUser {
        user_name: String,
        /// An explicit `--user-permissions-boundary` an existing user must already have.
        required_boundary: Option<String>,
    },
    ListAccessKeys {
        user_name: String,
    },
    /// With `--expires`, for a user that exists: it must have no permissions but `policy_name`
    /// (which this run writes with the expiry), or its access would outlive the expiry.
    ListUserPolicies {
        user_name: String,
        policy_name: String,
    },
    GetRole {
        role_name: String,
    },
    CreateBucket {
        bucket: String,
        region: String,
    },
    /// The configuration calls go to the bucket's own region: S3 answers a request for a bucket sent
    /// to another region with a redirect, which the SDK does not follow.
    PutPublicAccessBlock {
        bucket: String,
        region: String,
    },
    PutBucketPolicy {
        bucket: String,
        region: String,
        policy: Value,
    },
    PutBucketWebsite {
        bucket: String,
        region: String,
        index_document: String,
        error_document: String,
        url: String,
    },
    CreateUser {
        user_name: String,
        permissions_boundary: Option<String>,
        /// Marks the user as s3creds's (see `core::tags`).
        tags: Vec<Tag>,
    },
    PutUserPolicy {
        user_name: String,
        policy_name: String,
        policy: Value,
    },
    CreateAccessKey {
        user_name: String,
    },
    WaitForAccessKey {
        timeout_seconds: u64,
    },
    GetCallerIdentity,
    CreateRole {
        role_name: String,
        /// Filled with the account from GetCallerIdentity at run time.
        trust_policy_template: Value,
        max_session_duration: i32,
        tags: Vec<Tag>,
    },
    AttachRolePolicy {
        role_name: String,
        policy_arn: String,
    },
    AssumeRole {
        role_name: String,
        /// Known in advance (the role `serve` remembered): no GetRole needed. Otherwise the ARN
        /// GetRole or CreateRole returned.
        #[serde(skip_serializing_if = "Option::is_none")]
        role_arn: Option<String>,
        session_name: String,
        policy: Value,
        duration_seconds: u64,
        /// A role created moments ago cannot be assumed until IAM has propagated it: retry this long.
        wait_seconds_if_role_is_new: u64,
        /// `--external-id`, sent with a role given by `--role-arn` (see `core::role`).
        #[serde(skip_serializing_if = "Option::is_none")]
        external_id: Option<String>,
    },
    /// An existing user given `--expires`: its `s3creds:expires` tag follows its new policy.
    TagUser {
        user_name: String,
        tags: Vec<Tag>,
    },
    /// An existing user given a policy without `--expires`: an old `s3creds:expires` tag must go, or
    /// `delete-user --expired` would delete a user whose policy no longer expires.
    UntagUser {
        user_name: String,
        tag_keys: Vec<String>,
    },
}

impl Action {
    /// The AWS operation (or, for `WaitForAccessKey`, s3creds' own step) this action performs.
    pub fn name(&self) -> &'static str {
        match self {
            Action::HeadBucket { .. } => "HeadBucket",
            Action::GetUser { .. } => "GetUser",
            Action::ListAccessKeys { .. } => "ListAccessKeys",
            Action::ListUserPolicies { .. } => "ListUserPolicies",
            Action::GetRole { .. } => "GetRole",
            Action::CreateBucket { .. } => "CreateBucket",
            Action::PutPublicAccessBlock { .. } => "PutPublicAccessBlock",
            Action::PutBucketPolicy { .. } => "PutBucketPolicy",
            Action::PutBucketWebsite { .. } => "PutBucketWebsite",
            Action::CreateUser { .. } => "CreateUser",
            Action::PutUserPolicy { .. } => "PutUserPolicy",
            Action::CreateAccessKey { .. } => "CreateAccessKey",
            Action::WaitForAccessKey { .. } => "WaitForAccessKey",
            Action::GetCallerIdentity => "GetCallerIdentity",
            Action::CreateRole { .. } => "CreateRole",
            Action::AttachRolePolicy { .. } => "AttachRolePolicy",
            Action::AssumeRole { .. } => "AssumeRole",
            Action::TagUser { .. } => "TagUser",
            Action::UntagUser { .. } => "UntagUser",
        }
    }

    /// Whether the call changes anything in AWS.
    pub fn mutates(&self) -> bool {
        !matches!(
            self,
            Action::HeadBucket { .. }
                | Action::GetUser { .. }
                | Action::ListAccessKeys { .. }
                | Action::ListUserPolicies { .. }
                | Action::GetRole { .. }
                | Action::WaitForAccessKey { .. }
                | Action::GetCallerIdentity
        )
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Step {
    #[serde(flatten)]
    pub action: Action,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub when: Option<When>,
}

fn always(action: Action) -> Step {
    Step { action, when: None }
}

fn when(condition: When, action: Action) -> Step {
    Step {
        action,
        when: Some(condition),
    }
}

/// Steps that may run at the same time: each lane is sequential, the lanes of a stage run concurrently,
/// and stages run one after the other.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    pub name: &'static str,
    pub lanes: Vec<Vec<Step>>,
}

/// Which credentials a plan issues.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialsKind {
    Permanent,
    Temporary,
}

impl CredentialsKind {
    pub fn label(self) -> &'static str {
        match self {
            CredentialsKind::Permanent => "permanent",
            CredentialsKind::Temporary => "temporary",
        }
    }
}

/// Everything `create` will do, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub credentials: CredentialsKind,
    pub buckets: Vec<String>,
    /// The policy the credentials get (inline user policy or session policy).
    pub policy: Value,
    pub stages: Vec<Stage>,
}

impl Plan {
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.stages
            .iter()
            .flat_map(|s| s.lanes.iter().flat_map(|lane| lane.iter()))
    }
}

/// Turn a request into the plan, checking every name and size limit on the way.
pub fn plan(request: &CreateRequest) -> Result<Plan> {
    if let Some(region) = &request.bucket_region {
        validate_region(region)?;
    }
    let scope = &request.scope;
    let buckets = scope.buckets();
    let kind = scope.kind_label();
    let partition = scope.partition();
    let document = scope.document();

    let public = request.public || request.website;
    let if_missing = if request.create_buckets {
        IfMissing::Create
    } else {
        IfMissing::RefuseSuggestCreate
    };
    let mut discover = head_bucket_lanes(
        buckets,
        if_missing,
        request.bucket_region.as_deref(),
        public,
    );
    let create_region = request
        .bucket_region
        .clone()
        .unwrap_or_else(|| FALLBACK_REGION.to_string());
    let bucket_lanes: Vec<Vec<Step>> = if request.create_buckets {
        buckets
            .iter()
            .map(|bucket| {
                bucket_creation_lane(bucket, &create_region, public, request.website, partition)
            })
            .collect()
    } else {
        Vec::new()
    };

    let mut stages = Vec::new();
    let credentials = match &request.kind {
        CredentialKind::Permanent {
            user_name,
            boundary,
        } => {
            let user_name = match user_name {
                Some(name) => name.clone(),
                None => names::derived_name(kind, buckets, names::MAX_USER_NAME),
            };
            names::validate_user_name(&user_name)?;
            let policy_name = names::derived_name(kind, buckets, names::MAX_POLICY_NAME);
            names::validate_policy_name(&policy_name)?;
            scope.check_size(PolicyLimit::UserInlinePolicy)?;
            let user_tags = ManagedTags::new(
                Some(scope.request().kind().label()),
                scope.expiry().map(|e| e.as_rfc3339().to_string()),
            )
            .to_tags()?;
            let permissions_boundary = match boundary {
                BoundaryChoice::None => None,
                BoundaryChoice::Arn(arn) => Some(arn.clone()),
                BoundaryChoice::Default if scope.request().is_custom() => None,
                BoundaryChoice::Default => Some(format!(
                    "arn:{partition}:iam::aws:policy/{}",
                    if scope.request().access == policy::Access::ReadOnly {
                        S3_READ_ONLY_ACCESS
                    } else {
                        S3_FULL_ACCESS
                    }
                )),
            };
            let required_boundary = match boundary {
                BoundaryChoice::Arn(arn) => Some(arn.clone()),
                _ => None,
            };
            let mut user_lane = vec![
                always(Action::GetUser {
                    user_name: user_name.clone(),
                    required_boundary,
                }),
                when(
                    When::UserExists,
                    Action::ListAccessKeys {
                        user_name: user_name.clone(),
                    },
                ),
            ];
            if scope.expiry().is_some() {
                user_lane.push(when(
                    When::UserExists,
                    Action::ListUserPolicies {
                        user_name: user_name.clone(),
                        policy_name: policy_name.clone(),
                    },
                ));
            }
            discover.push(user_lane);
            stages.push(stage("discover", discover));
            if !bucket_lanes.is_empty() {
                stages.push(stage("buckets", bucket_lanes));
            }
            stages.push(stage(
                "user",
                vec![vec![
                    when(
                        When::UserMissing,
                        Action::CreateUser {
                            user_name: user_name.clone(),
                            permissions_boundary,
                            tags: user_tags,
                        },
                    ),
                    always(Action::PutUserPolicy {
                        user_name: user_name.clone(),
                        policy_name,
                        policy: document.clone(),
                    }),
                    when(
                        When::UserExists,
                        expiry_tag_action(&user_name, scope.expiry())?,
                    ),
                ]],
            ));
            let mut key_lane = vec![always(Action::CreateAccessKey { user_name })];
            if !request.wait.is_zero() {
                key_lane.push(always(Action::WaitForAccessKey {
                    timeout_seconds: request.wait.as_secs().max(1),
                }));
            }
            stages.push(stage("access key", vec![key_lane]));
            CredentialsKind::Permanent
        }
        CredentialKind::Temporary {
            duration,
            session_name,
        } => {
            let session_name = match session_name {
                Some(name) => name.clone(),
                None => names::derived_name(kind, buckets, names::MAX_SESSION_NAME),
            };
            stages.extend(role_stages(
                scope,
                *duration,
                &session_name,
                request.wait,
                discover,
                bucket_lanes,
            )?);
            CredentialsKind::Temporary
        }
    };
    Ok(Plan {
        credentials,
        buckets: buckets.to_vec(),
        policy: document.clone(),
        stages,
    })
}

/// The plan of `serve` (and of any command that hands out temporary credentials without creating
/// buckets). With the role remembered from an earlier run it is one round trip: HeadBucket for every
/// bucket beside one AssumeRole. Without it, the role is looked up and created if missing. Both check
/// the buckets, so a request gets the same verdict whatever the cache knows.
pub fn session_plan(
    scope: &Scope,
    duration: SessionDuration,
    session_name: &str,
    remembered_role_arn: Option<&str>,
    wait_if_role_is_new: Duration,
) -> Result<Plan> {
    let heads = head_bucket_lanes(scope.buckets(), IfMissing::Refuse, None, false);
    let stages = match remembered_role_arn {
        Some(role_arn) => {
            names::validate_session_name(session_name)?;
            scope.check_size(PolicyLimit::SessionPolicy)?;
            let mut lanes = heads;
            lanes.push(vec![always(assume_role_action(
                scope,
                duration,
                session_name,
                Some(role_arn),
                wait_if_role_is_new,
            ))]);
            vec![stage("credentials", lanes)]
        }
        None => role_stages(
            scope,
            duration,
            session_name,
            wait_if_role_is_new,
            heads,
            Vec::new(),
        )?,
    };
    Ok(Plan {
        credentials: CredentialsKind::Temporary,
        buckets: scope.buckets().to_vec(),
        policy: scope.document().clone(),
        stages,
    })
}

/// Only the bucket checks of [`session_plan`]: for commands that must know the buckets exist before
/// they write anything that refers to them (`profile add`).
pub fn bucket_check_plan(scope: &Scope) -> Plan {
    Plan {
        credentials: CredentialsKind::Temporary,
        buckets: scope.buckets().to_vec(),
        policy: scope.document().clone(),
        stages: vec![stage(
            "discover",
            head_bucket_lanes(scope.buckets(), IfMissing::Refuse, None, false),
        )],
    }
}

fn stage(name: &'static str, lanes: Vec<Vec<Step>>) -> Stage {
    Stage { name, lanes }
}

fn head_bucket_lanes(
    buckets: &[String],
    if_missing: IfMissing,
    expected_region: Option<&str>,
    refuse_if_exists: bool,
) -> Vec<Vec<Step>> {
    buckets
        .iter()
        .map(|bucket| {
            vec![always(Action::HeadBucket {
                bucket: bucket.clone(),
                if_missing,
                expected_region: expected_region.map(str::to_string),
                refuse_if_exists,
            })]
        })
        .collect()
}

fn assume_role_action(
    scope: &Scope,
    duration: SessionDuration,
    session_name: &str,
    role_arn: Option<&str>,
    wait_if_role_is_new: Duration,
) -> Action {
    Action::AssumeRole {
        role_name: ROLE_NAME.to_string(),
        role_arn: role_arn.map(str::to_string),
        session_name: session_name.to_string(),
        policy: scope.document().clone(),
        duration_seconds: duration.seconds(),
        wait_seconds_if_role_is_new: wait_if_role_is_new.as_secs(),
        external_id: None,
    }
}

/// Temporary credentials from the s3creds role: look it up beside the bucket checks (`discover`),
/// create buckets if asked, create the role if missing, then AssumeRole.
fn role_stages(
    scope: &Scope,
    duration: SessionDuration,
    session_name: &str,
    wait_if_role_is_new: Duration,
    mut discover: Vec<Vec<Step>>,
    bucket_lanes: Vec<Vec<Step>>,
) -> Result<Vec<Stage>> {
    names::validate_session_name(session_name)?;
    scope.check_size(PolicyLimit::SessionPolicy)?;
    let partition = scope.partition();
    discover.push(vec![always(Action::GetRole {
        role_name: ROLE_NAME.to_string(),
    })]);
    let mut stages = vec![stage("discover", discover)];
    if !bucket_lanes.is_empty() {
        stages.push(stage("buckets", bucket_lanes));
    }
    stages.push(stage(
        "role",
        vec![vec![
            when(When::RoleMissing, Action::GetCallerIdentity),
            when(
                When::RoleMissing,
                Action::CreateRole {
                    role_name: ROLE_NAME.to_string(),
                    trust_policy_template: policy::role_trust_policy(
                        partition,
                        ACCOUNT_PLACEHOLDER,
                    ),
                    max_session_duration: ROLE_MAX_SESSION_SECONDS,
                    tags: ManagedTags::new(None, None).to_tags()?,
                },
            ),
            when(
                When::RoleMissing,
                Action::AttachRolePolicy {
                    role_name: ROLE_NAME.to_string(),
                    policy_arn: format!("arn:{partition}:iam::aws:policy/{S3_FULL_ACCESS}"),
                },
            ),
        ]],
    ));
    stages.push(stage(
        "credentials",
        vec![vec![always(assume_role_action(
            scope,
            duration,
            session_name,
            None,
            wait_if_role_is_new,
        ))]],
    ));
    Ok(stages)
}

/// Stands for the AWS account ID in the role trust policy until GetCallerIdentity has answered.
pub const ACCOUNT_PLACEHOLDER: &str = "<ACCOUNT_ID>";

fn bucket_creation_lane(
    bucket: &str,
    region: &str,
    public: bool,
    website: bool,
    partition: &str,
) -> Vec<Step> {
    let missing = || When::BucketMissing(bucket.to_string());
    let mut lane = vec![when(
        missing(),
        Action::CreateBucket {
            bucket: bucket.to_string(),
            region: region.to_string(),
        },
    )];
    if public {
        // The public access block must be lifted before a public bucket policy is accepted.
        lane.push(when(
            missing(),
            Action::PutPublicAccessBlock {
                bucket: bucket.to_string(),
                region: region.to_string(),
            },
        ));
        lane.push(when(
            missing(),
            Action::PutBucketPolicy {
                bucket: bucket.to_string(),
                region: region.to_string(),
                policy: policy::public_bucket_policy(partition, bucket),
            },
        ));
    }
    if website {
        lane.push(when(
            missing(),
            Action::PutBucketWebsite {
                bucket: bucket.to_string(),
                region: region.to_string(),
                index_document: "index.html".to_string(),
                error_document: "error.html".to_string(),
                url: website_url(bucket, region),
            },
        ));
    }
    lane
}

/// The S3 website endpoint of a bucket. A few older regions use `s3-website-REGION` (a dash).
pub fn website_url(bucket: &str, region: &str) -> String {
    const DASH_REGIONS: [&str; 9] = [
        "us-east-1",
        "us-west-1",
        "us-west-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
        "eu-west-1",
        "sa-east-1",
        "us-gov-west-1",
    ];
    let separator = if DASH_REGIONS.contains(&region) {
        '-'
    } else {
        '.'
    };
    format!("http://{bucket}.s3-website{separator}{region}.amazonaws.com/")
}

/// What the `s3creds:expires` tag of a reused user becomes: the new expiry, or gone.
fn expiry_tag_action(user_name: &str, expiry: Option<&Expiry>) -> Result<Action> {
    Ok(match expiry {
        Some(expiry) => {
            let tags = vec![Tag {
                key: super::tags::EXPIRES.to_string(),
                value: expiry.as_rfc3339().to_string(),
            }];
            super::tags::check(&tags)?;
            Action::TagUser {
                user_name: user_name.to_string(),
                tags,
            }
        }
        None => Action::UntagUser {
            user_name: user_name.to_string(),
            tag_keys: vec![super::tags::EXPIRES.to_string()],
        },
    })
}

fn validate_region(region: &str) -> Result<()> {
    let valid = (4..=32).contains(&region.len())
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && region.contains('-')
        && !region.starts_with('-')
        && !region.ends_with('-');
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_with_hint(
            format!("invalid region {region:?}"),
            "a region looks like us-east-1 or eu-west-2",
        ))
    }
}

/// `--dry-run` as a person reads it. Every step of the plan appears, conditions included.
pub fn render_text(plan: &Plan) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Dry run: {} credentials for {}. Nothing will be changed.",
        plan.credentials.label(),
        plan.buckets.join(", ")
    );
    let mut number = 0;
    for stage in &plan.stages {
        let _ = writeln!(out, "\n{}:", stage.name);
        for step in stage.lanes.iter().flatten() {
            number += 1;
            let condition = match &step.when {
                None => String::new(),
                Some(When::BucketMissing(b)) => format!(" (if bucket {b} is missing)"),
                Some(When::UserExists) => " (if the user exists)".to_string(),
                Some(When::UserMissing) => " (if the user does not exist)".to_string(),
                Some(When::RoleMissing) => " (if the role does not exist)".to_string(),
            };
            let verb = if step.action.mutates() {
                "would"
            } else {
                "check"
            };
            let _ = writeln!(
                out,
                "{number:>3}. [{verb}] {}{condition}",
                describe(&step.action)
            );
            if let Some(document) = attached_document(&step.action) {
                for line in policy::pretty_json(document).lines() {
                    let _ = writeln!(out, "       {line}");
                }
            }
        }
    }
    out
}

fn attached_document(action: &Action) -> Option<&Value> {
    match action {
        Action::PutBucketPolicy { policy, .. }
        | Action::PutUserPolicy { policy, .. }
        | Action::AssumeRole { policy, .. } => Some(policy),
        Action::CreateRole {
            trust_policy_template,
            ..
        } => Some(trust_policy_template),
        _ => None,
    }
}

/// One line per action, shared by `--dry-run` and the progress messages of a real run.
pub fn describe(action: &Action) -> String {
    match action {
        Action::HeadBucket {
            bucket,
            if_missing,
            expected_region,
            refuse_if_exists,
        } => {
            let mut text = format!("HeadBucket {bucket}: ");
            text += match if_missing {
                IfMissing::Create => "create it if missing",
                IfMissing::RefuseSuggestCreate | IfMissing::Refuse => "it must exist",
            };
            if let Some(region) = expected_region {
                text += &format!(", in {region}");
            }
            if *refuse_if_exists {
                text += "; --public/--website only apply to buckets created now";
            }
            text
        }
        Action::GetUser {
            user_name,
            required_boundary,
        } => match required_boundary {
            Some(arn) => format!("GetUser {user_name}: if it exists, its boundary must be {arn}"),
            None => format!("GetUser {user_name}"),
        },
        Action::ListAccessKeys { user_name } => {
            format!("ListAccessKeys {user_name}: it must have fewer than 2 keys")
        }
        Action::ListUserPolicies {
            user_name,
            policy_name,
        } => format!(
            "ListUserPolicies, ListAttachedUserPolicies, ListGroupsForUser {user_name}: no \
             permissions but {policy_name}, which expires"
        ),
        Action::GetRole { role_name } => format!("GetRole {role_name}"),
        Action::CreateBucket { bucket, region } => format!("CreateBucket {bucket} in {region}"),
        Action::PutPublicAccessBlock { bucket, .. } => {
            format!("PutPublicAccessBlock {bucket}: all four settings off")
        }
        Action::PutBucketPolicy { bucket, .. } => {
            format!("PutBucketPolicy {bucket}: anyone may read objects")
        }
        Action::PutBucketWebsite {
            bucket,
            index_document,
            error_document,
            url,
            ..
        } => format!(
            "PutBucketWebsite {bucket}: index {index_document}, errors {error_document}, at {url}"
        ),
        Action::CreateUser {
            user_name,
            permissions_boundary,
            tags,
        } => {
            let text = match permissions_boundary {
                Some(arn) => format!("CreateUser {user_name} with permissions boundary {arn}"),
                None => format!("CreateUser {user_name} without a permissions boundary"),
            };
            match tags.iter().find(|t| t.key == super::tags::EXPIRES) {
                Some(expires) => format!("{text}; its policy expires at {}", expires.value),
                None => text,
            }
        }
        Action::PutUserPolicy {
            user_name,
            policy_name,
            ..
        } => format!("PutUserPolicy {policy_name} on user {user_name}:"),
        Action::CreateAccessKey { user_name } => format!("CreateAccessKey for user {user_name}"),
        Action::WaitForAccessKey { timeout_seconds } => format!(
            "WaitForAccessKey: up to {timeout_seconds}s until the new key authenticates (sts:GetCallerIdentity)"
        ),
        Action::GetCallerIdentity => "GetCallerIdentity: the account ID for the trust policy".into(),
        Action::CreateRole {
            role_name,
            max_session_duration,
            ..
        } => format!(
            "CreateRole {role_name}, max session {max_session_duration}s, trusted by the account:"
        ),
        Action::AttachRolePolicy {
            role_name,
            policy_arn,
        } => format!("AttachRolePolicy {policy_arn} to {role_name}"),
        Action::AssumeRole {
            role_name,
            role_arn,
            session_name,
            duration_seconds,
            ..
        } => format!(
            "AssumeRole {} as session {session_name} for {duration_seconds}s with session policy:",
            role_arn.as_deref().unwrap_or(role_name)
        ),
        Action::TagUser { user_name, tags } => format!(
            "TagUser {user_name}: {}",
            tags.iter()
                .map(|t| format!("{}={}", t.key, t.value))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Action::UntagUser {
            user_name,
            tag_keys,
        } => format!("UntagUser {user_name}: {}", tag_keys.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::{Access, PolicyRequest};
    use serde_json::json;

    fn scope(buckets: &[&str], access: Access, custom: bool) -> Scope {
        let mut request =
            PolicyRequest::new(buckets.iter().map(|b| b.to_string()).collect(), access);
        if custom {
            request.extra_statements =
                vec![json!({"Effect": "Allow", "Action": "textract:*", "Resource": "*"})];
        }
        Scope::new(request).unwrap()
    }

    fn actions(plan: &Plan) -> Vec<String> {
        plan.steps()
            .map(|s| {
                let tag = serde_json::to_value(&s.action).unwrap()["action"].clone();
                assert_eq!(tag, s.action.name(), "the JSON tag is the action's name");
                s.action.name().to_string()
            })
            .collect()
    }

    /// Every combination `create --dry-run` can print: kind x -c x --public x --website x
    /// --bucket-region x custom policy x boundary x wait.
    #[test]
    fn every_dry_run_combination_plans_reads_first_and_prints_every_step() {
        let kinds = [
            CredentialKind::Permanent {
                user_name: None,
                boundary: BoundaryChoice::Default,
            },
            CredentialKind::Permanent {
                user_name: Some("named-user".into()),
                boundary: BoundaryChoice::None,
            },
            CredentialKind::Permanent {
                user_name: None,
                boundary: BoundaryChoice::Arn("arn:aws:iam::aws:policy/B".into()),
            },
            CredentialKind::Temporary {
                duration: SessionDuration::parse("1h").unwrap(),
                session_name: None,
            },
        ];
        let mut count = 0;
        for kind in &kinds {
            for create_buckets in [false, true] {
                for (public, website) in [(false, false), (true, false), (true, true)] {
                    if public && !create_buckets {
                        continue; // clap refuses --public/--website without -c
                    }
                    for bucket_region in [None, Some("eu-west-2".to_string())] {
                        for custom in [false, true] {
                            for wait in [Duration::ZERO, Duration::from_secs(60)] {
                                let request = CreateRequest {
                                    scope: scope(&["b-one", "b-two"], Access::ReadOnly, custom),
                                    kind: kind.clone(),
                                    create_buckets,
                                    public,
                                    website,
                                    bucket_region: bucket_region.clone(),
                                    wait,
                                };
                                let plan = plan(&request).unwrap();
                                check_invariants(&request, &plan);
                                count += 1;
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(count, 4 * 4 * 2 * 2 * 2);
    }

    fn check_invariants(request: &CreateRequest, plan: &Plan) {
        let names = actions(plan);
        // The first stage only reads: nothing is changed before every precondition was checked.
        assert_eq!(plan.stages[0].name, "discover");
        assert!(plan.stages[0]
            .lanes
            .iter()
            .flatten()
            .all(|s| !s.action.mutates()));
        assert_eq!(names.iter().filter(|a| *a == "HeadBucket").count(), 2);
        let text = render_text(plan);
        assert_eq!(
            text.lines().filter(|l| l.contains(". [")).count(),
            names.len(),
            "{text}"
        );
        let created = names.iter().filter(|a| *a == "CreateBucket").count();
        assert_eq!(created, if request.create_buckets { 2 } else { 0 });
        if request.public {
            let block = names
                .iter()
                .position(|a| a == "PutPublicAccessBlock")
                .unwrap();
            let policy = names.iter().position(|a| a == "PutBucketPolicy").unwrap();
            assert!(block < policy, "the public access block is lifted first");
        } else {
            assert!(!names.contains(&"PutBucketPolicy".to_string()));
        }
        assert_eq!(
            names.contains(&"PutBucketWebsite".to_string()),
            request.website
        );
        match &request.kind {
            CredentialKind::Permanent { boundary, .. } => {
                assert_eq!(plan.credentials, CredentialsKind::Permanent);
                assert_eq!(
                    names.last().unwrap(),
                    if request.wait.is_zero() {
                        "CreateAccessKey"
                    } else {
                        "WaitForAccessKey"
                    }
                );
                let create_user = plan
                    .steps()
                    .find_map(|s| match &s.action {
                        Action::CreateUser {
                            permissions_boundary,
                            ..
                        } => Some(permissions_boundary.clone()),
                        _ => None,
                    })
                    .unwrap();
                let expected = match boundary {
                    BoundaryChoice::None => None,
                    BoundaryChoice::Arn(arn) => Some(arn.clone()),
                    BoundaryChoice::Default if request.scope.request().is_custom() => None,
                    BoundaryChoice::Default => {
                        Some("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess".to_string())
                    }
                };
                assert_eq!(create_user, expected);
            }
            CredentialKind::Temporary { .. } => {
                assert_eq!(plan.credentials, CredentialsKind::Temporary);
                assert_eq!(names.last().unwrap(), "AssumeRole");
                assert!(names.contains(&"GetRole".to_string()));
            }
        }
        serde_json::to_value(plan).unwrap();
    }

    #[test]
    fn a_remembered_role_makes_one_round_trip_that_still_checks_every_bucket() {
        let s = scope(&["b-one", "b-two"], Access::ReadWrite, false);
        let duration = SessionDuration::parse("1h").unwrap();
        let warm = session_plan(
            &s,
            duration,
            "session",
            Some("arn:aws:iam::1:role/r"),
            Duration::ZERO,
        )
        .unwrap();
        assert_eq!(warm.stages.len(), 1);
        assert_eq!(actions(&warm), ["HeadBucket", "HeadBucket", "AssumeRole"]);
        assert!(warm.steps().all(|s| !matches!(
            s.action,
            Action::HeadBucket {
                if_missing: IfMissing::Create | IfMissing::RefuseSuggestCreate,
                ..
            }
        )));
        let cold = session_plan(&s, duration, "session", None, Duration::ZERO).unwrap();
        assert_eq!(
            actions(&cold),
            [
                "HeadBucket",
                "HeadBucket",
                "GetRole",
                "GetCallerIdentity",
                "CreateRole",
                "AttachRolePolicy",
                "AssumeRole"
            ]
        );
        assert_eq!(cold.policy, warm.policy);
    }

    #[test]
    fn names_and_sizes_are_checked_per_kind() {
        let temporary = |name: &str| CreateRequest {
            scope: scope(&["b-one"], Access::ReadWrite, false),
            kind: CredentialKind::Temporary {
                duration: SessionDuration::parse("1h").unwrap(),
                session_name: Some(name.into()),
            },
            create_buckets: false,
            public: false,
            website: false,
            bucket_region: None,
            wait: Duration::ZERO,
        };
        assert!(plan(&temporary("ok-name")).is_ok());
        assert!(
            plan(&temporary("x")).is_err(),
            "session names have 2..64 characters"
        );
        let mut bad_user = temporary("ok");
        bad_user.kind = CredentialKind::Permanent {
            user_name: Some("no spaces".into()),
            boundary: BoundaryChoice::Default,
        };
        assert!(plan(&bad_user).is_err());
        let mut bad_region = temporary("ok");
        bad_region.bucket_region = Some("Mars".into());
        assert!(plan(&bad_region).is_err());
        let many: Vec<String> = (0..40).map(|i| format!("bucket-number-{i:03}")).collect();
        let mut big = temporary("ok");
        big.scope = Scope::new(PolicyRequest::new(many, Access::ReadWrite)).unwrap();
        assert!(plan(&big)
            .unwrap_err()
            .to_string()
            .contains("session policy"));
    }
}
