//! `s3creds policy`: print the policy `create` would use. Makes no AWS call.

use crate::aws::AwsOptions;
use crate::cli::{PolicyArgs, PolicyOptions};
use crate::error::{Error, Result};
use crate::policy::{self, Access, PolicyRequest};

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
    // Before reading anything: standard input can serve only one option.
    crate::policy_input::check_one_stdin(
        options
            .policy
            .iter()
            .map(|p| ("--policy", p.as_str()))
            .chain(
                options
                    .statements
                    .iter()
                    .map(|s| ("--statement", s.as_str())),
            ),
    )?;
    if let Some(source) = &options.policy {
        let document = crate::policy_input::read_json(source, "--policy")?;
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
        .map(|s| crate::policy_input::read_json(s, "--statement"))
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
