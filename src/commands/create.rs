//! `s3creds create`: validate, plan, then (unless --dry-run) apply and print the credentials.

use crate::apply::{apply, Progress};
use crate::aws::{AwsClients, AwsOptions};
use crate::cli::{CreateArgs, PlanFormat};
use crate::duration;
use crate::error::Result;
use crate::plan::{self, BoundaryChoice, CreateRequest, CredentialKind};
use crate::plugin::resolve::CredentialFormat;
use std::time::Duration;

pub async fn run(args: &CreateArgs, aws_options: &AwsOptions) -> Result<()> {
    let request = create_request(args, aws_options)?;
    // Resolved before anything is created: an unknown or broken format plugin must not leave behind
    // credentials nobody can see.
    let format = CredentialFormat::resolve(&args.format)?;
    let plan = plan::plan(&request)?;
    match args.dry_run {
        Some(PlanFormat::Text) => return crate::write_stdout(&plan::render_text(&plan)),
        Some(PlanFormat::Json) => {
            let json = serde_json::to_value(&plan)
                .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
            return crate::write_stdout(&format!("{}\n", crate::output::pretty_json(&json)));
        }
        None => {}
    }
    let aws = AwsClients::load(aws_options).await?;
    let progress = Progress {
        silent: args.silent,
    };
    let credentials = apply(&plan, &aws, progress).await?.credentials;
    let text = format.render(&credentials).map_err(|error| {
        error.with_hint(format!(
            "credentials {} were issued but could not be formatted; delete them, or run again \
             with --format json",
            credentials.access_key_id()
        ))
    })?;
    crate::write_stdout(&text).map_err(|error| {
        // The secret is shown only once: if it could not be written, say which key to delete.
        error.with_hint(format!(
            "credentials {} were issued but could not be printed; delete them and run again",
            credentials.access_key_id()
        ))
    })
}

/// Turn the command line into a validated request. Nothing here calls AWS.
pub fn create_request(args: &CreateArgs, aws_options: &AwsOptions) -> Result<CreateRequest> {
    let policy = crate::commands::policy::policy_request(&args.buckets, &args.policy, aws_options)?;
    let kind = match &args.duration {
        Some(text) => CredentialKind::Temporary {
            duration: duration::parse_session_duration(text)?,
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
        Duration::from_secs(duration::parse_seconds(&args.wait_timeout)?)
    };
    Ok(CreateRequest {
        policy,
        kind,
        create_buckets: args.create_bucket,
        public: args.public || args.website,
        website: args.website,
        bucket_region: args.bucket_region.clone(),
        wait,
    })
}
