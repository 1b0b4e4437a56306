//! Plan, then apply: a validated [`CreateRequest`] becomes a [`Plan`], the exact ordered list of AWS calls
//! `create` may make. `--dry-run` prints this plan; [`crate::apply`] executes it and nothing else, so the
//! two can never drift apart. Building a plan is pure: no AWS call, no credentials needed.

use crate::error::{Error, Result};
use crate::names;
use crate::policy::{self, PolicyRequest};
use serde::Serialize;
use serde_json::Value;
use std::time::Duration;

/// The role temporary credentials are issued from. The name is upstream's, so accounts that already
/// used s3-credentials reuse their role.
pub const ROLE_NAME: &str = "s3-credentials.AmazonS3FullAccess";
pub const ROLE_MAX_SESSION_SECONDS: i32 = 43200;
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
        duration: Duration,
        /// `--username` doubles as the RoleSessionName.
        session_name: Option<String>,
    },
}

/// A validated `create` request.
#[derive(Debug, Clone, PartialEq)]
pub struct CreateRequest {
    pub policy: PolicyRequest,
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
        /// Create when missing (`-c`) instead of failing.
        create_if_missing: bool,
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
    },
    AttachRolePolicy {
        role_name: String,
        policy_arn: String,
    },
    AssumeRole {
        role_name: String,
        session_name: String,
        policy: Value,
        duration_seconds: u64,
        /// A role created moments ago cannot be assumed until IAM has propagated it: retry this long.
        wait_seconds_if_role_is_new: u64,
    },
}

impl Action {
    /// Whether the call changes anything in AWS.
    pub fn mutates(&self) -> bool {
        !matches!(
            self,
            Action::HeadBucket { .. }
                | Action::GetUser { .. }
                | Action::ListAccessKeys { .. }
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

/// Everything `create` will do, in order.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    pub credentials: &'static str,
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
    let buckets = &request.policy.buckets;
    if buckets.is_empty() {
        return Err(Error::invalid("name at least one bucket"));
    }
    for bucket in buckets {
        names::validate_bucket_name(bucket)?;
    }
    if let Some(duplicate) = buckets
        .iter()
        .enumerate()
        .find(|(i, b)| buckets[..*i].contains(b))
    {
        return Err(Error::invalid(format!(
            "bucket {:?} is named twice",
            duplicate.1
        )));
    }
    if let Some(region) = &request.bucket_region {
        validate_region(region)?;
    }
    let document = request.policy.document()?;
    let kind = request.policy.kind_label();
    let partition = request.policy.partition.as_str();

    let public = request.public || request.website;
    let mut discover: Vec<Vec<Step>> = buckets
        .iter()
        .map(|bucket| {
            vec![always(Action::HeadBucket {
                bucket: bucket.clone(),
                create_if_missing: request.create_buckets,
                expected_region: request.bucket_region.clone(),
                refuse_if_exists: public,
            })]
        })
        .collect();

    let create_region = request
        .bucket_region
        .clone()
        .unwrap_or_else(|| crate::aws::FALLBACK_REGION.to_string());
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
            check_size(
                &document,
                policy::MAX_USER_INLINE_POLICY_CHARS,
                "user inline policy",
            )?;
            let permissions_boundary = match boundary {
                BoundaryChoice::None => None,
                BoundaryChoice::Arn(arn) => Some(arn.clone()),
                BoundaryChoice::Default if request.policy.is_custom() => None,
                BoundaryChoice::Default => Some(format!(
                    "arn:{partition}:iam::aws:policy/{}",
                    if request.policy.access == policy::Access::ReadOnly {
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
            discover.push(vec![
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
            ]);
            stages.push(Stage {
                name: "discover",
                lanes: discover,
            });
            if !bucket_lanes.is_empty() {
                stages.push(Stage {
                    name: "buckets",
                    lanes: bucket_lanes,
                });
            }
            stages.push(Stage {
                name: "user",
                lanes: vec![vec![
                    when(
                        When::UserMissing,
                        Action::CreateUser {
                            user_name: user_name.clone(),
                            permissions_boundary,
                        },
                    ),
                    always(Action::PutUserPolicy {
                        user_name: user_name.clone(),
                        policy_name,
                        policy: document.clone(),
                    }),
                ]],
            });
            let mut key_lane = vec![always(Action::CreateAccessKey { user_name })];
            if !request.wait.is_zero() {
                key_lane.push(always(Action::WaitForAccessKey {
                    timeout_seconds: request.wait.as_secs().max(1),
                }));
            }
            stages.push(Stage {
                name: "access key",
                lanes: vec![key_lane],
            });
            "permanent"
        }
        CredentialKind::Temporary {
            duration,
            session_name,
        } => {
            let session_name = match session_name {
                Some(name) => name.clone(),
                None => names::derived_name(kind, buckets, names::MAX_SESSION_NAME),
            };
            names::validate_session_name(&session_name)?;
            check_size(
                &document,
                policy::MAX_SESSION_POLICY_CHARS,
                "session policy",
            )?;
            discover.push(vec![always(Action::GetRole {
                role_name: ROLE_NAME.to_string(),
            })]);
            stages.push(Stage {
                name: "discover",
                lanes: discover,
            });
            if !bucket_lanes.is_empty() {
                stages.push(Stage {
                    name: "buckets",
                    lanes: bucket_lanes,
                });
            }
            stages.push(Stage {
                name: "role",
                lanes: vec![vec![
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
            });
            stages.push(Stage {
                name: "credentials",
                lanes: vec![vec![always(Action::AssumeRole {
                    role_name: ROLE_NAME.to_string(),
                    session_name,
                    policy: document.clone(),
                    duration_seconds: duration.as_secs(),
                    wait_seconds_if_role_is_new: request.wait.as_secs(),
                })]],
            });
            "temporary"
        }
    };
    Ok(Plan {
        credentials,
        buckets: buckets.clone(),
        policy: document,
        stages,
    })
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

/// Refuse a policy document longer than AWS allows (white space not counted).
pub fn check_size(document: &Value, limit: usize, what: &str) -> Result<()> {
    let size = policy::compact_len(document);
    if size > limit {
        return Err(Error::invalid_with_hint(
            format!("the {what} would be {size} characters; AWS allows at most {limit}"),
            "name fewer buckets or prefixes per credential, or shorten --policy/--statement/--preset",
        ));
    }
    Ok(())
}

/// `--dry-run` as a person reads it. Every step of the plan appears, conditions included.
pub fn render_text(plan: &Plan) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Dry run: {} credentials for {}. Nothing will be changed.",
        plan.credentials,
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
                for line in crate::output::pretty_json(document).lines() {
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
            create_if_missing,
            expected_region,
            refuse_if_exists,
        } => {
            let mut text = format!("HeadBucket {bucket}: ");
            text += if *create_if_missing {
                "create it if missing"
            } else {
                "it must exist"
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
        } => match permissions_boundary {
            Some(arn) => format!("CreateUser {user_name} with permissions boundary {arn}"),
            None => format!("CreateUser {user_name} without a permissions boundary"),
        },
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
            session_name,
            duration_seconds,
            ..
        } => format!(
            "AssumeRole {role_name} as session {session_name} for {duration_seconds}s with session policy:"
        ),
    }
}
