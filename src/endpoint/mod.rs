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
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

/// Scoped credentials for the endpoint, refreshed before their refresh point.
pub struct Provider {
    session: Session,
    memory: Mutex<Option<SessionCredentials>>,
    /// One refresh at a time inside this process; `Session::get` adds the cross-process single flight.
    refreshing: tokio::sync::Mutex<()>,
}

impl Provider {
    pub fn new(session: Session) -> Arc<Provider> {
        Arc::new(Provider {
            session,
            memory: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
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
        *self.lock_memory()? = Some(credentials);
        Ok(())
    }

    /// Credentials with more than the refresh window left: the in-memory copy, else a refresh.
    pub async fn credentials(self: &Arc<Self>) -> Result<SessionCredentials> {
        if let Some(credentials) = self.in_memory()? {
            return Ok(credentials);
        }
        let _one_refresh = self.refreshing.lock().await;
        // Another request may have refreshed while this one waited.
        if let Some(credentials) = self.in_memory()? {
            return Ok(credentials);
        }
        let provider = Arc::clone(self);
        // `Session::get` blocks (keyring, lock files) and runs its own runtime for the AWS calls, so it
        // runs on a blocking thread, outside this runtime. The keyring handle cannot move between
        // threads, so each refresh opens the cache on its own; its notice was said by `prime`.
        let credentials = tokio::task::spawn_blocking(move || {
            let cache = CredentialCache::open(provider.session.request.use_cache);
            provider.session.get(&cache)
        })
        .await
        .map_err(|e| Error::Internal(format!("the credentials refresh stopped: {e}")))??;
        *self.lock_memory()? = Some(credentials.clone());
        Ok(credentials)
    }

    fn in_memory(&self) -> Result<Option<SessionCredentials>> {
        let window = self.session.request.refresh_window;
        Ok(self
            .lock_memory()?
            .as_ref()
            .filter(|c| crate::cache::is_fresh(c, window, SystemTime::now()))
            .cloned())
    }

    fn lock_memory(&self) -> Result<std::sync::MutexGuard<'_, Option<SessionCredentials>>> {
        self.memory
            .lock()
            .map_err(|_| Error::Internal("the credentials copy was poisoned by a panic".into()))
    }
}
