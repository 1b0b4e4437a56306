//! From the command line to the validated request types of `core::request` and `core::plan`: the one
//! place where options are parsed into domain values, input files and standard input are read, and
//! plugin presets are resolved. Every command takes its request from here.
//!
//! Cheap checks come first (bucket names and duplicates before any file is read), so the same bad
//! input gets the same error from every command.

use crate::aws::AwsOptions;
use crate::cli::{CreateArgs, PolicyOptions, RoleOptions, ServeArgs};
use crate::core::duration;
use crate::core::expiry::Expiry;
use crate::core::plan::{BoundaryChoice, CreateRequest, CredentialKind};
use crate::core::policy::{self, Access, PolicyRequest};
use crate::core::request::{self, Buckets, KeyPrefix, Scope, ServeRequest, SessionDuration};
use crate::core::role::GivenRole;
use crate::error::{Error, Result};
use crate::policy_input;
use std::time::Duration;

/// The scope (buckets + policy) from the policy options shared by every command that builds one.
pub fn scope(buckets: &[String], options: &PolicyOptions, aws: &AwsOptions) -> Result<Scope> {
    let buckets = Buckets::parse(buckets)?;
    let access = if options.read_only {
        Access::ReadOnly
    } else if options.write_only {
        Access::WriteOnly
    } else {
        Access::ReadWrite
    };
    let mut policy_request = PolicyRequest::new(buckets.names(), access);
    policy_request.prefixes = options
        .prefixes
        .iter()
        .map(|p| KeyPrefix::parse(p).map(KeyPrefix::into_string))
        .collect::<Result<_>>()?;
    // Before reading anything: standard input can serve only one option.
    policy_input::check_one_stdin(
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
        let document = policy_input::read_json(source, "--policy")?;
        if !document.is_object() {
            return Err(Error::invalid(
                "--policy: the document must be a JSON object",
            ));
        }
        policy_request.custom_policy = Some(document);
    }
    policy_request.extra_statements = options
        .statements
        .iter()
        .map(|s| policy_input::read_json(s, "--statement"))
        .collect::<Result<_>>()?;
    if let Some(region) = aws.region_hint() {
        policy_request.partition = policy::partition_for_region(&region).to_string();
    }
    // Presets last: the plugin sees the final buckets, access, prefixes and partition. With no
    // --preset this reads nothing from disk.
    let preset_statements =
        crate::plugin::resolve::preset_statements(&options.presets, &policy_request)?;
    policy_request.extra_statements.extend(preset_statements);
    Scope::new(policy_request)
}

/// `create`'s request. Nothing here calls AWS.
pub fn create(args: &CreateArgs, aws: &AwsOptions) -> Result<CreateRequest> {
    if args.expires.is_some() && args.duration.is_some() {
        return Err(Error::invalid_with_hint(
            "--expires is for permanent credentials; --duration credentials expire anyway",
            "drop --expires, or drop --duration for an IAM user whose key expires",
        ));
    }
    let mut scope = scope(&args.buckets, &args.policy, aws)?;
    if args.duration.is_none() && (args.role.role_arn.is_some() || args.role.external_id.is_some())
    {
        return Err(Error::invalid_with_hint(
            "--role-arn and --external-id need --duration: a role gives temporary credentials only",
            "add --duration 1h (15m ... 12h)",
        ));
    }
    given_role(&args.role)?;
    if let Some(text) = &args.expires {
        scope = scope.with_expiry(expiry(text)?)?;
    }
    let kind = match &args.duration {
        Some(text) => CredentialKind::Temporary {
            duration: SessionDuration::parse(text)?,
            session_name: args.username.clone(),
        },
        None => CredentialKind::Permanent {
            user_name: args.username.clone(),
            boundary: match &args.user_permissions_boundary {
                Some(text) => BoundaryChoice::parse(text)?,
                None => BoundaryChoice::Default,
            },
        },
    };
    let wait = if args.no_wait {
        Duration::ZERO
    } else {
        request::parse_wait(&args.wait_timeout)?
    };
    Ok(CreateRequest {
        scope,
        kind,
        create_buckets: args.create_bucket,
        public: args.public || args.website,
        website: args.website,
        bucket_region: args.bucket_region.clone(),
        wait,
    })
}

/// `serve`'s request (also what `profile add` checks before writing a `serve` command).
pub fn serve(args: &ServeArgs, aws: &AwsOptions) -> Result<ServeRequest> {
    let scope = scope(&args.buckets, &args.policy, aws)?;
    given_role(&args.role)?;
    let duration = SessionDuration::parse(&args.duration)?;
    let window = duration::parse_seconds(&args.refresh_window)?;
    ServeRequest::new(scope, duration, Duration::from_secs(window), !args.no_cache)
}

/// `--expires`, relative to the clock now.
pub fn expiry(text: &str) -> Result<Expiry> {
    Expiry::parse(text, std::time::SystemTime::now())
}

/// `--role-arn` / `--external-id`, validated: `None` means s3creds' own role.
pub fn given_role(options: &RoleOptions) -> Result<Option<GivenRole>> {
    GivenRole::parse(options.role_arn.as_deref(), options.external_id.as_deref())
}
