//! `s3creds list`: the IAM users s3creds manages (`--all`: every user), one row each, and the role
//! temporary credentials come from.
//!
//! Calls, made to cost a few per user because moto and IAM answer ~100-150 calls a second:
//! 1. Side by side: GetAccountAuthorizationDetails (every user with its tags and inline policies, one
//!    call per 1,000 users), GetRole, and GenerateCredentialReport.
//! 2. ListAccessKeys per listed user, `--concurrency` at a time.
//! 3. The credential report (GetCredentialReport) for every key's last use, and GetAccessKeyLastUsed
//!    only for keys it does not answer plainly (see `core::credential_report`). When no report is
//!    ready after step 2 (IAM builds one on the first request, in seconds) or the caller may not have
//!    it, every key is asked about.
//!
//! When GetAccountAuthorizationDetails is refused, step 1 is ListUsers, then per user ListUserTags
//! (to skip the users s3creds does not manage) and ListUserPolicies + GetUserPolicy per policy.
//! A user whose reads fail shows the error in its row; only failing to list the users fails the
//! command. The report's last-use dates are as of its generation (IAM reuses a report for up to four
//! hours), as last-use data is in IAM anyway.

use crate::aws::inventory::{self, KeyUse};
use crate::aws::{AwsClients, AwsOptions};
use crate::cli::ListArgs;
use crate::core::credential_report::{CredentialReport, ReportedUse};
use crate::core::plan::ROLE_NAME;
use crate::core::policy_reading::{read_policies, PolicyReading};
use crate::core::tags::ManagedTags;
use crate::core::time::unix_seconds;
use crate::error::Result;
use crate::listing_output::{indented_json, rfc3339_value, Listing, ListingFormat};
use crate::output::write_stdout;
use aws_sdk_iam::primitives::DateTime;
use aws_sdk_iam::types::{AccessKeyLastUsed, AccessKeyMetadata, Role, User, UserDetail};
use futures::StreamExt;
use serde_json::{json, Map, Value};
use std::time::SystemTime;

/// The columns of the CSV, TSV and table outputs, in order.
const COLUMNS: [&str; 10] = [
    "UserName",
    "access",
    "buckets",
    "prefixes",
    "expires",
    "keys",
    "CreateDate",
    "managed",
    "version",
    "error",
];

/// What `list` knows of a user before its keys are read.
struct UserFacts {
    name: String,
    arn: String,
    create_date: Option<DateTime>,
    tags: Result<Vec<(String, String)>>,
    policies: Result<Vec<(String, Value)>>,
}

impl UserFacts {
    fn from_detail(detail: UserDetail) -> UserFacts {
        UserFacts {
            policies: inventory::detail_policies(&detail),
            tags: Ok(detail
                .tags()
                .iter()
                .map(|t| (t.key().to_string(), t.value().to_string()))
                .collect()),
            name: detail.user_name.unwrap_or_default(),
            arn: detail.arn.unwrap_or_default(),
            create_date: detail.create_date,
        }
    }

    fn unmanaged(&self) -> bool {
        unmanaged(&self.tags)
    }
}

/// Unmanaged, as far as its tags say; a user whose tags could not be read is shown, error and all.
fn unmanaged(tags: &Result<Vec<(String, String)>>) -> bool {
    tags.as_ref().is_ok_and(|tags| managed(tags).is_none())
}

pub fn run(args: &ListArgs, aws_options: &AwsOptions) -> Result<()> {
    let format = args.output.resolve();
    let now = SystemTime::now();
    let (rows, role) = crate::aws::block_on(async {
        let aws = AwsClients::load(aws_options).await?;
        let (users, role, report_ready) = futures::join!(
            users(&aws, args.all, args.concurrency),
            inventory::get_role(&aws, ROLE_NAME),
            inventory::credential_report_ready(&aws),
        );
        let users = users?;
        let keys: Vec<Result<Vec<AccessKeyMetadata>>> = futures::stream::iter(&users)
            .map(|user| inventory::access_key_list(&aws, &user.name))
            .buffered(args.concurrency)
            .collect()
            .await;
        let any_key = keys.iter().any(|k| k.as_ref().is_ok_and(|k| !k.is_empty()));
        let report = if any_key && (report_ready || inventory::credential_report_ready(&aws).await)
        {
            inventory::credential_report(&aws).await
        } else {
            None
        };
        let keys = with_last_use(&aws, &users, keys, report.as_ref(), args.concurrency).await;
        let rows = users
            .into_iter()
            .zip(keys)
            .map(|(user, (keys, key_errors))| row(user, keys, key_errors, now))
            .collect::<Vec<_>>();
        Ok::<_, crate::error::Error>((rows, role_value(role)))
    })??;
    let failed = rows.iter().filter(|r| !r["error"].is_null()).count();
    write_stdout(&render(rows, role, format))?;
    if failed > 0 {
        eprintln!(
            "warning: {failed} user(s) could not be read completely: see their \"error\" field"
        );
    }
    Ok(())
}

/// The users to list (without `--all`, only those s3creds manages), with their tags and policies.
async fn users(aws: &AwsClients, all: bool, concurrency: usize) -> Result<Vec<UserFacts>> {
    if let Some(details) = inventory::users_with_details(aws).await? {
        return Ok(details
            .into_iter()
            .map(UserFacts::from_detail)
            .filter(|user| all || !user.unmanaged())
            .collect());
    }
    let users = inventory::list_users(aws).await?;
    Ok(futures::stream::iter(users)
        .map(|user| user_facts(aws, user, all))
        .buffered(concurrency)
        .filter_map(|user| async move { user })
        .collect()
        .await)
}

/// One user's tags and policies read one call at a time (GetAccountAuthorizationDetails refused).
/// None for a user s3creds does not manage, unless `--all`, whose policies are then not read.
async fn user_facts(aws: &AwsClients, user: User, all: bool) -> Option<UserFacts> {
    let name = user.user_name();
    let (tags, policies) = if all {
        futures::join!(
            inventory::user_tags(aws, name),
            inventory::user_policies(aws, name)
        )
    } else {
        let tags = inventory::user_tags(aws, name).await;
        if unmanaged(&tags) {
            return None;
        }
        (tags, inventory::user_policies(aws, name).await)
    };
    Some(UserFacts {
        name: user.user_name,
        arn: user.arn,
        create_date: Some(user.create_date),
        tags,
        policies,
    })
}

/// Each user's keys with their last use, and the errors met reading them. A key the report does not
/// answer costs one GetAccessKeyLastUsed; a failed one leaves that key's last use empty.
async fn with_last_use(
    aws: &AwsClients,
    users: &[UserFacts],
    keys: Vec<Result<Vec<AccessKeyMetadata>>>,
    report: Option<&(CredentialReport, Option<DateTime>)>,
    concurrency: usize,
) -> Vec<(Option<Vec<KeyUse>>, Vec<String>)> {
    let mut out: Vec<(Option<Vec<KeyUse>>, Vec<String>)> = Vec::with_capacity(users.len());
    let mut unanswered = Vec::new();
    for (user_index, (user, keys)) in users.iter().zip(keys).enumerate() {
        match keys {
            Ok(keys) => {
                let mut uses = Vec::with_capacity(keys.len());
                for (key_index, key) in keys.into_iter().enumerate() {
                    let reported = report.and_then(|(report, generated)| {
                        let created = key
                            .create_date()
                            .and_then(|d| SystemTime::try_from(*d).ok())?;
                        Some((
                            report.last_use(&user.arn, unix_seconds(created))?,
                            generated,
                        ))
                    });
                    match reported {
                        Some((reported, generated)) => uses.push(KeyUse {
                            last_used: last_used(reported),
                            key,
                            as_of: *generated,
                        }),
                        None => {
                            let id = key.access_key_id().unwrap_or_default().to_string();
                            unanswered.push((user_index, key_index, id));
                            uses.push(KeyUse {
                                key,
                                last_used: None,
                                as_of: None,
                            });
                        }
                    }
                }
                out.push((Some(uses), Vec::new()));
            }
            Err(error) => out.push((None, vec![error.to_string()])),
        }
    }
    let answers: Vec<_> = futures::stream::iter(unanswered)
        .map(|(user_index, key_index, id)| async move {
            (
                user_index,
                key_index,
                inventory::key_last_used(aws, &id).await,
            )
        })
        .buffered(concurrency)
        .collect()
        .await;
    for (user_index, key_index, answer) in answers {
        let (keys, errors) = &mut out[user_index];
        match answer {
            Ok(last_used) => {
                if let Some(keys) = keys {
                    keys[key_index].last_used = last_used;
                }
            }
            Err(error) => errors.push(error.to_string()),
        }
    }
    out
}

/// The report's answer in GetAccessKeyLastUsed's form (`N/A` where it names no region or service).
fn last_used(reported: &ReportedUse) -> Option<AccessKeyLastUsed> {
    match reported {
        ReportedUse::Never => None,
        ReportedUse::Used {
            date,
            region,
            service,
        } => AccessKeyLastUsed::builder()
            .last_used_date(DateTime::from_secs(i64::try_from(*date).ok()?))
            .region(region.as_deref().unwrap_or("N/A"))
            .service_name(service.as_deref().unwrap_or("N/A"))
            .build()
            .ok(),
    }
}

fn render(rows: Vec<Map<String, Value>>, role: Value, format: ListingFormat) -> String {
    match format {
        ListingFormat::Json => {
            let users = Value::Array(rows.into_iter().map(Value::Object).collect());
            format!(
                "{}\n",
                indented_json(&json!({"users": users, "role": role}))
            )
        }
        ListingFormat::Nl => {
            let mut out = Listing::new(&COLUMNS, rows).render(format);
            out.push_str(&format!("{}\n", json!({ "role": role })));
            out
        }
        // A second kind of row would break CSV readers: these formats hold the users only.
        ListingFormat::Csv | ListingFormat::Tsv => Listing::new(&COLUMNS, rows).render(format),
        ListingFormat::Table => {
            let rows = rows.into_iter().map(table_row).collect();
            let mut out = Listing::new(&COLUMNS, rows).render(format);
            out.push_str(&format!("\nrole: {}\n", role_line(&role)));
            out
        }
    }
}

fn managed(tags: &[(String, String)]) -> Option<ManagedTags> {
    ManagedTags::from_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// One user's row; `keys` None when they could not be listed. Errors of every read are joined.
fn row(
    user: UserFacts,
    keys: Option<Vec<KeyUse>>,
    key_errors: Vec<String>,
    now: SystemTime,
) -> Map<String, Value> {
    let mut errors = Vec::new();
    // None when they could not be read; Some(None) for an unmanaged user.
    let tags: Option<Option<ManagedTags>> = user
        .tags
        .map(|tags| managed(&tags))
        .map_err(|e| errors.push(e.to_string()))
        .ok();
    let reading: Option<PolicyReading> = user
        .policies
        .map(|policies| {
            let documents: Vec<Value> = policies.into_iter().map(|(_, d)| d).collect();
            read_policies(&documents)
        })
        .map_err(|e| errors.push(e.to_string()))
        .ok();
    errors.extend(key_errors);
    let tag_expiry = tags.as_ref().and_then(|t| t.as_ref()?.expires.clone());
    // The policy condition is what AWS enforces; the tag is what `create` recorded.
    let expires = reading
        .as_ref()
        .and_then(|r| r.expires.clone())
        .or(tag_expiry);
    // Compared as instants (a tag may carry an offset); one that cannot be read is unknown (null).
    let now_seconds = unix_seconds(now);
    let expired = expires
        .as_deref()
        .and_then(crate::core::expiry::parse_rfc3339)
        .map(|at| now_seconds >= at);
    let mut row = Map::new();
    row.insert("UserName".into(), json!(user.name));
    row.insert("Arn".into(), json!(user.arn));
    row.insert(
        "CreateDate".into(),
        rfc3339_value(user.create_date.as_ref()),
    );
    row.insert(
        "managed".into(),
        tags.as_ref().map_or(Value::Null, |t| json!(t.is_some())),
    );
    row.insert(
        "version".into(),
        json!(tags
            .as_ref()
            .and_then(|t| Some(t.as_ref()?.version.clone()))),
    );
    row.insert(
        "access".into(),
        json!(reading.as_ref().map(|r| r.access.label())),
    );
    row.insert(
        "buckets".into(),
        json!(reading.as_ref().map(|r| &r.buckets)),
    );
    row.insert(
        "prefixes".into(),
        json!(reading.as_ref().map(|r| &r.prefixes)),
    );
    row.insert("expires".into(), json!(expires));
    row.insert("expired".into(), json!(expired));
    row.insert(
        "keys".into(),
        keys.map_or(Value::Null, |keys| {
            Value::Array(keys.iter().map(|k| key_value(k, now)).collect())
        }),
    );
    row.insert(
        "error".into(),
        if errors.is_empty() {
            Value::Null
        } else {
            json!(errors.join("; "))
        },
    );
    row
}

fn key_value(key: &KeyUse, now: SystemTime) -> Value {
    let created = key
        .key
        .create_date()
        .and_then(|d| SystemTime::try_from(*d).ok());
    let age_days = created.map(|c| unix_seconds(now).saturating_sub(unix_seconds(c)) / 86_400);
    let last_used = key.last_used.as_ref();
    // AWS answers "N/A" for the service and region of a key never used.
    let known = |text: Option<&str>| text.filter(|t| *t != "N/A").map(str::to_string);
    json!({
        "AccessKeyId": key.key.access_key_id(),
        "Status": key.key.status().map(|s| s.as_str()),
        "CreateDate": rfc3339_value(key.key.create_date()),
        "age_days": age_days,
        "LastUsedDate": rfc3339_value(last_used.and_then(|l| l.last_used_date())),
        "LastUsedService": known(last_used.map(|l| l.service_name())),
        "LastUsedRegion": known(last_used.map(|l| l.region())),
        "LastUsedAsOf": rfc3339_value(key.as_of.as_ref()),
    })
}

fn role_value(role: Result<Option<Role>>) -> Value {
    match role {
        Ok(None) => Value::Null,
        Ok(Some(role)) => {
            let managed = ManagedTags::from_tags(role.tags().iter().map(|t| (t.key(), t.value())));
            json!({
                "RoleName": role.role_name(),
                "Arn": role.arn(),
                "CreateDate": rfc3339_value(Some(role.create_date())),
                "managed": managed.is_some(),
                "version": managed.map(|m| m.version),
                "error": null,
            })
        }
        Err(error) => json!({"RoleName": ROLE_NAME, "error": error.to_string()}),
    }
}

/// The table shows each key on a few words: `AKIA... Active 3d used 2026-01-01 s3`.
fn table_row(mut row: Map<String, Value>) -> Map<String, Value> {
    if let Some(Value::Array(keys)) = row.get("keys") {
        let summaries: Vec<Value> = keys
            .iter()
            .map(|k| {
                let text = |field: &str| k[field].as_str().unwrap_or_default().to_string();
                let mut summary = format!(
                    "{} {} {}d",
                    text("AccessKeyId"),
                    text("Status"),
                    k["age_days"]
                );
                match k["LastUsedDate"].as_str() {
                    Some(date) => summary.push_str(&format!(
                        " used {} {}",
                        date.get(..10).unwrap_or(date),
                        text("LastUsedService")
                    )),
                    None => summary.push_str(" never used"),
                }
                // From the credential report: a use after its time does not show yet.
                if let Some(as_of) = k["LastUsedAsOf"].as_str() {
                    summary.push_str(&format!(" (as of {})", as_of.get(..16).unwrap_or(as_of)));
                }
                Value::String(summary.trim_end().to_string())
            })
            .collect();
        row.insert("keys".into(), Value::Array(summaries));
    }
    row
}

fn role_line(role: &Value) -> String {
    if role.is_null() {
        return format!("{ROLE_NAME} does not exist (created by the first `create --duration`)");
    }
    if let Some(error) = role["error"].as_str() {
        return format!("{ROLE_NAME}: {error}");
    }
    format!(
        "{} {} created {}{}",
        role["RoleName"].as_str().unwrap_or_default(),
        role["Arn"].as_str().unwrap_or_default(),
        role["CreateDate"].as_str().unwrap_or_default(),
        if role["managed"] == true {
            ""
        } else {
            " (not tagged by s3creds)"
        }
    )
}
