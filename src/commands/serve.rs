//! `s3creds serve`: an AWS `credential_process` helper. Prints scoped temporary credentials as the
//! credential_process JSON, from the OS keyring cache when they have more than the refresh window
//! left, else from one AssumeRole (single flight across processes through a per-key file lock).
//!
//! The cache-hit path reads no AWS configuration file, starts no async runtime and makes no network
//! call: it is one keyring read.

use crate::apply::{apply, assume_role, Progress};
use crate::aws::{AwsClients, AwsOptions};
use crate::cache::{self, CacheKeyMaterial, Index, IndexEntry, Record, Source};
use crate::cli::ServeArgs;
use crate::duration;
use crate::error::{Error, Result};
use crate::keystore::KeyStore;
use crate::names;
use crate::output::IssuedCredentials;
use crate::plan::{self, CreateRequest, CredentialKind, ROLE_NAME};
use crate::policy;
use std::path::Path;
use std::time::Duration;

/// How long a process waits for another one that is already fetching the same credentials.
const LOCK_WAIT: Duration = Duration::from_secs(4);
/// How long `serve` waits for a role it just created to become assumable.
const NEW_ROLE_PATIENCE: Duration = Duration::from_secs(30);

/// Set for the lifetime of a `serve` process and inherited by anything it starts. aws-config may run
/// a profile's credential_process to get the source identity; if that profile is itself an s3creds
/// profile, the nested `serve` sees this and stops instead of recursing.
const SERVING_MARKER: &str = "S3CREDS_SERVING";

pub fn run(args: &ServeArgs, aws_options: &AwsOptions) -> Result<()> {
    if std::env::var_os(SERVING_MARKER).is_some() {
        return Err(Error::invalid_with_hint(
            "s3creds serve was started by s3creds serve: the source profile's credentials come from \
             s3creds itself",
            "give `serve` a --profile whose credentials are not a credential_process running s3creds",
        ));
    }
    // Still single-threaded here: setting the environment cannot race with a reader.
    std::env::set_var(SERVING_MARKER, "1");
    let request =
        crate::commands::policy::policy_request(&args.buckets, &args.policy, aws_options)?;
    let session_duration = duration::parse_session_duration(&args.duration)?;
    let window = Duration::from_secs(duration::parse_seconds(&args.refresh_window)?);
    if window >= session_duration {
        return Err(Error::invalid_with_hint(
            format!(
                "--refresh-window {} leaves no time to use credentials lasting --duration {}",
                args.refresh_window, args.duration
            ),
            "make the refresh window shorter than the duration (defaults: 15m and 1h)",
        ));
    }
    let document = request.document()?;
    plan::check_size(
        &document,
        policy::MAX_SESSION_POLICY_CHARS,
        "session policy",
    )?;
    let compact = policy::compact(&document);
    let source = Source::from_environment(
        aws_options.profile.as_deref(),
        aws_options.endpoint_url.as_deref(),
        aws_options.region.as_deref(),
    );
    let key = CacheKeyMaterial {
        source: source.clone(),
        role: ROLE_NAME.to_string(),
        policy: compact,
        duration_seconds: session_duration.as_secs(),
    }
    .key();

    // Said only once credentials are in hand: a failing serve prints exactly one line, its error.
    let mut cache_off_reason = None;
    let store = if args.no_cache {
        None
    } else {
        match KeyStore::open() {
            Ok(store) => Some(store),
            Err(reason) => {
                cache_off_reason = Some(reason);
                None
            }
        }
    };
    let fresh = |store: &KeyStore| cache::load(store, &key).filter(|r| r.is_fresh(window));
    if let Some(record) = store.as_ref().and_then(fresh) {
        return print(&record);
    }

    // Miss: one process fetches, the others wait for it and then read what it stored.
    let dir = cache::cache_dir();
    let _lock = match (&store, &dir) {
        (Some(_), Some(dir)) => {
            cache::lock(&dir.join("locks").join(format!("{key}.lock")), LOCK_WAIT)
        }
        _ => None,
    };
    if let Some(record) = store.as_ref().and_then(fresh) {
        return print(&record);
    }
    let remembered_role = dir
        .as_ref()
        .and_then(|d| Index::read(d).roles.get(&source.id()).cloned());
    let (record, role_arn) = fetch(
        &request,
        &document,
        session_duration,
        aws_options,
        remembered_role.as_deref(),
    )?;
    if let Some(reason) = cache_off_reason {
        caching_off(&reason);
    }
    if let Some(store) = &store {
        let mut saved = cache::save(store, &key, &record);
        if saved.is_err() {
            // A full keyring (the kernel's per-user quota is 20,000 bytes) may only hold expired
            // entries: purge them and try once more.
            if let Some(dir) = &dir {
                purge_expired(store, dir);
                saved = cache::save(store, &key, &record);
            }
        }
        if let Err(reason) = saved {
            caching_off(&reason);
        } else if let Some(dir) = &dir {
            remember(store, dir, &source, &key, &request, &record, role_arn);
        }
    } else if let (Some(dir), Some(arn)) = (&dir, role_arn) {
        let _ = Index::update(dir, |index| {
            index.roles.insert(source.id(), arn);
        });
    }
    print(&record)
}

/// Say once, on stderr, why credentials are not cached. SDKs show stderr only on failure or log it;
/// it never contains a secret.
fn caching_off(reason: &str) {
    eprintln!("s3creds: credential cache off: {reason}");
}

fn print(record: &Record) -> Result<()> {
    crate::write_stdout(&format!("{}\n", record.to_process_json()))
}

/// Get fresh credentials: with a remembered role ARN that is a single AssumeRole; otherwise (or if that
/// fails: role deleted, trust changed) the full temporary-credentials plan of `create`.
fn fetch(
    request: &policy::PolicyRequest,
    document: &serde_json::Value,
    session_duration: Duration,
    aws_options: &AwsOptions,
    remembered_role: Option<&str>,
) -> Result<(Record, Option<String>)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Internal(format!("cannot start the async runtime: {e}")))?;
    // Each AWS call has its own bounds; this one bounds them all together, so that an SDK waiting
    // on this helper gets an answer before it gives up on it.
    let total = crate::timeouts::Timeouts::resolve(aws_options)?.serve_total();
    let work = async {
        let aws = AwsClients::load(aws_options).await?;
        let session_name = names::derived_name(
            request.kind_label(),
            &request.buckets,
            names::MAX_SESSION_NAME,
        );
        if let Some(role_arn) = remembered_role {
            if let Ok(credentials) = assume_role(
                &aws,
                role_arn,
                &session_name,
                document,
                session_duration.as_secs(),
                Duration::ZERO,
            )
            .await
            {
                return Ok((to_record(credentials)?, Some(role_arn.to_string())));
            }
        }
        let plan = plan::plan(&CreateRequest {
            policy: request.clone(),
            kind: CredentialKind::Temporary {
                duration: session_duration,
                session_name: Some(session_name),
            },
            create_buckets: false,
            public: false,
            website: false,
            bucket_region: None,
            wait: NEW_ROLE_PATIENCE,
        })?;
        let applied = apply(&plan, &aws, Progress { silent: true }).await?;
        Ok((to_record(applied.credentials)?, applied.role_arn))
    };
    runtime.block_on(async {
        tokio::time::timeout(total, work)
            .await
            .unwrap_or_else(|_| Err(crate::aws_transport::serve_gave_up(total)))
    })
}

fn to_record(credentials: IssuedCredentials) -> Result<Record> {
    match credentials {
        IssuedCredentials::Session {
            access_key_id,
            secret_access_key,
            session_token,
            expiration,
        } => Ok(Record {
            access_key_id,
            secret_access_key,
            session_token,
            expiration,
        }),
        IssuedCredentials::AccessKey { .. } => Err(Error::Internal(
            "serve expected temporary credentials".into(),
        )),
    }
}

/// Delete every expired entry the index knows of.
fn purge_expired(store: &KeyStore, dir: &Path) {
    let mut expired = Vec::new();
    if Index::update(dir, |index| expired = index.take_expired()).is_ok() {
        for key in expired {
            cache::remove(store, &key);
        }
    }
}

/// Record the new entry (and the role) in the index, and purge expired entries from the keyring so
/// the kernel keyring's small per-user quota never fills up.
fn remember(
    store: &KeyStore,
    dir: &Path,
    source: &Source,
    key: &str,
    request: &policy::PolicyRequest,
    record: &Record,
    role_arn: Option<String>,
) {
    let mut expired = Vec::new();
    let result = Index::update(dir, |index| {
        expired = index.take_expired();
        index.entries.retain(|entry| entry.key != key);
        index.entries.push(IndexEntry {
            key: key.to_string(),
            buckets: request.buckets.clone(),
            access: request.kind_label().to_string(),
            expiration: cache::unix_seconds(record.expiration),
            backend: store.backend.to_string(),
        });
        if let Some(arn) = role_arn {
            index.roles.insert(source.id(), arn);
        }
    });
    if result.is_ok() {
        for key in expired {
            cache::remove(store, &key);
        }
    }
}
