//! Timestamps as s3creds writes them: RFC 3339 in UTC with a `Z`, the one form every AWS SDK parses.
//! Total functions: a time that cannot be written is an error, never a panic (a tampered cache record
//! or an absurd value must not crash `serve`).

use crate::error::{Error, Result};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The last instant RFC 3339 can express: 9999-12-31T23:59:59Z.
pub const MAX_UNIX_SECONDS: u64 = 253_402_300_799;

/// `2026-01-01T12:00:00Z`. Sub-second parts are dropped.
pub fn rfc3339(time: SystemTime) -> Result<String> {
    let seconds = unix_seconds(time);
    if seconds > MAX_UNIX_SECONDS {
        return Err(Error::Internal(format!(
            "the time {seconds}s after 1970 cannot be written as RFC 3339"
        )));
    }
    let days = seconds / 86_400;
    let rest = seconds % 86_400;
    let (year, month, day) = civil_from_days(days);
    Ok(format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    ))
}

/// Seconds since 1970; times before it count as 0.
pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The instant `seconds` after 1970, if RFC 3339 can write it.
pub fn from_unix_seconds(seconds: u64) -> Option<SystemTime> {
    if seconds > MAX_UNIX_SECONDS {
        return None;
    }
    UNIX_EPOCH.checked_add(Duration::from_secs(seconds))
}

/// Days since 1970-01-01 to (year, month, day), Howard Hinnant's `civil_from_days`.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn formats_like_the_sdks_expect() {
        assert_eq!(rfc3339(at(0)).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(at(1_636_600_000)).unwrap(), "2021-11-11T03:06:40Z");
        assert_eq!(rfc3339(at(2_000_000_000)).unwrap(), "2033-05-18T03:33:20Z");
        assert_eq!(rfc3339(at(951_782_400)).unwrap(), "2000-02-29T00:00:00Z");
        assert_eq!(
            rfc3339(at(MAX_UNIX_SECONDS)).unwrap(),
            "9999-12-31T23:59:59Z"
        );
    }

    #[test]
    fn times_rfc3339_cannot_write_are_errors_not_panics() {
        assert!(rfc3339(at(MAX_UNIX_SECONDS + 1)).is_err());
        assert!(from_unix_seconds(MAX_UNIX_SECONDS + 1).is_none());
        assert!(from_unix_seconds(u64::MAX).is_none());
        assert!(from_unix_seconds(1 << 63).is_none());
        assert_eq!(from_unix_seconds(5), Some(at(5)));
    }
}

/// `2026-01-01 12:00:00.123456+00:00`: how s3-credentials prints AWS timestamps (Python's
/// `str(datetime)`), which its listing commands' users' scripts parse. Microseconds only when set.
pub fn python_datetime(time: SystemTime) -> Result<String> {
    let text = rfc3339(time)?;
    let micros = time
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_micros())
        .unwrap_or(0);
    let base = text.trim_end_matches('Z').replacen('T', " ", 1);
    Ok(if micros == 0 {
        format!("{base}+00:00")
    } else {
        format!("{base}.{micros:06}+00:00")
    })
}

#[cfg(test)]
mod python_tests {
    use super::*;

    #[test]
    fn python_datetime_matches_str_of_an_aware_datetime() {
        let time = UNIX_EPOCH + Duration::from_micros(1_636_600_000_582_495);
        assert_eq!(
            python_datetime(time).unwrap(),
            "2021-11-11 03:06:40.582495+00:00"
        );
        let whole = UNIX_EPOCH + Duration::from_secs(1_636_600_000);
        assert_eq!(python_datetime(whole).unwrap(), "2021-11-11 03:06:40+00:00");
    }
}
