//! The credentials s3creds hands out, one type shared by every producer (`apply`) and consumer (the
//! output formats, the credential cache, `serve`).

use crate::secret::Secret;
use std::time::SystemTime;

/// Temporary STS credentials: what `create --duration` prints, `serve` caches and hands out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCredentials {
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Secret,
    pub expiration: SystemTime,
}

/// A new access key of an IAM user: permanent credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessKey {
    pub user_name: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub status: String,
    pub create_date: Option<SystemTime>,
}

/// Credentials returned by `create`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssuedCredentials {
    AccessKey(AccessKey),
    Session(SessionCredentials),
}

impl IssuedCredentials {
    pub fn access_key_id(&self) -> &str {
        match self {
            IssuedCredentials::AccessKey(key) => &key.access_key_id,
            IssuedCredentials::Session(session) => &session.access_key_id,
        }
    }
}
