//! `s3creds cache list|clear`: the credential cache of `serve`, without ever showing a secret.

use crate::cache::{self, Index};
use crate::cli::CacheCommand;
use crate::error::{Error, Result};
use crate::keystore::KeyStore;
use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub fn run(command: &CacheCommand) -> Result<()> {
    let dir = cache::cache_dir()
        .ok_or_else(|| Error::Internal("no cache directory (HOME is not set)".into()))?;
    match command {
        CacheCommand::List => {
            let index = Index::read(&dir);
            let now = cache::unix_seconds(SystemTime::now());
            let mut out = String::new();
            if index.entries.is_empty() {
                out.push_str("The credential cache is empty.\n");
            }
            for entry in &index.entries {
                let expiry =
                    crate::output::rfc3339(UNIX_EPOCH + Duration::from_secs(entry.expiration));
                let state = if entry.expiration <= now {
                    " (expired)"
                } else {
                    ""
                };
                out.push_str(&format!(
                    "{}  {}  {}  expires {expiry}{state}  [{}]\n",
                    entry.key,
                    entry.access,
                    entry.buckets.join(","),
                    entry.backend
                ));
            }
            crate::write_stdout(&out)
        }
        CacheCommand::Clear => {
            let index = Index::read(&dir);
            let mut removed: BTreeSet<String> =
                index.entries.iter().map(|e| e.key.clone()).collect();
            if let Ok(store) = KeyStore::open() {
                for entry in &index.entries {
                    cache::remove(&store, &entry.key);
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
            let count = removed.len();
            Index::update(&dir, |index| {
                index.entries.clear();
                index.roles.clear();
            })
            .map_err(|e| Error::Internal(format!("cannot update the cache index: {e}")))?;
            crate::write_stdout(&format!("Removed {count} cached credential(s).\n"))
        }
    }
}
