//! `--duration` values: `900`, `1200s`, `15m`, `1h`; between 15 minutes and 12 hours, as STS allows.

use crate::error::{Error, Result};
use std::time::Duration;

pub const MIN_SECONDS: u64 = 15 * 60;
pub const MAX_SECONDS: u64 = 12 * 60 * 60;

/// Parse a session duration the way s3-credentials does (`^\d+(s|m|h)?$`, no suffix means seconds) and
/// check the STS bounds.
pub fn parse_session_duration(text: &str) -> Result<Duration> {
    let seconds = parse_seconds(text)?;
    if !(MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        return Err(Error::invalid_with_hint(
            format!(
                "invalid --duration {text:?}: Duration must be between 15 minutes and 12 hours"
            ),
            "use a value from 15m (900) to 12h (43200)",
        ));
    }
    Ok(Duration::from_secs(seconds))
}

/// Parse `N`, `Ns`, `Nm` or `Nh` into seconds, without bounds.
pub fn parse_seconds(text: &str) -> Result<u64> {
    let bad = || {
        Error::invalid_with_hint(
            format!("invalid duration {text:?}"),
            "write a whole number of seconds, minutes or hours: 900, 1200s, 15m, 1h",
        )
    };
    let (digits, multiplier) = match text.as_bytes().last() {
        Some(b's') => (&text[..text.len() - 1], 1),
        Some(b'm') => (&text[..text.len() - 1], 60),
        Some(b'h') => (&text[..text.len() - 1], 3600),
        _ => (text, 1),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let value: u64 = digits.parse().map_err(|_| bad())?;
    value.checked_mul(multiplier).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_documented_forms() {
        for (text, seconds) in [
            ("900", 900),
            ("1200s", 1200),
            ("15m", 900),
            ("1h", 3600),
            ("12h", 43200),
            ("43200", 43200),
        ] {
            assert_eq!(
                parse_session_duration(text).unwrap(),
                Duration::from_secs(seconds),
                "{text}"
            );
        }
    }

    #[test]
    fn rejects_out_of_range_and_malformed_values() {
        for text in [
            "899",
            "14m",
            "13h",
            "43201",
            "0",
            "",
            "h",
            "1.5h",
            "-15m",
            "15 m",
            "1d",
            "1hm",
            "m15",
            "99999999999999999999h",
        ] {
            let error = parse_session_duration(text).unwrap_err();
            assert_eq!(
                error.exit_code(),
                crate::error::exit_code::INVALID_INPUT,
                "{text}"
            );
        }
        let message = parse_session_duration("14m").unwrap_err().to_string();
        assert!(
            message.contains("Duration must be between 15 minutes and 12 hours"),
            "{message}"
        );
    }
}
