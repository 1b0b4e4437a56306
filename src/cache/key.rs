//! What identifies one set of cached credentials: who assumes the role (the source identity), which
//! role, the exact session policy and the duration.

use super::record::RECORD_VERSION;
use crate::core::request::ServeRequest;
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The source identity as far as the command line, the environment and the *metadata* of the AWS
/// config and credentials files tell, without reading any file: a cache hit must stay a keyring read.
/// A file's path, size, modification time and inode change when it is switched or edited, so pointing
/// `AWS_SHARED_CREDENTIALS_FILE` elsewhere or editing a profile's keys changes the key.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Source {
    pub profile: Option<String>,
    pub endpoint: Option<String>,
    pub region: Option<String>,
    /// Every identity-relevant environment variable that is set (`env::SOURCE_IDENTITY`).
    pub environment: BTreeMap<String, String>,
    /// `path size mtime inode` of the config and credentials files in use, or `path -` when absent.
    pub files: Vec<String>,
}

impl Source {
    pub fn from_environment(
        profile: Option<&str>,
        endpoint: Option<&str>,
        region: Option<&str>,
    ) -> Source {
        let environment = crate::env::SOURCE_IDENTITY
            .iter()
            .filter_map(|name| crate::env::var(name).map(|value| (name.to_string(), value)))
            .collect();
        let files = [
            crate::aws_config_file::config_path(),
            crate::aws_config_file::credentials_path(),
        ]
        .into_iter()
        .flatten()
        .map(|path| file_fingerprint(&path))
        .collect();
        Source {
            profile: profile.map(str::to_string),
            endpoint: endpoint.map(str::to_string),
            region: region.map(str::to_string),
            environment,
            files,
        }
    }

    /// A short stable ID for remembering this source's role.
    pub fn id(&self) -> String {
        short_hash(&serde_json::to_string(self).expect("strings always serialize"))
    }
}

fn file_fingerprint(path: &std::path::Path) -> String {
    match std::fs::metadata(path) {
        Ok(metadata) => {
            let modified = metadata
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            #[cfg(unix)]
            let inode = std::os::unix::fs::MetadataExt::ino(&metadata);
            #[cfg(not(unix))]
            let inode = 0u64;
            format!("{} {} {modified} {inode}", path.display(), metadata.len())
        }
        Err(_) => format!("{} -", path.display()),
    }
}

/// The keyring entry of one request, and what `cache list` shows of it.
#[derive(Debug, Clone)]
pub struct CacheKey {
    /// `v1-` and 32 hex digits of the SHA-256 of everything that determines the credentials.
    pub name: String,
    /// Which remembered role applies.
    pub source_id: String,
    pub buckets: Vec<String>,
    pub access: crate::core::policy::ScopeKind,
}

impl CacheKey {
    pub fn new(source: &Source, role: &str, request: &ServeRequest) -> CacheKey {
        let material = json!({
            "v": RECORD_VERSION,
            "m": {
                "source": source,
                "role": role,
                "policy": crate::core::policy::compact(request.scope.document()),
                "duration_seconds": request.duration.seconds(),
            }
        });
        CacheKey {
            name: format!("v{RECORD_VERSION}-{}", short_hash(&material.to_string())),
            source_id: source.id(),
            buckets: request.scope.buckets().to_vec(),
            access: request.scope.request().kind(),
        }
    }
}

fn short_hash(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .take(16)
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::{Access, PolicyRequest};
    use crate::core::request::{Scope, SessionDuration};
    use std::time::Duration;

    fn source() -> Source {
        Source {
            profile: None,
            endpoint: None,
            region: None,
            environment: BTreeMap::new(),
            files: vec!["/home/u/.aws/config 10 5 7".into()],
        }
    }

    fn request(access: Access, duration: &str) -> ServeRequest {
        let scope = Scope::new(PolicyRequest::new(vec!["b-one".into()], access)).unwrap();
        ServeRequest::new(
            scope,
            SessionDuration::parse(duration).unwrap(),
            Duration::from_secs(300),
            true,
        )
        .unwrap()
    }

    #[test]
    fn the_key_changes_with_everything_that_determines_the_credentials() {
        let base = CacheKey::new(&source(), "r", &request(Access::ReadOnly, "1h")).name;
        assert!(base.starts_with("v1-") && base.len() == 35, "{base}");
        assert_eq!(
            CacheKey::new(&source(), "r", &request(Access::ReadOnly, "1h")).name,
            base
        );
        let differs = |s: Source, role: &str, r: ServeRequest| {
            assert_ne!(CacheKey::new(&s, role, &r).name, base);
        };
        differs(source(), "r", request(Access::ReadWrite, "1h"));
        differs(source(), "r", request(Access::ReadOnly, "2h"));
        differs(source(), "other-role", request(Access::ReadOnly, "1h"));
        let mut s = source();
        s.profile = Some("prod".into());
        differs(s, "r", request(Access::ReadOnly, "1h"));
        let mut s = source();
        s.environment
            .insert("AWS_SHARED_CREDENTIALS_FILE".into(), "/other".into());
        differs(s, "r", request(Access::ReadOnly, "1h"));
        let mut s = source();
        s.files = vec!["/home/u/.aws/config 11 5 7".into()];
        differs(s, "r", request(Access::ReadOnly, "1h"));
    }

    #[test]
    fn every_identity_variable_is_covered() {
        for name in [
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_CONFIG_FILE",
            "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_ROLE_ARN",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            "AWS_ENDPOINT_URL_STS",
        ] {
            assert!(crate::env::SOURCE_IDENTITY.contains(&name), "{name}");
        }
        for secret in ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
            assert!(!crate::env::SOURCE_IDENTITY.contains(&secret));
        }
    }
}
