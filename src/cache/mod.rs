//! The credential cache of `serve` (and of every command that hands out the same temporary
//! credentials): one entry point, [`CredentialCache::get_or_fetch`], that does the hit, the
//! cross-process single flight, the re-check, the fetch, the save (purging expired entries and retrying
//! when the keyring is full) and the bookkeeping.
//!
//! * `key`: what identifies cached credentials (source identity, role, session policy, duration).
//! * `record`: the versioned, range-checked record kept in the keyring.
//! * `keystore`: the OS keyring, chosen so that nothing ever blocks or prompts.
//! * `store`: chunked keyring entries, the on-disk index and the lock files.
//!
//! Any cache problem degrades to fresh credentials and one stderr line; it never fails the caller.

mod key;
mod keystore;
mod record;
mod store;

pub use key::{CacheKey, Source};
pub use record::is_fresh;
// The endpoint process that `exec` starts (unix) is handed its first credentials as a record.
#[cfg(unix)]
pub use record::{decode as decode_record, encode as encode_record};
pub use store::cache_dir;

use crate::files::private_dir;

use crate::credentials::SessionCredentials;
use crate::error::{Error, Result};
use keystore::KeyStore;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};
use store::{Index, IndexEntry};

/// What a fetch produced: the credentials, and the role they came from (remembered, so that the next
/// fetch for this source is a single AssumeRole).
pub struct Fetched {
    pub credentials: SessionCredentials,
    pub role_arn: Option<String>,
}

pub struct CredentialCache {
    store: Option<KeyStore>,
    dir: Option<PathBuf>,
    /// Why nothing is being cached, if so: said once, by [`CredentialCache::report_notice`], and
    /// only when the command succeeds (a failing `serve` prints exactly one line, its error).
    notice: std::cell::RefCell<Option<String>>,
}

impl CredentialCache {
    /// The cache, or a cache that stores nothing (`enabled` false, or no usable keyring: then one line
    /// on stderr says why). Remembered roles work either way.
    ///
    /// A cache folder another user owns or may write to is not used at all (they could plant a role
    /// to assume, or links): then nothing is cached or remembered, and the line says so.
    pub fn open(enabled: bool) -> CredentialCache {
        let dir = match cache_dir().map(|dir| private_dir(&dir).map(|()| dir)) {
            Some(Ok(dir)) => Some(dir),
            Some(Err(e)) => {
                return CredentialCache {
                    store: None,
                    dir: None,
                    notice: enabled
                        .then(|| format!("cannot use the cache folder: {e}"))
                        .into(),
                };
            }
            None => None,
        };
        let (store, notice) = match enabled.then(KeyStore::open) {
            Some(Ok(store)) => (Some(store), None),
            Some(Err(reason)) => (None, Some(reason)),
            None => (None, None),
        };
        CredentialCache {
            store,
            dir,
            notice: notice.into(),
        }
    }

    /// The cache for `cache list|clear`: an unusable cache folder is an error there (exit 3, with a
    /// hint), not a reason to degrade. `with_keyring` opens the keyring too (to delete entries).
    pub fn for_management(with_keyring: bool) -> Result<CredentialCache> {
        let dir = cache_dir()
            .ok_or_else(|| Error::no_home("the cache directory", crate::env::CACHE_DIR))?;
        private_dir(&dir).map_err(|e| crate::files::to_error(e, "cannot use the cache folder"))?;
        // `cache clear` with no keyring it can open would forget the entries without deleting them
        // (and say it removed them): it is an error there, naming why.
        let store = if with_keyring {
            Some(KeyStore::open().map_err(|reason| {
                Error::invalid_with_hint(
                    format!("cannot open the keyring the cache is in: {reason}"),
                    "run `cache clear` where `serve` runs (the same S3CREDS_KEYRING and login \
                     session); nothing was removed",
                )
            })?)
        } else {
            None
        };
        Ok(CredentialCache {
            store,
            dir: Some(dir),
            notice: None.into(),
        })
    }

    /// Credentials for `key` with more than `refresh_window` left: from the keyring, or from `fetch`
    /// (given the role remembered for this source, if any), at most one fetch at a time per key
    /// across processes.
    ///
    /// `bound` is the whole call's: a process that finds another one fetching waits for it within
    /// the bound (waiting is cheap, the kernel releases a dead holder's lock at once, and a second
    /// fetch is what single flight exists to avoid), and `fetch` is given what is left of it, so a
    /// waiter that ends up fetching itself still answers within the bound, not twice it.
    pub fn get_or_fetch(
        &self,
        key: &CacheKey,
        refresh_window: Duration,
        bound: Duration,
        fetch: impl FnOnce(Option<String>, Duration) -> Result<Fetched>,
    ) -> Result<SessionCredentials> {
        let deadline = std::time::Instant::now() + bound;
        if let Some(credentials) = self.fresh(key, refresh_window) {
            return Ok(credentials);
        }
        // Miss: one process fetches, the others wait for it and then read what it stored.
        let _lock = match (&self.store, &self.dir) {
            (Some(_), Some(dir)) => {
                store::lock(&dir.join("locks").join(format!("{}.lock", key.name)), bound)
            }
            _ => None,
        };
        if let Some(credentials) = self.fresh(key, refresh_window) {
            return Ok(credentials);
        }
        let remembered_role = self
            .dir
            .as_ref()
            .and_then(|dir| Index::read(dir).roles.get(&key.source_id).cloned());
        let fetched = fetch(
            remembered_role,
            deadline.saturating_duration_since(std::time::Instant::now()),
        )?;
        if !record::is_fresh(&fetched.credentials, refresh_window, SystemTime::now()) {
            return Err(Error::Internal(
                "AWS issued credentials that expire within the refresh window".into(),
            ));
        }
        self.save(key, &fetched);
        Ok(fetched.credentials)
    }

    fn fresh(&self, key: &CacheKey, refresh_window: Duration) -> Option<SessionCredentials> {
        let store = self.store.as_ref()?;
        store::load(store, &key.name)
            .filter(|c| record::is_fresh(c, refresh_window, SystemTime::now()))
    }

    /// Store the credentials and record them (and the role) in the index. A full keyring (the kernel's
    /// per-user quota is 20,000 bytes) may only hold expired entries: purge them and try once more.
    fn save(&self, key: &CacheKey, fetched: &Fetched) {
        let Some(store) = &self.store else {
            self.remember_role(key, fetched);
            return;
        };
        let mut saved = store::save(store, &key.name, &fetched.credentials);
        if saved.is_err() {
            self.purge_expired(store);
            saved = store::save(store, &key.name, &fetched.credentials);
        }
        if let Err(reason) = saved {
            self.caching_off(reason);
            self.remember_role(key, fetched);
            return;
        }
        let Some(dir) = &self.dir else { return };
        let mut expired = Vec::new();
        let recorded = Index::update(dir, |index| {
            expired = index.take_expired();
            index.entries.retain(|entry| entry.key != key.name);
            index.entries.push(IndexEntry {
                key: key.name.clone(),
                buckets: key.buckets.clone(),
                access: key.access,
                expiration: crate::core::time::unix_seconds(fetched.credentials.expiration),
                backend: store.backend.to_string(),
            });
            if let Some(arn) = &fetched.role_arn {
                index.roles.insert(key.source_id.clone(), arn.clone());
            }
        });
        if recorded.is_ok() {
            for name in expired {
                store::remove(store, &name);
            }
        }
    }

    fn remember_role(&self, key: &CacheKey, fetched: &Fetched) {
        if let (Some(dir), Some(arn)) = (&self.dir, &fetched.role_arn) {
            let _ = Index::update(dir, |index| {
                index.roles.insert(key.source_id.clone(), arn.clone());
            });
        }
    }

    /// Delete every expired entry the index knows of.
    fn purge_expired(&self, store: &KeyStore) {
        let Some(dir) = &self.dir else { return };
        let mut expired = Vec::new();
        if Index::update(dir, |index| expired = index.take_expired()).is_ok() {
            for name in expired {
                store::remove(store, &name);
            }
        }
    }

    fn caching_off(&self, reason: String) {
        self.notice.borrow_mut().get_or_insert(reason);
    }

    /// Say once, on stderr, why credentials are not cached. SDKs show stderr only on failure or log
    /// it; it never contains a secret.
    pub fn report_notice(&self) {
        if let Some(reason) = self.notice.borrow_mut().take() {
            eprintln!("s3creds: credential cache off: {reason}");
        }
    }

    /// The entries `cache list` shows: never a secret.
    pub fn entries(&self) -> Vec<CachedEntry> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        Index::read(dir)
            .entries
            .into_iter()
            .map(|entry| CachedEntry {
                key: entry.key,
                buckets: entry.buckets,
                access: entry.access,
                expiration: entry.expiration,
                backend: entry.backend,
            })
            .collect()
    }

    /// Delete every cached credential and forget every remembered role. Returns how many entries the
    /// index listed.
    pub fn clear(&self) -> Result<usize> {
        let dir = self
            .dir
            .as_ref()
            .ok_or_else(|| Error::no_home("the cache directory", crate::env::CACHE_DIR))?;
        let index = Index::read(dir);
        let mut removed: std::collections::BTreeSet<String> =
            index.entries.iter().map(|e| e.key.clone()).collect();
        if let Some(store) = &self.store {
            for entry in &index.entries {
                store::remove(store, &entry.key);
            }
            // Also the entries no index knows: an index deleted with its folder (the demo's), or
            // kept in another S3CREDS_CACHE_DIR. Chunks (`KEY.N`) are parts of a record.
            match store.delete_all() {
                Ok(names) => removed.extend(names.into_iter().filter(|n| !n.contains('.'))),
                Err(reason) => {
                    eprintln!("warning: only the entries in the index were removed: {reason}")
                }
            }
        }
        Index::update(dir, |index| {
            index.entries.clear();
            index.roles.clear();
        })
        .map_err(|e| Error::Internal(format!("cannot update the cache index: {e}")))?;
        Ok(removed.len())
    }
}

/// One cached entry as `cache list` shows it.
pub struct CachedEntry {
    pub key: String,
    pub buckets: Vec<String>,
    pub access: crate::core::policy::ScopeKind,
    pub expiration: u64,
    pub backend: String,
}
