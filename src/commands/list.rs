//! `s3creds list`: the IAM users s3creds manages (`--all`: every user), one row each, and the role
//! temporary credentials come from.
//!
//! Calls: ListUsers and GetRole side by side; then per user, `--concurrency` users at a time:
//! ListUserTags (to skip users s3creds does not manage; with `--all` it runs beside the rest), then
//! ListUserPolicies + one GetUserPolicy per policy, beside ListAccessKeys + one GetAccessKeyLastUsed
//! per key. A managed user with one policy and one key costs five calls. A user whose reads fail
//! shows the error in its row; only a failing ListUsers fails the command.

use crate::aws::inventory::{self, KeyUse};
use crate::aws::{AwsClients, AwsOptions};
use crate::cli::ListArgs;
use crate::core::plan::ROLE_NAME;
use crate::core::policy_reading::{read_policies, PolicyReading};
use crate::core::tags::ManagedTags;
use crate::core::time::{rfc3339, unix_seconds};
use crate::error::Result;
use crate::listing_output::{indented_json, rfc3339_value, Listing, ListingFormat};
use crate::output::write_stdout;
use aws_sdk_iam::types::{Role, User};
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

pub fn run(args: &ListArgs, aws_options: &AwsOptions) -> Result<()> {
    let format = args.output.resolve();
    let now = SystemTime::now();
    let (rows, role) = crate::aws::block_on(async {
        let aws = AwsClients::load(aws_options).await?;
        let (users, role) = futures::join!(
            inventory::list_users(&aws),
            inventory::get_role(&aws, ROLE_NAME)
        );
        let rows: Vec<Map<String, Value>> = futures::stream::iter(users?)
            .map(|user| user_row(&aws, user, args.all, now))
            .buffered(args.concurrency)
            .filter_map(|row| async move { row })
            .collect()
            .await;
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

/// One user's row, or None for a user s3creds does not manage (unless `--all`).
async fn user_row(
    aws: &AwsClients,
    user: User,
    all: bool,
    now: SystemTime,
) -> Option<Map<String, Value>> {
    let name = user.user_name();
    let (tags, policies, keys) = if all {
        futures::join!(
            inventory::user_tags(aws, name),
            inventory::user_policies(aws, name),
            inventory::access_keys(aws, name)
        )
    } else {
        let tags = inventory::user_tags(aws, name).await;
        let unmanaged = tags.as_ref().is_ok_and(|tags| managed(tags).is_none());
        if unmanaged {
            return None;
        }
        let (policies, keys) = futures::join!(
            inventory::user_policies(aws, name),
            inventory::access_keys(aws, name)
        );
        (tags, policies, keys)
    };
    let mut errors = Vec::new();
    let tags = tags
        .map(|tags| managed(&tags))
        .map_err(|e| errors.push(e.to_string()))
        .ok();
    let reading = policies
        .map(|policies| {
            let documents: Vec<Value> = policies.into_iter().map(|(_, d)| d).collect();
            read_policies(&documents)
        })
        .map_err(|e| errors.push(e.to_string()))
        .ok();
    let keys = keys.map_err(|e| errors.push(e.to_string())).ok();
    Some(row(&user, tags, reading, keys, errors, now))
}

fn managed(tags: &[(String, String)]) -> Option<ManagedTags> {
    ManagedTags::from_tags(tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// `tags`: None when they could not be read; Some(None) for an unmanaged user.
fn row(
    user: &User,
    tags: Option<Option<ManagedTags>>,
    reading: Option<PolicyReading>,
    keys: Option<Vec<KeyUse>>,
    errors: Vec<String>,
    now: SystemTime,
) -> Map<String, Value> {
    let tag_expiry = tags.as_ref().and_then(|t| t.as_ref()?.expires.clone());
    // The policy condition is what AWS enforces; the tag is what `create` recorded.
    let expires = reading
        .as_ref()
        .and_then(|r| r.expires.clone())
        .or(tag_expiry);
    let expired = expires
        .as_ref()
        .and_then(|e| Some(rfc3339(now).ok()? >= *e));
    let mut row = Map::new();
    row.insert("UserName".into(), json!(user.user_name()));
    row.insert("Arn".into(), json!(user.arn()));
    row.insert("CreateDate".into(), rfc3339_value(Some(user.create_date())));
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
