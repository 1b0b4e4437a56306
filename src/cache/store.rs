//! The credential cache's storage: records in the keyring (split into chunks where a keyring limits
//! entry size), and the non-secret bookkeeping on disk (index of entries, remembered roles, lock files).
//!
//! Secrets live only in the keyring. The cache directory holds names, expiry times and role ARNs.

use super::keystore::KeyStore;
use super::record;
use crate::core::policy::ScopeKind;
use crate::core::time::unix_seconds;
use crate::credentials::SessionCredentials;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Records longer than this are split across entries: Windows Credential Manager stores at most 2,560
/// bytes per credential, and STS session tokens alone can exceed 1 KB.
const MAX_ENTRY_BYTES: usize = 2000;
/// A record never needs more chunks than this; a larger count in the keyring is garbage.
const MAX_CHUNKS: usize = 8;

fn chunk_count(first: &str) -> Option<usize> {
    first
        .strip_prefix("chunks:")
        .and_then(|n| n.parse::<usize>().ok())
        .filter(|n| (1..=MAX_CHUNKS).contains(n))
}

/// Read a record, joining chunks when it was split. None for a miss or anything unreadable.
pub fn load(store: &KeyStore, key: &str) -> Option<SessionCredentials> {
    let first = store.get(key)?;
    let text = match chunk_count(&first) {
        Some(count) => {
            let mut text = String::new();
            for index in 1..=count {
                text.push_str(&store.get(&format!("{key}.{index}"))?);
            }
            text
        }
        None => first,
    };
    record::decode(&text, SystemTime::now())
}

/// Store a record, split into chunks of at most [`MAX_ENTRY_BYTES`].
pub fn save(store: &KeyStore, key: &str, credentials: &SessionCredentials) -> Result<(), String> {
    let text = record::encode(credentials);
    // Each entry expires with the credentials it holds (a kernel timeout where the keyring has one), so
    // nothing outlives its use even when the index that lists it is gone.
    let set = |name: &str, value: &str| store.set_expiring(name, value, credentials.expiration);
    if text.len() <= MAX_ENTRY_BYTES {
        return set(key, &text);
    }
    // The encoding is ASCII (JSON of base64 and hex), so byte chunks are valid strings.
    let chunks: Vec<&str> = text
        .as_bytes()
        .chunks(MAX_ENTRY_BYTES)
        .map(|c| std::str::from_utf8(c).expect("ASCII record"))
        .collect();
    for (index, chunk) in chunks.iter().enumerate() {
        set(&format!("{key}.{}", index + 1), chunk)?;
    }
    set(key, &format!("chunks:{}", chunks.len()))
}

pub fn remove(store: &KeyStore, key: &str) {
    if let Some(count) = store.get(key).as_deref().and_then(chunk_count) {
        for index in 1..=count {
            store.delete(&format!("{key}.{index}"));
        }
    }
    store.delete(key);
}

/// The directory for locks and bookkeeping: `S3CREDS_CACHE_DIR`, else the platform cache directory.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = crate::env::var_os(crate::env::CACHE_DIR) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "s3creds").map(|d| d.cache_dir().to_path_buf())
}

/// An exclusive lock on `path`, waiting at most `timeout`. None when it could not be had in time (or
/// its folder is refused, or a link sits at its name).
pub fn lock(path: &Path, timeout: Duration) -> Option<File> {
    if let Some(parent) = path.parent() {
        crate::files::private_dir(parent).ok()?;
    }
    crate::files::lock(path, timeout).ok()
}

/// One cached entry as `cache list` shows it. No secrets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IndexEntry {
    pub key: String,
    pub buckets: Vec<String>,
    pub access: ScopeKind,
    pub expiration: u64,
    pub backend: String,
}

/// Non-secret bookkeeping: which keyring entries exist (so expired ones can be purged and listed) and
/// which role each source identity assumes (so a refresh is a single AssumeRole).
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Index {
    #[serde(default)]
    pub entries: Vec<IndexEntry>,
    /// Source ID -> role ARN.
    #[serde(default)]
    pub roles: std::collections::BTreeMap<String, String>,
}

impl Index {
    fn path(dir: &Path) -> PathBuf {
        dir.join("index.json")
    }

    pub fn read(dir: &Path) -> Index {
        crate::files::read_own_file(&Self::path(dir))
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    /// Drop the entries that have expired and return their keys, for deletion from the keyring.
    pub fn take_expired(&mut self) -> Vec<String> {
        let now = unix_seconds(SystemTime::now());
        let (expired, live) = std::mem::take(&mut self.entries)
            .into_iter()
            .partition(|entry| entry.expiration <= now);
        self.entries = live;
        expired
            .into_iter()
            .map(|entry: IndexEntry| entry.key)
            .collect()
    }

    /// Read-modify-write under the index lock; the change sees the latest index.
    pub fn update(dir: &Path, change: impl FnOnce(&mut Index)) -> std::io::Result<()> {
        crate::files::private_dir(dir)?;
        let _guard = crate::files::lock(&dir.join("index.lock"), Duration::from_secs(2))?;
        let mut index = Self::read(dir);
        change(&mut index);
        let text = serde_json::to_string_pretty(&index).map_err(std::io::Error::other)?;
        crate::files::write_atomic(&Self::path(dir), text.as_bytes())
    }
}
