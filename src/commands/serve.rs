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
use crate::core::role::GivenRole;
use crate::credentials::{IssuedCredentials, SessionCredentials};
use crate::error::{Error, Result};
use crate::output::{process_json, write_stdout};
use std::time::Duration;

/// How long `serve` waits for a role it just created to become assumable.
const NEW_ROLE_PATIENCE: Duration = Duration::from_secs(30);

pub fn run(args: &ServeArgs, aws_options: &AwsOptions) -> Result<()> {
    let session = Session::new(args, aws_options)?;
    let cache = CredentialCache::open(session.request.use_cache);
    let credentials = session.get(&cache)?;
    // Said only once credentials are in hand: a failing serve prints exactly one line, its error.
    cache.report_notice();
    write_stdout(&format!("{}\n", process_json(&credentials)?))
}

/// One request for scoped temporary credentials, decided once per process: `serve` answers it once,
/// `serve --http` and `exec` (`crate::endpoint`) again whenever their copy nears its refresh point.
pub struct Session {
    pub request: ServeRequest,
    /// `--role-arn`: assumed directly; otherwise s3creds' own role.
    pub role: Option<GivenRole>,
    key: CacheKey,
    fetch_bound: Duration,
    aws_options: AwsOptions,
}

impl Session {
    /// Validate everything (before any AWS call) and compute the cache key.
    pub fn new(args: &ServeArgs, aws_options: &AwsOptions) -> Result<Session> {
        if crate::env::is_set(crate::env::SERVING_MARKER) {
            return Err(Error::invalid_with_hint(
                "s3creds serve was started by s3creds serve: the source profile's credentials come \
                 from s3creds itself",
                "give `serve` a --profile whose credentials are not a credential_process running s3creds",
            ));
        }
        // Still single-threaded here: setting the environment cannot race with a reader. Anything this
        // process starts (aws-config running the source profile's credential_process) inherits it.
        std::env::set_var(crate::env::SERVING_MARKER, "1");
        let request = crate::request::serve(args, aws_options)?;
        let role = crate::request::given_role(&args.role)?;
        let source = Source::from_environment(
            aws_options.profile.as_deref(),
            aws_options.endpoint_url.as_deref(),
            aws_options.region.as_deref(),
        );
        let role_identity = match &role {
            Some(role) => role.cache_identity(),
            None => ROLE_NAME.to_string(),
        };
        let key = CacheKey::new(&source, &role_identity, &request);
        // A helper already fetching finishes (or fails) within this bound, so waiting for it as long
        // is enough.
        let fetch_bound = crate::aws::timeouts::Timeouts::resolve(aws_options)?.serve_total();
        Ok(Session {
            request,
            role,
            key,
            fetch_bound,
            aws_options: aws_options.clone(),
        })
    }

    /// Credentials with more than the refresh window left: from `cache`, or one AssumeRole (single
    /// flight across processes). Blocks; runs its own async runtime for the fetch.
    pub fn get(&self, cache: &CredentialCache) -> Result<SessionCredentials> {
        cache.get_or_fetch(
            &self.key,
            self.request.refresh_window,
            self.fetch_bound,
            |remembered_role, left| {
                let bound = Bound {
                    total: self.fetch_bound,
                    left,
                };
                match &self.role {
                    Some(role) => fetch_given_role(&self.request, &self.aws_options, role, bound),
                    None => fetch(&self.request, &self.aws_options, remembered_role, bound),
                }
            },
        )
    }
}

/// The time a fetch has: what is `left` of the whole `total` (a waiter for another process's fetch
/// has used some of it), which the error names when it runs out.
#[derive(Clone, Copy)]
struct Bound {
    total: Duration,
    left: Duration,
}

impl Bound {
    fn run<T>(self, work: impl std::future::Future<Output = Result<T>>) -> Result<T> {
        crate::aws::block_on(async {
            tokio::time::timeout(self.left, work)
                .await
                .unwrap_or_else(|_| Err(crate::aws::transport::serve_gave_up(self.total)))
        })?
    }
}

/// One AssumeRole of the role the user gave, beside HeadBucket for every bucket. Nothing is
/// remembered: a given role must never become the role later requests without `--role-arn` use.
fn fetch_given_role(
    request: &ServeRequest,
    aws_options: &AwsOptions,
    role: &GivenRole,
    bound: Bound,
) -> Result<Fetched> {
    let plan = role.apply_to(plan::session_plan(
        &request.scope,
        request.duration,
        &request.session_name(),
        Some(role.arn()),
        Duration::ZERO,
    )?);
    let work = async {
        let aws = AwsClients::load(aws_options).await?;
        match apply(&plan, &aws, Progress { silent: true }).await {
            Ok(applied) => Ok(Fetched {
                role_arn: None,
                ..fetched(applied)?
            }),
            Err(failed) if failed.action == "AssumeRole" => Err(role.explain_failure(failed.error)),
            Err(failed) => Err(failed.error),
        }
    };
    bound.run(work)
}

/// One AssumeRole with the remembered role (beside HeadBucket for every bucket, so a request gets the
/// same verdict whatever the cache knows). If that fails (role deleted, trust changed), the role is
/// looked up, created if needed, and assumed once more.
fn fetch(
    request: &ServeRequest,
    aws_options: &AwsOptions,
    remembered_role: Option<String>,
    bound: Bound,
) -> Result<Fetched> {
    let session_name = request.session_name();
    // Each AWS call has its own bounds; `bound` limits them all together, so that an SDK waiting on
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
    bound.run(work)
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
