//! The credential cache of `serve`: what identifies cached credentials, the record format kept in the
//! keyring, and the non-secret bookkeeping on disk (index of entries, remembered roles, lock files).
//!
//! Secrets live only in the keyring. The cache directory holds names, expiry times and role ARNs.

use crate::keystore::KeyStore;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Bump when the record layout changes: older records then read as misses and are replaced.
pub const RECORD_VERSION: u32 = 1;
/// Records longer than this are split across entries: Windows Credential Manager stores at most 2,560
/// bytes per credential, and STS session tokens alone can exceed 1 KB.
const MAX_ENTRY_BYTES: usize = 2000;

/// Everything that determines which credentials a `serve` invocation wants.
#[derive(Debug, Clone, Serialize)]
pub struct CacheKeyMaterial {
    /// Who assumes the role: profile and endpoints, plus the access key ID when keys come from the
    /// environment (two different env identities must not share credentials).
    pub source: Source,
    pub role: String,
    /// The exact session policy, compact.
    pub policy: String,
    pub duration_seconds: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Source {
    pub profile: String,
    pub endpoint: Option<String>,
    pub sts_endpoint: Option<String>,
    pub iam_endpoint: Option<String>,
    pub env_access_key_id: Option<String>,
    pub region: Option<String>,
}

impl Source {
    /// The source as far as the command line and environment tell, without reading any file.
    pub fn from_environment(
        profile: Option<&str>,
        endpoint: Option<&str>,
        region: Option<&str>,
    ) -> Source {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        Source {
            profile: profile
                .map(str::to_string)
                .or_else(|| env("AWS_PROFILE"))
                .unwrap_or_else(|| "default".to_string()),
            endpoint: endpoint
                .map(str::to_string)
                .or_else(|| env("AWS_ENDPOINT_URL")),
            sts_endpoint: env("AWS_ENDPOINT_URL_STS"),
            iam_endpoint: env("AWS_ENDPOINT_URL_IAM"),
            env_access_key_id: env("AWS_ACCESS_KEY_ID"),
            region: region.map(str::to_string).or_else(|| env("AWS_REGION")),
        }
    }

    /// A short stable ID for remembering this source's role.
    pub fn id(&self) -> String {
        short_hash(&serde_json::to_string(self).expect("serializable"))
    }
}

impl CacheKeyMaterial {
    /// The keyring entry name: `v1-` and 32 hex digits of the SHA-256 of the material.
    pub fn key(&self) -> String {
        let text =
            serde_json::to_string(&json!({"v": RECORD_VERSION, "m": self})).expect("serializable");
        format!("v{RECORD_VERSION}-{}", short_hash(&text))
    }
}

fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Cached temporary credentials.
#[derive(Debug, Clone)]
pub struct Record {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    pub expiration: SystemTime,
}

#[derive(Serialize, Deserialize)]
struct StoredRecord {
    v: u32,
    k: String,
    s: String,
    t: String,
    /// Expiration, seconds since the epoch.
    e: u64,
}

impl Record {
    pub fn encode(&self) -> String {
        serde_json::to_string(&StoredRecord {
            v: RECORD_VERSION,
            k: self.access_key_id.clone(),
            s: self.secret_access_key.expose().to_string(),
            t: self.session_token.expose().to_string(),
            e: unix_seconds(self.expiration),
        })
        .expect("serializable")
    }

    /// None for anything that is not a complete record of this version.
    pub fn decode(text: &str) -> Option<Record> {
        let stored: StoredRecord = serde_json::from_str(text).ok()?;
        if stored.v != RECORD_VERSION
            || stored.k.is_empty()
            || stored.s.is_empty()
            || stored.t.is_empty()
        {
            return None;
        }
        Some(Record {
            access_key_id: stored.k,
            secret_access_key: Secret::new(stored.s),
            session_token: Secret::new(stored.t),
            expiration: UNIX_EPOCH + Duration::from_secs(stored.e),
        })
    }

    /// Usable when more than `window` remains before expiry.
    pub fn is_fresh(&self, window: Duration) -> bool {
        self.expiration
            .duration_since(SystemTime::now())
            .is_ok_and(|left| left > window)
    }

    /// The credential_process document.
    pub fn to_process_json(&self) -> Value {
        json!({
            "Version": 1,
            "AccessKeyId": self.access_key_id,
            "SecretAccessKey": self.secret_access_key.expose(),
            "SessionToken": self.session_token.expose(),
            "Expiration": crate::output::rfc3339(self.expiration),
        })
    }
}

pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Read a record, joining chunks when it was split.
pub fn load(store: &KeyStore, key: &str) -> Option<Record> {
    let first = store.get(key)?;
    if let Some(count) = first
        .strip_prefix("chunks:")
        .and_then(|n| n.parse::<usize>().ok())
    {
        let mut text = String::new();
        for index in 1..=count {
            text.push_str(&store.get(&format!("{key}.{index}"))?);
        }
        return Record::decode(&text);
    }
    Record::decode(&first)
}

/// Store a record, split into chunks of at most [`MAX_ENTRY_BYTES`].
pub fn save(store: &KeyStore, key: &str, record: &Record) -> Result<(), String> {
    let text = record.encode();
    let set = |name: &str, value: &str| store.set_expiring(name, value, record.expiration);
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
    if let Some(first) = store.get(key) {
        if let Some(count) = first
            .strip_prefix("chunks:")
            .and_then(|n| n.parse::<usize>().ok())
        {
            for index in 1..=count {
                store.delete(&format!("{key}.{index}"));
            }
        }
    }
    store.delete(key);
}

/// The directory for locks and bookkeeping: `S3CREDS_CACHE_DIR`, else the platform cache directory.
pub fn cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("S3CREDS_CACHE_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "s3creds").map(|d| d.cache_dir().to_path_buf())
}

/// Create a private directory (0700 on Unix).
pub fn private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)
}

fn open_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// An exclusive lock on `path`, waiting at most `timeout`. None when it could not be had in time.
pub fn lock(path: &Path, timeout: Duration) -> Option<File> {
    if let Some(parent) = path.parent() {
        private_dir(parent).ok()?;
    }
    let file = open_private(path).ok()?;
    let deadline = Instant::now() + timeout;
    loop {
        match file.try_lock() {
            Ok(()) => return Some(file),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => return None,
        }
    }
}

/// One cached entry as `cache list` shows it. No secrets.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct IndexEntry {
    pub key: String,
    pub buckets: Vec<String>,
    pub access: String,
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
        fs::read_to_string(Self::path(dir))
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
        private_dir(dir)?;
        let _guard = lock(&dir.join("index.lock"), Duration::from_secs(2))
            .ok_or_else(|| std::io::Error::other("the cache index is locked"))?;
        let mut index = Self::read(dir);
        change(&mut index);
        let text = serde_json::to_string_pretty(&index).map_err(std::io::Error::other)?;
        let temporary = dir.join("index.json.tmp");
        {
            use std::io::Write;
            let mut file = open_private(&temporary)?;
            file.set_len(0)?;
            file.write_all(text.as_bytes())?;
        }
        fs::rename(temporary, Self::path(dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> Record {
        Record {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("secret"),
            session_token: Secret::new("token"),
            expiration: UNIX_EPOCH + Duration::from_secs(2_000_000_000),
        }
    }

    #[test]
    fn records_round_trip_and_garbage_is_a_miss() {
        let decoded = Record::decode(&record().encode()).unwrap();
        assert_eq!(decoded.access_key_id, "ASIAEXAMPLE");
        assert_eq!(decoded.session_token.expose(), "token");
        for bad in [
            "",
            "{}",
            "not json",
            r#"{"v":99,"k":"a","s":"b","t":"c","e":1}"#,
            r#"{"v":1,"k":"","s":"b","t":"c","e":1}"#,
        ] {
            assert!(Record::decode(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn freshness_respects_the_refresh_window() {
        let mut r = record();
        r.expiration = SystemTime::now() + Duration::from_secs(600);
        assert!(r.is_fresh(Duration::from_secs(300)));
        assert!(!r.is_fresh(Duration::from_secs(900)));
    }

    #[test]
    fn the_key_changes_with_everything_that_determines_the_credentials() {
        let source = Source {
            profile: "default".into(),
            endpoint: None,
            sts_endpoint: None,
            iam_endpoint: None,
            env_access_key_id: None,
            region: None,
        };
        let base = CacheKeyMaterial {
            source: source.clone(),
            role: "r".into(),
            policy: "{}".into(),
            duration_seconds: 3600,
        };
        let key = base.key();
        assert!(key.starts_with("v1-") && key.len() == 35, "{key}");
        let mut other = base.clone();
        other.policy = "{ }".into();
        assert_ne!(other.key(), key);
        let mut other = base.clone();
        other.duration_seconds = 900;
        assert_ne!(other.key(), key);
        let mut other = base.clone();
        other.source.profile = "prod".into();
        assert_ne!(other.key(), key);
        let mut other = base.clone();
        other.source.env_access_key_id = Some("AKIA2".into());
        assert_ne!(other.key(), key);
        assert_eq!(base.key(), key);
    }

    #[test]
    fn the_process_json_follows_the_contract() {
        let value = record().to_process_json();
        assert_eq!(value["Version"], 1);
        assert!(value["Version"].is_u64());
        assert_eq!(value["Expiration"], "2033-05-18T03:33:20Z");
    }
}
