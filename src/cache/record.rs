//! The versioned record kept in the keyring for one set of cached credentials. Decoding is strict and
//! range-checked: anything that is not a complete, plausible record of this version is a miss (and is
//! then replaced), never a crash.

use crate::core::time::{from_unix_seconds, unix_seconds};
use crate::credentials::SessionCredentials;
use crate::secret::Secret;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime};

/// Bump when the record layout changes: older records then read as misses and are replaced.
pub const RECORD_VERSION: u32 = 1;

/// STS never issues credentials for longer than 12 hours; a record claiming more (with a little slack
/// for clock skew) was not written by s3creds.
const LONGEST_PLAUSIBLE_LIFETIME: Duration = Duration::from_secs(12 * 3600 + 600);
/// STS keys, secrets and tokens are well under this; a longer field means a corrupted record.
const MAX_FIELD_BYTES: usize = 8192;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredRecord {
    v: u32,
    k: String,
    s: String,
    t: String,
    /// Expiration, seconds since the epoch.
    e: u64,
}

pub fn encode(credentials: &SessionCredentials) -> String {
    serde_json::to_string(&StoredRecord {
        v: RECORD_VERSION,
        k: credentials.access_key_id.clone(),
        s: credentials.secret_access_key.expose().to_string(),
        t: credentials.session_token.expose().to_string(),
        e: unix_seconds(credentials.expiration),
    })
    .expect("a record of strings and numbers always serializes")
}

/// None for anything that is not a complete record of this version whose expiry is plausible at `now`.
pub fn decode(text: &str, now: SystemTime) -> Option<SessionCredentials> {
    let stored: StoredRecord = serde_json::from_str(text).ok()?;
    let fields = [&stored.k, &stored.s, &stored.t];
    if stored.v != RECORD_VERSION
        || fields
            .iter()
            .any(|f| f.is_empty() || f.len() > MAX_FIELD_BYTES)
    {
        return None;
    }
    let expiration = from_unix_seconds(stored.e)?;
    let latest = now.checked_add(LONGEST_PLAUSIBLE_LIFETIME)?;
    if expiration > latest {
        return None;
    }
    Some(SessionCredentials {
        access_key_id: stored.k,
        secret_access_key: Secret::new(stored.s),
        session_token: Secret::new(stored.t),
        expiration,
    })
}

/// Usable when more than `window` remains before expiry.
pub fn is_fresh(credentials: &SessionCredentials, window: Duration, now: SystemTime) -> bool {
    credentials
        .expiration
        .duration_since(now)
        .is_ok_and(|left| left > window)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_999_990_000)
    }

    fn credentials() -> SessionCredentials {
        SessionCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("secret"),
            session_token: Secret::new("token"),
            expiration: UNIX_EPOCH + Duration::from_secs(2_000_000_000),
        }
    }

    #[test]
    fn records_round_trip() {
        let decoded = decode(&encode(&credentials()), now()).unwrap();
        assert_eq!(decoded, credentials());
    }

    #[test]
    fn garbage_truncated_absurd_and_negative_records_are_misses() {
        let good = encode(&credentials());
        let absurd = [
            // Beyond year 9999 (passed `is_fresh`, then crashed when formatted).
            r#"{"v":1,"k":"a","s":"b","t":"c","e":253402300800}"#.to_string(),
            // 2^63 and u64::MAX seconds (overflowed when added to the epoch).
            format!(r#"{{"v":1,"k":"a","s":"b","t":"c","e":{}}}"#, 1u64 << 63),
            format!(r#"{{"v":1,"k":"a","s":"b","t":"c","e":{}}}"#, u64::MAX),
            // Further out than STS ever issues.
            r#"{"v":1,"k":"a","s":"b","t":"c","e":2100000000}"#.to_string(),
            // Negative, fractional, or too large for u64.
            r#"{"v":1,"k":"a","s":"b","t":"c","e":-5}"#.to_string(),
            r#"{"v":1,"k":"a","s":"b","t":"c","e":1.5}"#.to_string(),
            r#"{"v":1,"k":"a","s":"b","t":"c","e":99999999999999999999999}"#.to_string(),
            // Other versions, missing and empty fields, unknown fields.
            r#"{"v":99,"k":"a","s":"b","t":"c","e":1}"#.to_string(),
            r#"{"v":1,"k":"","s":"b","t":"c","e":1}"#.to_string(),
            r#"{"v":1,"k":"a","s":"b","e":1}"#.to_string(),
            r#"{"v":1,"k":"a","s":"b","t":"c","e":1,"x":0}"#.to_string(),
            format!(
                r#"{{"v":1,"k":"a","s":"{}","t":"c","e":1}}"#,
                "x".repeat(9000)
            ),
            String::new(),
            "{}".into(),
            "not json".into(),
            good[..good.len() / 2].to_string(),
            good[..good.len() - 1].to_string(),
        ];
        for bad in &absurd {
            assert!(decode(bad, now()).is_none(), "{bad}");
        }
    }

    #[test]
    fn freshness_respects_the_refresh_window() {
        let mut c = credentials();
        c.expiration = now() + Duration::from_secs(600);
        assert!(is_fresh(&c, Duration::from_secs(300), now()));
        assert!(!is_fresh(&c, Duration::from_secs(900), now()));
        c.expiration = now() - Duration::from_secs(1);
        assert!(!is_fresh(&c, Duration::ZERO, now()));
    }
}
