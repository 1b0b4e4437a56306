//! The credentials endpoint of `exec` and `serve --http`: the AWS SDKs' container credentials
//! provider (`AWS_CONTAINER_CREDENTIALS_FULL_URI` + `AWS_CONTAINER_AUTHORIZATION_TOKEN`) fetches
//! scoped temporary credentials from it over HTTP.
//!
//! * `token`: the random bearer token, compared in constant time.
//! * `handler`: what a request gets (credentials, or a refusal without any credential bytes).
//! * `server`: the HTTP/1 server (hyper) on a loopback port, with bounded headers and no bodies.
//!
//! Credentials come from [`Provider`]: the same `Session::get` as `serve` (keyring cache, single
//! flight across processes), plus an in-memory copy, so a request before the refresh point is
//! answered without touching the keyring or any lock file.

mod handler;
mod server;
mod token;

pub use handler::CREDENTIALS_PATH;
pub use server::{bind, serve};
pub use token::Token;

use crate::cache::CredentialCache;
use crate::commands::serve::Session;
use crate::credentials::SessionCredentials;
use crate::error::{Error, Result};
use futures::future::{BoxFuture, FutureExt, Shared};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How long a request waits for a refresh while the current credentials still work: an SDK's
/// container provider gives up after a few seconds (botocore: 2 s), and a refresh behind a slow
/// endpoint can take far longer. The refresh goes on after the answer.
const REFRESH_PATIENCE: Duration = Duration::from_secs(1);
/// Credentials with less than this left are not handed out while a refresh is pending or failing.
const USABLE_FOR_AT_LEAST: Duration = Duration::from_secs(60);
/// After a failed refresh, while the current credentials still work, the next try waits this long
/// (so a client asking on every call does not become an AssumeRole on every call).
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// A refresh in flight, awaited by every request that needs it.
type Refresh = Shared<BoxFuture<'static, std::result::Result<SessionCredentials, Arc<Error>>>>;

/// Scoped credentials for the endpoint, refreshed before their refresh point. A failing or slow
/// refresh does not fail requests while the current credentials still work.
pub struct Provider {
    session: Session,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    current: Option<SessionCredentials>,
    /// One refresh at a time inside this process; `Session::get` adds the cross-process single flight.
    in_flight: Option<Refresh>,
    last_failure: Option<Instant>,
}

impl Provider {
    pub fn new(session: Session) -> Arc<Provider> {
        Arc::new(Provider {
            session,
            state: Mutex::new(State::default()),
        })
    }

    /// Fetch once, blocking, before anything is started: a request that cannot succeed (a missing
    /// bucket, a role that cannot be assumed) fails the command here, with its one error line.
    pub fn prime(&self) -> Result<SessionCredentials> {
        let cache = CredentialCache::open(self.session.request.use_cache);
        let credentials = self.session.get(&cache)?;
        cache.report_notice();
        self.remember(credentials.clone())?;
        Ok(credentials)
    }

    /// Keep `credentials` (fetched by `prime`, or by the process that started this one) to answer
    /// from until their refresh point.
    pub fn remember(&self, credentials: SessionCredentials) -> Result<()> {
        self.lock_state()?.current = Some(credentials);
        Ok(())
    }

    /// Credentials with more than the refresh window left, else a refresh. While the current ones
    /// still work for [`USABLE_FOR_AT_LEAST`], a refresh that fails, or takes longer than
    /// [`REFRESH_PATIENCE`], leaves the answer at the current ones.
    pub async fn credentials(
        self: &Arc<Self>,
    ) -> std::result::Result<SessionCredentials, Arc<Error>> {
        let window = self.session.request.refresh_window;
        let (refresh, usable) = {
            let mut state = self.lock_state()?;
            let now = SystemTime::now();
            let current = state.current.clone();
            if let Some(fresh) = current
                .as_ref()
                .filter(|c| crate::cache::is_fresh(c, window, now))
            {
                return Ok(fresh.clone());
            }
            let usable = current.filter(|c| crate::cache::is_fresh(c, USABLE_FOR_AT_LEAST, now));
            let resting = state
                .last_failure
                .is_some_and(|failed| failed.elapsed() < RETRY_AFTER_FAILURE);
            if let (Some(usable), true, None) = (&usable, resting, &state.in_flight) {
                return Ok(usable.clone());
            }
            (self.refresh(&mut state), usable)
        };
        let Some(usable) = usable else {
            return refresh.await;
        };
        match tokio::time::timeout(REFRESH_PATIENCE, refresh).await {
            Ok(Ok(refreshed)) => Ok(refreshed),
            // Said once, by the refresh itself; the current credentials still work.
            Ok(Err(_)) | Err(_) => Ok(usable),
        }
    }

    /// The refresh in flight, or a new one. It runs as a task of its own, so it completes (and its
    /// credentials are kept) even when no request waits for it any more.
    fn refresh(self: &Arc<Self>, state: &mut State) -> Refresh {
        if let Some(in_flight) = &state.in_flight {
            return in_flight.clone();
        }
        let provider = Arc::clone(self);
        let task = tokio::spawn(async move {
            // `Session::get` blocks (keyring, lock files) and runs its own runtime for the AWS calls,
            // so it runs on a blocking thread, outside this runtime. The keyring handle cannot move
            // between threads, so each refresh opens the cache on its own; its notice was said by
            // `prime`.
            let session_provider = Arc::clone(&provider);
            let outcome = tokio::task::spawn_blocking(move || {
                let cache = CredentialCache::open(session_provider.session.request.use_cache);
                session_provider.session.get(&cache)
            })
            .await
            .map_err(|e| Error::Internal(format!("the credentials refresh stopped: {e}")))
            .and_then(|outcome| outcome)
            .map_err(Arc::new);
            if let Ok(mut state) = provider.lock_state() {
                state.in_flight = None;
                match &outcome {
                    Ok(credentials) => {
                        state.current = Some(credentials.clone());
                        state.last_failure = None;
                    }
                    Err(error) => {
                        state.last_failure = Some(Instant::now());
                        // Requests still get the current credentials: the failure is said here, once,
                        // since no request fails with it.
                        if let Some(current) = state.current.as_ref().filter(|c| {
                            crate::cache::is_fresh(c, USABLE_FOR_AT_LEAST, SystemTime::now())
                        }) {
                            eprintln!(
                                "s3creds: warning: the credentials were not refreshed ({error}); \
                                 answering with the current ones, which expire at {}",
                                crate::core::time::rfc3339(current.expiration).unwrap_or_default()
                            );
                        }
                    }
                }
            }
            outcome
        });
        let refresh = async move {
            task.await.map_err(|e| {
                Arc::new(Error::Internal(format!(
                    "the credentials refresh stopped: {e}"
                )))
            })?
        }
        .boxed()
        .shared();
        state.in_flight = Some(refresh.clone());
        refresh
    }

    fn lock_state(&self) -> Result<std::sync::MutexGuard<'_, State>> {
        self.state
            .lock()
            .map_err(|_| Error::Internal("the credentials copy was poisoned by a panic".into()))
    }
}
