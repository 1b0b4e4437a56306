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

/// Seconds since 1970 of an RFC 3339 time in UTC as IAM writes it: `2026-01-01T12:00:00Z` or
/// `2026-01-01T12:00:00+00:00` (the credential report), an optional fraction ignored. None for any
/// other form or offset, and for times before 1970 or after 9999.
pub fn parse_utc_rfc3339(text: &str) -> Option<u64> {
    let (date, rest) = text.split_once('T')?;
    let time = rest
        .strip_suffix('Z')
        .or_else(|| rest.strip_suffix("+00:00"))?;
    let time = time.split_once('.').map_or(time, |(whole, fraction)| {
        if !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit()) {
            whole
        } else {
            "invalid"
        }
    });
    let numbers = |part: &str, widths: &[usize]| -> Option<Vec<u64>> {
        let fields: Vec<&str> = part
            .split(if part.contains(':') { ':' } else { '-' })
            .collect();
        (fields.len() == widths.len()
            && fields
                .iter()
                .zip(widths)
                .all(|(f, w)| f.len() == *w && f.bytes().all(|b| b.is_ascii_digit())))
        .then(|| fields.iter().map(|f| f.parse().unwrap_or(0)).collect())
    };
    let ymd = numbers(date, &[4, 2, 2])?;
    let hms = numbers(time, &[2, 2, 2])?;
    let (year, month, day) = (ymd[0], ymd[1], ymd[2]);
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day == 0
        || day > days_in_month(year, month)
        || hms[0] > 23
        || hms[1] > 59
        || hms[2] > 59
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2])
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) from 1970 on to days since 1970-01-01, Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let yoe = year - era * 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
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
    fn utc_times_read_back_in_both_forms_iam_writes() {
        for seconds in [
            0,
            951_782_400,
            1_636_600_000,
            2_000_000_000,
            MAX_UNIX_SECONDS,
        ] {
            let text = rfc3339(at(seconds)).unwrap();
            assert_eq!(parse_utc_rfc3339(&text), Some(seconds), "{text}");
            let offset = text.replace('Z', "+00:00");
            assert_eq!(parse_utc_rfc3339(&offset), Some(seconds), "{offset}");
        }
        assert_eq!(
            parse_utc_rfc3339("2021-11-11T03:06:40.582Z"),
            Some(1_636_600_000)
        );
        for bad in [
            "",
            "N/A",
            "not_supported",
            "2021-11-11",
            "2021-11-11T03:06:40",
            "2021-11-11T03:06:40+01:00",
            "2021-02-29T00:00:00Z",
            "2021-13-01T00:00:00Z",
            "2021-11-11T24:00:00Z",
            "1969-12-31T23:59:59Z",
            "2021-11-11T03:06:40.Z",
            "2021-1-11T03:06:40Z",
            "+021-11-11T03:06:40Z",
        ] {
            assert_eq!(parse_utc_rfc3339(bad), None, "{bad}");
        }
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
