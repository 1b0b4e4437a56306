//! `s3creds policy`: print the policy `create` would use. Makes no AWS call.

use crate::aws::AwsOptions;
use crate::cli::{PolicyArgs, PolicyOptions};
use crate::error::{Error, Result};
use crate::policy::{self, Access, PolicyRequest};
use std::io::Read;

pub fn run(args: &PolicyArgs, aws: &AwsOptions) -> Result<()> {
    let request = policy_request(&args.buckets, &args.policy, aws)?;
    let document = request.document()?;
    crate::write_stdout(&format!("{}\n", crate::output::pretty_json(&document)))
}

/// Validate the policy options into a [`PolicyRequest`]. Shared by every command that builds a policy.
pub fn policy_request(
    buckets: &[String],
    options: &PolicyOptions,
    aws: &AwsOptions,
) -> Result<PolicyRequest> {
    for bucket in buckets {
        crate::names::validate_bucket_name(bucket)?;
    }
    let access = if options.read_only {
        Access::ReadOnly
    } else if options.write_only {
        Access::WriteOnly
    } else {
        Access::ReadWrite
    };
    let mut request = PolicyRequest::new(buckets.to_vec(), access);
    request.prefixes = options
        .prefixes
        .iter()
        .map(|p| policy::normalize_prefix(p))
        .collect::<Result<_>>()?;
    if let Some(source) = &options.policy {
        let text = read_policy_source(source)?;
        let document = policy::parse_json(&text, "--policy")?;
        if !document.is_object() {
            return Err(Error::invalid(
                "--policy: the document must be a JSON object",
            ));
        }
        request.custom_policy = Some(document);
    }
    request.extra_statements = options
        .statements
        .iter()
        .map(|s| policy::parse_json(s, "--statement"))
        .collect::<Result<_>>()?;
    if let Some(region) = aws.region_hint() {
        request.partition = policy::partition_for_region(&region).to_string();
    }
    // Presets last: the plugin sees the final buckets, access, prefixes and partition. With no
    // --preset this reads nothing from disk.
    let preset_statements = crate::plugin::resolve::preset_statements(&options.presets, &request)?;
    request.extra_statements.extend(preset_statements);
    // Generate once now so every problem in the documents is reported before any AWS call.
    request.document()?;
    Ok(request)
}

/// `--policy` takes `-` (standard input), a literal JSON document, or a file path, as upstream does.
fn read_policy_source(source: &str) -> Result<String> {
    if source == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::invalid(format!("--policy -: cannot read standard input: {e}")))?;
        return Ok(text);
    }
    if source.trim_start().starts_with('{') {
        return Ok(source.to_string());
    }
    std::fs::read_to_string(source).map_err(|e| {
        Error::invalid_with_hint(
            format!("--policy {source:?}: cannot read the file: {e}"),
            "pass a file path, a JSON document starting with '{', or - for standard input",
        )
    })
}
