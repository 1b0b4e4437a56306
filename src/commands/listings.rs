//! s3-credentials' listing commands under its names and options: `list-users`, `list-roles
//! [--details]`, `list-user-policies [USERNAME...]`, `list-buckets [--details]`. Rows carry its JSON
//! keys in its order and its timestamp format (`2026-01-01 12:00:00.123456+00:00`), so scripts written
//! for it keep working; keys AWS did not return are left out, as boto3 leaves them out.

use crate::aws::inventory::{self, AttachedPolicyDetails, BucketDetails};
use crate::aws::{AwsClients, AwsOptions};
use crate::cli::{ListBucketsArgs, ListRolesArgs, ListUserPoliciesArgs, ListUsersArgs};
use crate::error::{Error, Result};
use crate::listing_output::{python_value as date, Listing};
use crate::output::{pretty_json, write_stdout};
use aws_sdk_iam::types::{Role, Tag, User};
use futures::{StreamExt, TryStreamExt};
use serde_json::{json, Map, Value};

/// Details are read for this many roles, users or buckets at once.
const CONCURRENCY: usize = inventory::DEFAULT_CONCURRENCY;

const USER_COLUMNS: [&str; 8] = [
    "UserName",
    "UserId",
    "Arn",
    "Path",
    "CreateDate",
    "PasswordLastUsed",
    "PermissionsBoundary",
    "Tags",
];

const ROLE_COLUMNS: [&str; 11] = [
    "Path",
    "RoleName",
    "RoleId",
    "Arn",
    "CreateDate",
    "AssumeRolePolicyDocument",
    "Description",
    "MaxSessionDuration",
    "PermissionsBoundary",
    "Tags",
    "RoleLastUsed",
];

pub fn list_users(args: &ListUsersArgs, aws_options: &AwsOptions) -> Result<()> {
    let format = args.output.resolve();
    let users = with_clients(aws_options, |aws| async move {
        inventory::list_users(&aws).await
    })?;
    let rows = users.iter().map(user_value).collect();
    write_stdout(&Listing::new(&USER_COLUMNS, rows).render(format))
}

pub fn list_roles(args: &ListRolesArgs, aws_options: &AwsOptions) -> Result<()> {
    let format = args.output.resolve();
    let rows = with_clients(aws_options, |aws| async move {
        let roles: Vec<Role> = inventory::list_roles(&aws)
            .await?
            .into_iter()
            .filter(|r| {
                args.role_names.is_empty() || args.role_names.iter().any(|n| n == r.role_name())
            })
            .collect();
        let aws = &aws;
        futures::stream::iter(roles)
            .map(|role| async move {
                let mut row = role_value(&role)?;
                if args.details {
                    let name = role.role_name();
                    let (inline, attached) = futures::join!(
                        inventory::role_policies(aws, name),
                        inventory::attached_role_policies(aws, name)
                    );
                    let inline: Vec<Value> = inline?
                        .into_iter()
                        .map(|(policy, document)| {
                            json!({"RoleName": name, "PolicyName": policy, "PolicyDocument": document})
                        })
                        .collect();
                    row.insert("inline_policies".into(), Value::Array(inline));
                    let attached = attached?.iter().map(attached_value).collect();
                    row.insert("attached_policies".into(), Value::Array(attached));
                }
                Ok::<_, Error>(row)
            })
            .buffered(CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await
    })?;
    let mut columns = ROLE_COLUMNS.to_vec();
    if args.details {
        columns.extend(["inline_policies", "attached_policies"]);
    }
    write_stdout(&Listing::new(&columns, rows).render(format))
}

pub fn list_user_policies(args: &ListUserPoliciesArgs, aws_options: &AwsOptions) -> Result<()> {
    // Everything is read before anything is printed: an unknown user is one error, not half a list.
    let policies = with_clients(aws_options, |aws| async move {
        let names: Vec<String> = if args.usernames.is_empty() {
            inventory::list_users(&aws)
                .await?
                .iter()
                .map(|u| u.user_name().to_string())
                .collect()
        } else {
            args.usernames.clone()
        };
        let aws = &aws;
        futures::stream::iter(names)
            .map(|name| async move {
                let policies = inventory::user_policies(aws, &name).await?;
                Ok::<_, Error>((name, policies))
            })
            .buffered(CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await
    })?;
    let Some(format) = args.output.chosen() else {
        // s3-credentials' own text.
        let mut out = String::new();
        for (user, policies) in &policies {
            out.push_str(&format!("User: {user}\n"));
            for (name, document) in policies {
                out.push_str(&format!("PolicyName: {name}\n{}\n", pretty_json(document)));
            }
        }
        return write_stdout(&out);
    };
    let rows = policies
        .into_iter()
        .flat_map(|(user, policies)| {
            policies.into_iter().map(move |(name, document)| {
                object(json!({"UserName": user, "PolicyName": name, "PolicyDocument": document}))
            })
        })
        .collect();
    let columns = ["UserName", "PolicyName", "PolicyDocument"];
    write_stdout(&Listing::new(&columns, rows).render(format))
}

pub fn list_buckets(args: &ListBucketsArgs, aws_options: &AwsOptions) -> Result<()> {
    let format = args.output.resolve();
    let rows = with_clients(aws_options, |aws| async move {
        let buckets: Vec<_> = inventory::list_buckets(&aws)
            .await?
            .into_iter()
            .filter(|b| {
                args.buckets.is_empty() || args.buckets.iter().any(|n| Some(n.as_str()) == b.name())
            })
            .collect();
        let aws = &aws;
        futures::stream::iter(buckets)
            .map(|bucket| async move {
                let mut row = Map::new();
                row.insert("Name".into(), json!(bucket.name()));
                row.insert("CreationDate".into(), date(bucket.creation_date()));
                if let Some(region) = bucket.bucket_region() {
                    row.insert("BucketRegion".into(), json!(region));
                }
                if args.details {
                    let name = bucket.name().unwrap_or_default();
                    let details = inventory::bucket_details(aws, name).await?;
                    add_bucket_details(&mut row, name, &details);
                }
                Ok::<_, Error>(row)
            })
            .buffered(CONCURRENCY)
            .try_collect::<Vec<_>>()
            .await
    })?;
    let mut columns = vec!["Name", "CreationDate"];
    if args.details {
        columns.extend(["bucket_acl", "public_access_block", "bucket_website"]);
    }
    write_stdout(&Listing::new(&columns, rows).render(format))
}

/// Load the clients and run `work` on the one runtime.
fn with_clients<T, F, Fut>(aws_options: &AwsOptions, work: F) -> Result<T>
where
    F: FnOnce(AwsClients) -> Fut,
    Fut: std::future::Future<Output = Result<T>>,
{
    crate::aws::block_on(async {
        let aws = AwsClients::load(aws_options).await?;
        work(aws).await
    })?
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Insert `key` only when AWS returned a value (boto3 leaves absent members out).
fn put(row: &mut Map<String, Value>, key: &str, value: Value) {
    if !value.is_null() {
        row.insert(key.into(), value);
    }
}

fn tags_value(tags: Option<&[Tag]>) -> Value {
    tags.map_or(Value::Null, |tags| {
        tags.iter()
            .map(|t| json!({"Key": t.key(), "Value": t.value()}))
            .collect()
    })
}

fn boundary_value(boundary: Option<&aws_sdk_iam::types::AttachedPermissionsBoundary>) -> Value {
    boundary.map_or(Value::Null, |b| {
        let mut map = Map::new();
        put(
            &mut map,
            "PermissionsBoundaryType",
            json!(b.permissions_boundary_type().map(|t| t.as_str())),
        );
        put(
            &mut map,
            "PermissionsBoundaryArn",
            json!(b.permissions_boundary_arn()),
        );
        Value::Object(map)
    })
}

fn user_value(user: &User) -> Map<String, Value> {
    let mut row = Map::new();
    row.insert("Path".into(), json!(user.path()));
    row.insert("UserName".into(), json!(user.user_name()));
    row.insert("UserId".into(), json!(user.user_id()));
    row.insert("Arn".into(), json!(user.arn()));
    row.insert("CreateDate".into(), date(Some(user.create_date())));
    put(
        &mut row,
        "PasswordLastUsed",
        date(user.password_last_used()),
    );
    put(
        &mut row,
        "PermissionsBoundary",
        boundary_value(user.permissions_boundary()),
    );
    put(&mut row, "Tags", tags_value(user.tags.as_deref()));
    row
}

fn role_value(role: &Role) -> Result<Map<String, Value>> {
    let mut row = Map::new();
    row.insert("Path".into(), json!(role.path()));
    row.insert("RoleName".into(), json!(role.role_name()));
    row.insert("RoleId".into(), json!(role.role_id()));
    row.insert("Arn".into(), json!(role.arn()));
    row.insert("CreateDate".into(), date(Some(role.create_date())));
    let trust = role
        .assume_role_policy_document()
        .map(inventory::policy_document)
        .transpose()?;
    put(&mut row, "AssumeRolePolicyDocument", json!(trust));
    put(&mut row, "Description", json!(role.description()));
    put(
        &mut row,
        "MaxSessionDuration",
        json!(role.max_session_duration()),
    );
    put(
        &mut row,
        "PermissionsBoundary",
        boundary_value(role.permissions_boundary()),
    );
    put(&mut row, "Tags", tags_value(role.tags.as_deref()));
    if let Some(last_used) = role.role_last_used() {
        let mut map = Map::new();
        put(&mut map, "LastUsedDate", date(last_used.last_used_date()));
        put(&mut map, "Region", json!(last_used.region()));
        row.insert("RoleLastUsed".into(), Value::Object(map));
    }
    Ok(row)
}

fn attached_value(details: &AttachedPolicyDetails) -> Value {
    let policy = &details.policy;
    let mut map = Map::new();
    put(&mut map, "PolicyName", json!(policy.policy_name()));
    put(&mut map, "PolicyId", json!(policy.policy_id()));
    put(&mut map, "Arn", json!(policy.arn()));
    put(&mut map, "Path", json!(policy.path()));
    put(
        &mut map,
        "DefaultVersionId",
        json!(policy.default_version_id()),
    );
    put(
        &mut map,
        "AttachmentCount",
        json!(policy.attachment_count()),
    );
    put(
        &mut map,
        "PermissionsBoundaryUsageCount",
        json!(policy.permissions_boundary_usage_count()),
    );
    put(&mut map, "IsAttachable", json!(policy.is_attachable()));
    put(&mut map, "Description", json!(policy.description()));
    put(&mut map, "CreateDate", date(policy.create_date()));
    put(&mut map, "UpdateDate", date(policy.update_date()));
    put(&mut map, "Tags", tags_value(policy.tags.as_deref()));
    if let Some(version) = &details.version {
        let mut v = Map::new();
        put(&mut v, "Document", json!(details.document));
        put(&mut v, "VersionId", json!(version.version_id()));
        v.insert(
            "IsDefaultVersion".into(),
            json!(version.is_default_version()),
        );
        put(&mut v, "CreateDate", date(version.create_date()));
        map.insert("PolicyVersion".into(), Value::Object(v));
    }
    Value::Object(map)
}

fn add_bucket_details(row: &mut Map<String, Value>, name: &str, details: &BucketDetails) {
    row.insert("region".into(), json!(details.region));
    let mut acl = Map::new();
    if let Some(owner) = details.acl.owner() {
        let mut map = Map::new();
        put(&mut map, "DisplayName", json!(owner.display_name()));
        put(&mut map, "ID", json!(owner.id()));
        acl.insert("Owner".into(), Value::Object(map));
    }
    let grants: Vec<Value> = details
        .acl
        .grants()
        .iter()
        .map(|grant| {
            let mut map = Map::new();
            if let Some(grantee) = grant.grantee() {
                let mut g = Map::new();
                put(&mut g, "DisplayName", json!(grantee.display_name()));
                put(&mut g, "EmailAddress", json!(grantee.email_address()));
                put(&mut g, "ID", json!(grantee.id()));
                g.insert("Type".into(), json!(grantee.r#type().as_str()));
                put(&mut g, "URI", json!(grantee.uri()));
                map.insert("Grantee".into(), Value::Object(g));
            }
            put(
                &mut map,
                "Permission",
                json!(grant.permission().map(|p| p.as_str())),
            );
            Value::Object(map)
        })
        .collect();
    acl.insert("Grants".into(), Value::Array(grants));
    row.insert("bucket_acl".into(), Value::Object(acl));
    let block = details.public_access_block.as_ref().map(|b| {
        json!({
            "BlockPublicAcls": b.block_public_acls(),
            "IgnorePublicAcls": b.ignore_public_acls(),
            "BlockPublicPolicy": b.block_public_policy(),
            "RestrictPublicBuckets": b.restrict_public_buckets(),
        })
    });
    row.insert("public_access_block".into(), json!(block));
    let website = details.website.as_ref().map(|w| {
        let mut map = Map::new();
        if let Some(index) = w.index_document() {
            map.insert("IndexDocument".into(), json!({"Suffix": index.suffix()}));
        }
        if let Some(error) = w.error_document() {
            map.insert("ErrorDocument".into(), json!({"Key": error.key()}));
        }
        if let Some(redirect) = w.redirect_all_requests_to() {
            let mut r = Map::new();
            r.insert("HostName".into(), json!(redirect.host_name()));
            put(
                &mut r,
                "Protocol",
                json!(redirect.protocol().map(|p| p.as_str())),
            );
            map.insert("RedirectAllRequestsTo".into(), Value::Object(r));
        }
        map.insert(
            "url".into(),
            json!(crate::core::plan::website_url(name, &details.region)),
        );
        Value::Object(map)
    });
    row.insert("bucket_website".into(), json!(website));
}
