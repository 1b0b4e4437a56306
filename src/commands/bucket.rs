//! The Python tool's bucket commands: list-bucket, get/set-bucket-policy, get/set-public-access-block,
//! get/set-cors-policy, debug-bucket. JSON output has the Python tool's keys and indentation.

use crate::aws::objects::bucket as s3bucket;
use crate::aws::objects::list_objects;
use crate::aws::{block_on, AwsClients, AwsOptions};
use crate::cli::{
    BucketArgs, CredentialArgs, ListBucketArgs, SetBucketPolicyArgs, SetCorsPolicyArgs,
    SetPublicAccessBlockArgs,
};
use crate::core::objects::{
    allow_all_get_policy, cors_rule, csv_field, python_datetime, PublicAccessBlock,
    PublicAccessBlockChange,
};
use crate::core::request::BucketName;
use crate::error::{Error, Result};
use crate::output::{pretty_json, write_stdout};
use serde_json::{json, Map, Value};

/// The S3 client for these commands, after the bucket name and the credentials are checked (both
/// before any AWS call).
pub(crate) fn s3_client(
    bucket: &str,
    credentials: &CredentialArgs,
    aws: &AwsOptions,
) -> Result<aws_sdk_s3::Client> {
    BucketName::parse(bucket)?;
    let static_credentials = crate::auth_input::resolve(credentials)?;
    let clients = block_on(AwsClients::load_with_credentials(aws, static_credentials))??;
    Ok(clients.s3)
}

pub fn list_bucket(args: &ListBucketArgs, aws: &AwsOptions) -> Result<()> {
    let s3 = s3_client(&args.bucket, &args.credentials, aws)?;
    let objects = block_on(list_objects(&s3, &args.bucket, args.prefix.as_deref()))??;
    let items: Vec<Value> = objects
        .iter()
        .map(|object| object_json(object, &args.bucket, args.urls))
        .collect();
    let text = if args.nl {
        items.iter().map(|i| python_compact(i) + "\n").collect()
    } else if args.csv || args.tsv {
        let delimiter = if args.tsv { '\t' } else { ',' };
        let mut fields = vec![
            "Key",
            "LastModified",
            "ETag",
            "Size",
            "StorageClass",
            "Owner",
        ];
        if args.urls {
            fields.push("URL");
        }
        let mut text = table_row(fields.iter().map(|f| f.to_string()), delimiter);
        for item in &items {
            text += &table_row(
                fields.iter().map(|f| match &item[*f] {
                    Value::Null => String::new(),
                    Value::String(s) => s.clone(),
                    // As the Python tool: nested values as indented JSON.
                    nested @ (Value::Object(_) | Value::Array(_)) => indented(nested, 2),
                    other => other.to_string(),
                }),
                delimiter,
            );
        }
        text
    } else {
        format!("{}\n", indented(&Value::Array(items), 2))
    };
    write_stdout(&text)
}

fn table_row(values: impl Iterator<Item = String>, delimiter: char) -> String {
    let fields: Vec<String> = values.map(|v| csv_field(&v, delimiter)).collect();
    format!("{}\r\n", fields.join(&delimiter.to_string()))
}

/// One listed object as boto3 returns it (shape order, present fields only), plus URL with --urls.
fn object_json(object: &aws_sdk_s3::types::Object, bucket: &str, urls: bool) -> Value {
    let mut item = Map::new();
    let key = object.key().unwrap_or_default();
    item.insert("Key".into(), json!(key));
    if let Some(time) = object.last_modified() {
        item.insert(
            "LastModified".into(),
            json!(python_datetime(time.secs(), time.subsec_nanos())),
        );
    }
    if let Some(etag) = object.e_tag() {
        item.insert("ETag".into(), json!(etag));
    }
    if !object.checksum_algorithm().is_empty() {
        let names: Vec<&str> = object
            .checksum_algorithm()
            .iter()
            .map(|a| a.as_str())
            .collect();
        item.insert("ChecksumAlgorithm".into(), json!(names));
    }
    if let Some(kind) = object.checksum_type() {
        item.insert("ChecksumType".into(), json!(kind.as_str()));
    }
    if let Some(size) = object.size() {
        item.insert("Size".into(), json!(size));
    }
    if let Some(class) = object.storage_class() {
        item.insert("StorageClass".into(), json!(class.as_str()));
    }
    if let Some(owner) = object.owner() {
        let mut o = Map::new();
        if let Some(name) = owner.display_name() {
            o.insert("DisplayName".into(), json!(name));
        }
        if let Some(id) = owner.id() {
            o.insert("ID".into(), json!(id));
        }
        item.insert("Owner".into(), Value::Object(o));
    }
    if urls {
        item.insert(
            "URL".into(),
            json!(crate::core::objects::object_url(bucket, key)),
        );
    }
    Value::Object(item)
}

/// JSON indented by `indent` spaces, as Python's `json.dumps(indent=...)`.
fn indented(value: &Value, indent: usize) -> String {
    use serde::Serialize;
    let spaces = vec![b' '; indent];
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(&spaces);
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut serializer)
        .expect("a serde_json::Value always serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// One line as Python's `json.dumps(item)`: `{"a": 1, "b": [2, 3]}`.
fn python_compact(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| format!("{}: {}", Value::String(k.clone()), python_compact(v)))
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(python_compact).collect();
            format!("[{}]", items.join(", "))
        }
        scalar => scalar.to_string(),
    }
}

pub fn get_bucket_policy(args: &BucketArgs, aws: &AwsOptions) -> Result<()> {
    let s3 = s3_client(&args.bucket, &args.credentials, aws)?;
    let policy = block_on(s3bucket::get_policy(&s3, &args.bucket))??;
    write_stdout(&format!("{}\n", pretty_json(&policy)))
}

pub fn set_bucket_policy(args: &SetBucketPolicyArgs, aws: &AwsOptions) -> Result<()> {
    BucketName::parse(&args.bucket)?;
    // The policy is read and checked before any AWS call.
    let policy = match (&args.policy_file, args.allow_all_get) {
        (Some(source), _) => read_policy_file(source)?,
        (None, true) => allow_all_get_policy(&args.bucket),
        (None, false) => {
            return Err(Error::invalid_with_hint(
                "set-bucket-policy needs --policy-file FILE or --allow-all-get",
                "--policy-file - reads the policy from standard input",
            ))
        }
    };
    let s3 = s3_client(&args.bucket, &args.credentials, aws)?;
    block_on(async {
        s3bucket::require_bucket(&s3, &args.bucket).await?;
        s3bucket::put_policy(&s3, &args.bucket, &policy).await
    })??;
    eprintln!("Policy set:\n{}", pretty_json(&policy));
    if args.allow_all_get {
        eprintln!(
            "warning: anyone on the internet can now read every object in {} \
             (s3:GetObject for Principal *), if its public access block allows public policies",
            args.bucket
        );
    }
    Ok(())
}

/// `--policy-file FILE|-`: bounded read, strict JSON, an object with a Statement.
fn read_policy_file(source: &str) -> Result<Value> {
    let origin = format!("--policy-file {source:?}");
    let text = if source == "-" {
        crate::policy_input::read_bounded(std::io::stdin().lock(), &origin)?
    } else {
        let file = std::fs::File::open(source)
            .map_err(|e| Error::invalid(format!("{origin}: cannot read the file: {e}")))?;
        crate::policy_input::read_bounded(file, &origin)?
    };
    let policy = crate::policy_input::parse_json(&text, &origin)?;
    if !policy.is_object() || policy.get("Statement").is_none() {
        return Err(Error::invalid_with_hint(
            format!("{origin}: not a policy document"),
            "a bucket policy is a JSON object with \"Version\" and \"Statement\"",
        ));
    }
    Ok(policy)
}

pub fn get_public_access_block(args: &BucketArgs, aws: &AwsOptions) -> Result<()> {
    let s3 = s3_client(&args.bucket, &args.credentials, aws)?;
    match block_on(s3bucket::get_public_access_block(&s3, &args.bucket))?? {
        Some(settings) => write_stdout(&format!("{}\n", pretty_json(&settings.to_json()))),
        None => Err(Error::aws(
            "GetPublicAccessBlock",
            format!(
                "NoSuchPublicAccessBlockConfiguration: bucket {:?} has no public access block",
                args.bucket
            ),
        )),
    }
}

pub fn set_public_access_block(args: &SetPublicAccessBlockArgs, aws: &AwsOptions) -> Result<()> {
    BucketName::parse(&args.bucket)?;
    let change = if args.allow_public_access {
        PublicAccessBlockChange::allow_public_access()
    } else {
        PublicAccessBlockChange {
            block_public_acls: args.block_public_acls,
            ignore_public_acls: args.ignore_public_acls,
            block_public_policy: args.block_public_policy,
            restrict_public_buckets: args.restrict_public_buckets,
        }
    };
    if change.is_empty() {
        return Err(Error::invalid_with_hint(
            "no setting given",
            "pass --block-public-acls, --ignore-public-acls, --block-public-policy, \
             --restrict-public-buckets (true/false) or --allow-public-access",
        ));
    }
    let s3 = s3_client(&args.bucket, &args.credentials, aws)?;
    let (before, after) = block_on(async {
        s3bucket::require_bucket(&s3, &args.bucket).await?;
        let before = s3bucket::get_public_access_block(&s3, &args.bucket)
            .await?
            .unwrap_or_default();
        let after = change.apply_to(before);
        s3bucket::put_public_access_block(&s3, &args.bucket, after).await?;
        Ok::<_, Error>((before, after))
    })??;
    eprintln!(
        "Updated public access block settings for bucket '{}': {}",
        args.bucket,
        after.to_json()
    );
    let opened = PublicAccessBlock::what_opens_up(before, after);
    if args.allow_public_access || !opened.is_empty() {
        eprintln!(
            "warning: this opens bucket {} to public access:",
            args.bucket
        );
        for line in opened {
            eprintln!("  - {line}");
        }
        if after == PublicAccessBlock::default() {
            eprintln!(
                "  - nothing in the bucket's public access block stops public ACLs or policies now"
            );
        }
    }
    Ok(())
}

pub fn get_cors_policy(args: &BucketArgs, aws: &AwsOptions) -> Result<()> {
    let s3 = s3_client(&args.bucket, &args.credentials, aws)?;
    let rules = block_on(s3bucket::get_cors(&s3, &args.bucket))??;
    write_stdout(&format!("{}\n", pretty_json(&rules)))
}

pub fn set_cors_policy(args: &SetCorsPolicyArgs, aws: &AwsOptions) -> Result<()> {
    BucketName::parse(&args.bucket)?;
    let rule = cors_rule(
        &args.allowed_methods,
        &args.allowed_headers,
        &args.allowed_origins,
        &args.expose_headers,
        args.max_age_seconds,
    )?;
    let s3 = s3_client(&args.bucket, &args.credentials, aws)?;
    block_on(async {
        s3bucket::require_bucket(&s3, &args.bucket).await?;
        s3bucket::put_cors(&s3, &args.bucket, &rule).await
    })??;
    Ok(())
}

/// ACL, policy status and public access block in one report, each section independent: one that
/// fails is reported and the others still print. Exit non-zero only when every section failed.
pub fn debug_bucket(args: &BucketArgs, aws: &AwsOptions) -> Result<()> {
    let s3 = s3_client(&args.bucket, &args.credentials, aws)?;
    let (acl, status, block) = block_on(async {
        futures::join!(
            s3bucket::get_acl(&s3, &args.bucket),
            s3bucket::get_policy_status(&s3, &args.bucket),
            s3bucket::get_public_access_block(&s3, &args.bucket),
        )
    })?;
    let block = block.map(|b| match b {
        Some(settings) => json!({"PublicAccessBlockConfiguration": settings.to_json()}),
        None => json!({"PublicAccessBlockConfiguration": null}),
    });
    let mut text = String::new();
    let mut first_error = None;
    let mut failures = 0;
    for (title, what, result) in [
        ("Bucket ACL:", "bucket ACL", acl),
        ("Bucket policy status:", "bucket policy status", status),
        (
            "Bucket public access block:",
            "bucket public access block",
            block,
        ),
    ] {
        match result {
            Ok(value) => text += &format!("{title}\n{}\n", pretty_json(&value)),
            Err(error) => {
                text += &format!("Error checking {what}: {error}\n");
                failures += 1;
                first_error.get_or_insert(error);
            }
        }
    }
    write_stdout(&text)?;
    match first_error {
        Some(error) if failures == 3 => Err(error),
        _ => Ok(()),
    }
}
