//! Every environment variable s3creds reads, in one place. Other modules name a constant from here, so
//! what the environment can change is listed once (and the cache key can cover all of it).

use std::ffi::OsString;

/// `S3CREDS_KEYRING=auto|secret-service|keyutils|none`: which keyring the cache uses.
pub const KEYRING: &str = "S3CREDS_KEYRING";
/// Where the cache keeps its non-secret bookkeeping (index, remembered roles, locks).
pub const CACHE_DIR: &str = "S3CREDS_CACHE_DIR";
/// Where plugins are installed.
pub const DATA_DIR: &str = "S3CREDS_DATA_DIR";
/// Set while `serve` runs, so a nested `serve` (started by aws-config for the source profile) stops.
pub const SERVING_MARKER: &str = "S3CREDS_SERVING";
/// Set only for the endpoint process that `exec` starts beside its command (Linux): the pid of the
/// process it serves, which becomes the command.
#[cfg(unix)]
pub const EXEC_ENDPOINT: &str = "S3CREDS_EXEC_ENDPOINT";
/// The cargo that plugin builds use (set by cargo itself for `cargo s3creds`).
pub const CARGO: &str = "CARGO";
/// A D-Bus session bus, which Secret Service needs (Linux).
#[cfg(target_os = "linux")]
pub const DBUS_SESSION: &str = "DBUS_SESSION_BUS_ADDRESS";

pub const AWS_PROFILE: &str = "AWS_PROFILE";
pub const AWS_REGION: &str = "AWS_REGION";
pub const AWS_DEFAULT_REGION: &str = "AWS_DEFAULT_REGION";
pub const AWS_ENDPOINT_URL_S3: &str = "AWS_ENDPOINT_URL_S3";
pub const AWS_CONFIG_FILE: &str = "AWS_CONFIG_FILE";
pub const AWS_SHARED_CREDENTIALS_FILE: &str = "AWS_SHARED_CREDENTIALS_FILE";
pub const AWS_EC2_METADATA_DISABLED: &str = "AWS_EC2_METADATA_DISABLED";
// `S3CREDS_CONNECT_TIMEOUT`, `S3CREDS_READ_TIMEOUT`, `S3CREDS_OPERATION_TIMEOUT` are named in
// `aws::timeouts`, beside the options they back.

/// Every variable through which aws-config can change *who* the source identity is or *where* its
/// calls go (credentials, profiles and their files, web identity, containers, instance metadata,
/// endpoints, regions). The credential cache key covers the values of all that are set, so switching
/// any of them can never serve credentials cached for another identity. Secret values are never
/// included: `AWS_SECRET_ACCESS_KEY`/`AWS_SESSION_TOKEN` go with `AWS_ACCESS_KEY_ID`, which is.
pub const SOURCE_IDENTITY: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ACCESS_KEY_ID",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_EC2_METADATA_DISABLED",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT",
    "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
    "AWS_SSO_SESSION",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_STS",
    "AWS_ENDPOINT_URL_IAM",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_USE_FIPS_ENDPOINT",
    "AWS_USE_DUALSTACK_ENDPOINT",
    "AWS_STS_REGIONAL_ENDPOINTS",
];

/// The value of `name`, if set and not empty (an empty variable means "unset" to the AWS SDKs too).
pub fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Like [`var`], for paths that need not be UTF-8.
pub fn var_os(name: &str) -> Option<OsString> {
    std::env::var_os(name).filter(|v| !v.is_empty())
}

/// Whether `name` is set at all (even empty).
pub fn is_set(name: &str) -> bool {
    std::env::var_os(name).is_some()
}
