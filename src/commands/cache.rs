//! `s3creds cache list|clear`: the credential cache of `serve`, without ever showing a secret.

use crate::cache::CredentialCache;
use crate::cli::CacheCommand;
use crate::core::time::{from_unix_seconds, rfc3339, unix_seconds};
use crate::error::Result;
use crate::output::write_stdout;
use std::time::SystemTime;

pub fn run(command: &CacheCommand) -> Result<()> {
    match command {
        CacheCommand::List => {
            let entries = CredentialCache::for_management(false)?.entries();
            let now = unix_seconds(SystemTime::now());
            let mut out = String::new();
            if entries.is_empty() {
                out.push_str("The credential cache is empty.\n");
            }
            for entry in &entries {
                let expiry = from_unix_seconds(entry.expiration)
                    .and_then(|t| rfc3339(t).ok())
                    .unwrap_or_else(|| "(invalid)".to_string());
                let state = if entry.expiration <= now {
                    " (expired)"
                } else {
                    ""
                };
                out.push_str(&format!(
                    "{}  {}  {}  expires {expiry}{state}  [{}]\n",
                    entry.key,
                    entry.access.label(),
                    entry.buckets.join(","),
                    entry.backend
                ));
            }
            write_stdout(&out)
        }
        CacheCommand::Clear => {
            let count = CredentialCache::for_management(true)?.clear()?;
            write_stdout(&format!("Removed {count} cached credential(s).\n"))
        }
    }
}
