//! `s3creds serve`: an AWS `credential_process` helper. Prints scoped temporary credentials as the
//! credential_process JSON: request -> cache key -> `CredentialCache::get_or_fetch` -> print.
//!
//! The cache-hit path reads no AWS configuration file, starts no async runtime and makes no network
//! call: it is one keyring read.

use crate::aws::apply::{apply, Progress};
use crate::aws::{AwsClients, AwsOptions};
use crate::cache::{CacheKey, CredentialCache, Fetched, Source};
use crate::cli::ServeArgs;
use crate::core::plan::{self, ROLE_NAME};
use crate::core::request::ServeRequest;
use crate::credentials::IssuedCredentials;
use crate::error::{Error, Result};
use crate::output::{process_json, write_stdout};
use std::time::Duration;

/// How long `serve` waits for a role it just created to become assumable.
const NEW_ROLE_PATIENCE: Duration = Duration::from_secs(30);

pub fn run(args: &ServeArgs, aws_options: &AwsOptions) -> Result<()> {
    if crate::env::is_set(crate::env::SERVING_MARKER) {
        return Err(Error::invalid_with_hint(
            "s3creds serve was started by s3creds serve: the source profile's credentials come from \
             s3creds itself",
            "give `serve` a --profile whose credentials are not a credential_process running s3creds",
        ));
    }
    // Still single-threaded here: setting the environment cannot race with a reader. Anything this
    // process starts (aws-config running the source profile's credential_process) inherits it.
    std::env::set_var(crate::env::SERVING_MARKER, "1");
    let request = crate::request::serve(args, aws_options)?;
    let source = Source::from_environment(
        aws_options.profile.as_deref(),
        aws_options.endpoint_url.as_deref(),
        aws_options.region.as_deref(),
    );
    let key = CacheKey::new(&source, ROLE_NAME, &request);
    let cache = CredentialCache::open(request.use_cache);
    // A helper already fetching finishes (or fails) within this bound, so waiting for it as long is
    // enough.
    let fetch_bound = crate::aws::timeouts::Timeouts::resolve(aws_options)?.serve_total();
    let credentials = cache.get_or_fetch(
        &key,
        request.refresh_window,
        fetch_bound,
        |remembered_role| fetch(&request, aws_options, remembered_role, fetch_bound),
    )?;
    // Said only once credentials are in hand: a failing serve prints exactly one line, its error.
    cache.report_notice();
    write_stdout(&format!("{}\n", process_json(&credentials)?))
}

/// One AssumeRole with the remembered role (beside HeadBucket for every bucket, so a request gets the
/// same verdict whatever the cache knows). If that fails (role deleted, trust changed), the role is
/// looked up, created if needed, and assumed once more.
fn fetch(
    request: &ServeRequest,
    aws_options: &AwsOptions,
    remembered_role: Option<String>,
    total: Duration,
) -> Result<Fetched> {
    let session_name = request.session_name();
    // Each AWS call has its own bounds; `total` bounds them all together, so that an SDK waiting on
    // this helper gets an answer before it gives up on it.
    let work = async {
        let aws = AwsClients::load(aws_options).await?;
        let silent = Progress { silent: true };
        if let Some(role_arn) = &remembered_role {
            let warm = plan::session_plan(
                &request.scope,
                request.duration,
                &session_name,
                Some(role_arn),
                Duration::ZERO,
            )?;
            match apply(&warm, &aws, silent).await {
                Ok(applied) => return fetched(applied),
                // A bucket problem is the request's, not the role's: the same verdict as cold.
                Err(failed) if failed.action == "HeadBucket" => return Err(failed.error),
                Err(_) => {}
            }
        }
        let cold = plan::session_plan(
            &request.scope,
            request.duration,
            &session_name,
            None,
            NEW_ROLE_PATIENCE,
        )?;
        fetched(apply(&cold, &aws, silent).await?)
    };
    crate::aws::block_on(async {
        tokio::time::timeout(total, work)
            .await
            .unwrap_or_else(|_| Err(crate::aws::transport::serve_gave_up(total)))
    })?
}

fn fetched(applied: crate::aws::apply::Applied) -> Result<Fetched> {
    match applied.credentials {
        IssuedCredentials::Session(credentials) => Ok(Fetched {
            credentials,
            role_arn: applied.role_arn,
        }),
        IssuedCredentials::AccessKey(_) => Err(Error::Internal(
            "serve expected temporary credentials".into(),
        )),
    }
}
