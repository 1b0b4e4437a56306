//! `--expires`: when permanent credentials stop working by themselves.
//!
//! The value is a duration from now (`30d`, `12h`, `90m`, `3600s`), a date (`2027-01-31`, midnight
//! UTC) or an RFC 3339 instant with `Z` or an offset (normalised to UTC, whole seconds). The expiry
//! becomes a `DateLessThan aws:CurrentTime` condition on every Allow statement of the policy, so IAM
//! itself refuses the key afterwards, even if nobody ever runs a cleanup. The current time is passed
//! in: this module is pure.

use super::duration;
use super::time;
use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime};

/// Closer than this is refused: IAM takes seconds to propagate a policy, and a key that dies before
/// anyone can use it is surely a mistake.
pub const MIN_AHEAD: Duration = Duration::from_secs(5 * 60);
/// Farther than this is refused as a probable typo (2207 for 2027).
pub const MAX_AHEAD: Duration = Duration::from_secs(10 * 366 * 86_400);

const CONDITION_OPERATOR: &str = "DateLessThan";
const CONDITION_KEY: &str = "aws:CurrentTime";

/// A validated expiry instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    unix_seconds: u64,
    rfc3339: String,
}

impl Expiry {
    /// Parse `text` relative to `now` and check it is between 5 minutes and 10 years ahead.
    pub fn parse(text: &str, now: SystemTime) -> Result<Expiry> {
        let now_seconds = time::unix_seconds(now);
        let unix_seconds = match parse_relative(text)? {
            Some(seconds) => now_seconds.checked_add(seconds).ok_or_else(|| bad(text))?,
            None => parse_absolute(text).ok_or_else(|| bad(text))?,
        };
        if unix_seconds < now_seconds + MIN_AHEAD.as_secs() {
            return Err(Error::invalid_with_hint(
                format!("invalid --expires {text:?}: it must be at least 5 minutes in the future"),
                "give a later date, or a duration such as 30d",
            ));
        }
        if unix_seconds > now_seconds + MAX_AHEAD.as_secs() {
            return Err(Error::invalid_with_hint(
                format!("invalid --expires {text:?}: more than 10 years ahead, probably a typo"),
                "credentials that should outlive a decade do not need --expires",
            ));
        }
        let rfc3339 = time::from_unix_seconds(unix_seconds)
            .and_then(|t| time::rfc3339(t).ok())
            .ok_or_else(|| bad(text))?;
        Ok(Expiry {
            unix_seconds,
            rfc3339,
        })
    }

    /// `2027-01-31T12:00:00Z`.
    pub fn as_rfc3339(&self) -> &str {
        &self.rfc3339
    }

    pub fn unix_seconds(&self) -> u64 {
        self.unix_seconds
    }
}

fn bad(text: &str) -> Error {
    Error::invalid_with_hint(
        format!("invalid --expires {text:?}"),
        "give a duration (30d, 12h, 90m), a date (2027-01-31) or a time (2027-01-31T12:00:00Z)",
    )
}

/// `Nd`, `Nh`, `Nm`, `Ns` or bare seconds; `None` when `text` is not a duration at all.
fn parse_relative(text: &str) -> Result<Option<u64>> {
    if text.contains('-') || text.contains(':') || text.is_empty() {
        return Ok(None);
    }
    // Days are allowed here (not for --duration, which STS caps at 12 hours).
    if let Some(days) = text.strip_suffix('d') {
        if days.is_empty() || !days.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(text));
        }
        let days: u64 = days.parse().map_err(|_| bad(text))?;
        return days.checked_mul(86_400).map(Some).ok_or_else(|| bad(text));
    }
    duration::parse_seconds(text)
        .map(Some)
        .map_err(|_| bad(text))
}

/// `YYYY-MM-DD`, or `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`, to seconds since 1970.
fn parse_absolute(text: &str) -> Option<u64> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        if part.bytes().all(|b| b.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1970..=9999).contains(&year) || !(1..=12).contains(&month) {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let midnight = days_from_civil(year, month, day) * 86_400;
    if bytes.len() == 10 {
        return u64::try_from(midnight).ok();
    }
    if !matches!(bytes[10], b'T' | b't')
        || bytes.len() < 20
        || bytes[13] != b':'
        || bytes[16] != b':'
    {
        return None;
    }
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &text[19..];
    // A fraction is dropped: IAM compares whole seconds.
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset_seconds = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let offset = rest.get(1..)?;
            if offset.len() != 5 || offset.as_bytes()[2] != b':' {
                return None;
            }
            let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
            let (h, m) = (&offset[0..2], &offset[3..5]);
            if !all_digits(h) || !all_digits(m) {
                return None;
            }
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let local = midnight + hour * 3600 + minute * 60 + second;
    u64::try_from(local - offset_seconds).ok()
}

/// Seconds since 1970 of an RFC 3339 time (or a date), as the `s3creds:expires` tag holds it.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    parse_absolute(text)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// (year, month, day) to days since 1970-01-01, Howard Hinnant's `days_from_civil`.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Add `DateLessThan aws:CurrentTime < expiry` to every Allow statement of `document`, merged with the
/// conditions each already has. Deny statements are left alone: they only take permissions away. A
/// statement that already ends earlier keeps its own, earlier, instant; one whose existing
/// `aws:CurrentTime` bound cannot be compared is refused rather than loosened.
pub fn add_expiry(document: &Value, expiry: &Expiry) -> Result<Value> {
    let mut document = document.clone();
    let Some(statements) = document.get_mut("Statement") else {
        return Ok(document);
    };
    match statements {
        Value::Array(list) => {
            for (index, statement) in list.iter_mut().enumerate() {
                add_to_statement(statement, index, expiry)?;
            }
        }
        statement @ Value::Object(_) => add_to_statement(statement, 0, expiry)?,
        _ => {}
    }
    Ok(document)
}

fn add_to_statement(statement: &mut Value, index: usize, expiry: &Expiry) -> Result<()> {
    let Some(fields) = statement.as_object_mut() else {
        return Ok(());
    };
    if fields.get("Effect").and_then(Value::as_str) != Some("Allow") {
        return Ok(());
    }
    let refuse = |why: &str| {
        Error::invalid_with_hint(
            format!("--expires: policy statement {index} {why}"),
            "remove that condition from the statement, or drop --expires",
        )
    };
    let condition = fields
        .entry("Condition")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| refuse("has a Condition that is not an object"))?;
    let operator = condition
        .entry(CONDITION_OPERATOR)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or_else(|| refuse("has a DateLessThan that is not an object"))?;
    let ours = Value::String(expiry.as_rfc3339().to_string());
    match operator.get(CONDITION_KEY) {
        None => {
            operator.insert(CONDITION_KEY.to_string(), ours);
        }
        Some(Value::String(existing)) => match parse_absolute(existing) {
            Some(seconds) if seconds <= expiry.unix_seconds() => {}
            Some(_) => {
                operator.insert(CONDITION_KEY.to_string(), ours);
            }
            None => return Err(refuse("has an aws:CurrentTime bound s3creds cannot read")),
        },
        Some(_) => return Err(refuse("has several aws:CurrentTime bounds")),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::exit_code;
    use serde_json::json;
    use std::time::UNIX_EPOCH;

    /// 2026-11-28T18:00:00Z.
    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_795_888_800)
    }

    fn parsed(text: &str) -> String {
        Expiry::parse(text, now())
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .as_rfc3339()
            .to_string()
    }

    #[test]
    fn durations_dates_and_instants() {
        assert_eq!(time::rfc3339(now()).unwrap(), "2026-11-28T18:00:00Z");
        assert_eq!(parsed("30d"), "2026-12-28T18:00:00Z");
        assert_eq!(parsed("12h"), "2026-11-29T06:00:00Z");
        assert_eq!(parsed("90m"), "2026-11-28T19:30:00Z");
        assert_eq!(parsed("3600s"), "2026-11-28T19:00:00Z");
        assert_eq!(parsed("3600"), "2026-11-28T19:00:00Z");
        assert_eq!(parsed("2027-01-31"), "2027-01-31T00:00:00Z");
        assert_eq!(parsed("2028-02-29"), "2028-02-29T00:00:00Z");
        assert_eq!(parsed("2027-01-31T12:00:00Z"), "2027-01-31T12:00:00Z");
        assert_eq!(parsed("2027-01-31t12:00:00.999z"), "2027-01-31T12:00:00Z");
        assert_eq!(parsed("2027-01-31T12:00:00+02:00"), "2027-01-31T10:00:00Z");
        assert_eq!(parsed("2027-01-31T23:30:00-01:00"), "2027-02-01T00:30:00Z");
        assert_eq!(parsed("2036-11-27"), "2036-11-27T00:00:00Z");
    }

    #[test]
    fn past_near_far_and_malformed_are_refused() {
        for (text, expected) in [
            ("2026-11-28T17:00:00Z", "at least 5 minutes"),
            ("2026-11-28T18:04:59Z", "at least 5 minutes"),
            ("4m", "at least 5 minutes"),
            ("0d", "at least 5 minutes"),
            ("2020-01-01", "at least 5 minutes"),
            ("2207-01-31", "more than 10 years"),
            ("3700d", "more than 10 years"),
            ("99999999999999999999d", "invalid --expires"),
            ("2027-02-29", "invalid --expires"),
            ("2027-13-01", "invalid --expires"),
            ("2027-1-31", "invalid --expires"),
            ("2027-01-31T12:00:00", "invalid --expires"),
            ("2027-01-31T25:00:00Z", "invalid --expires"),
            ("2027-01-31T12:00:00+2:00", "invalid --expires"),
            ("2027-01-31 12:00:00Z", "invalid --expires"),
            ("2027-01-31T12:00:00.Z", "invalid --expires"),
            ("tomorrow", "invalid --expires"),
            ("1w", "invalid --expires"),
            ("-5d", "invalid --expires"),
            ("d", "invalid --expires"),
            ("", "invalid --expires"),
        ] {
            let error = Expiry::parse(text, now()).unwrap_err();
            assert_eq!(error.exit_code(), exit_code::INVALID_INPUT, "{text}");
            assert!(error.to_string().contains(expected), "{text}: {error}");
        }
        assert!(Expiry::parse("5m", now()).is_ok());
    }

    #[test]
    fn every_allow_statement_gets_the_condition_merged() {
        let expiry = Expiry::parse("2027-01-31T12:00:00Z", now()).unwrap();
        let document = json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "arn:aws:s3:::b",
             "Condition": {"StringLike": {"s3:prefix": ["a/*"]}}},
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*",
             "Condition": {"DateLessThan": {"aws:TokenIssueTime": "2030-01-01T00:00:00Z"}}},
            {"Effect": "Allow", "Action": "s3:PutObject", "Resource": "*",
             "Condition": {"DateLessThan": {"aws:CurrentTime": "2026-12-01T00:00:00Z"}}},
            {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "*",
             "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}},
            {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::other"}
        ]});
        let with = add_expiry(&document, &expiry).unwrap();
        let at = "2027-01-31T12:00:00Z";
        assert_eq!(
            with["Statement"][0]["Condition"],
            json!({"StringLike": {"s3:prefix": ["a/*"]}, "DateLessThan": {"aws:CurrentTime": at}})
        );
        assert_eq!(
            with["Statement"][1]["Condition"]["DateLessThan"],
            json!({"aws:TokenIssueTime": "2030-01-01T00:00:00Z", "aws:CurrentTime": at})
        );
        assert_eq!(
            with["Statement"][2]["Condition"]["DateLessThan"],
            json!({"aws:CurrentTime": "2026-12-01T00:00:00Z"}),
            "an earlier bound stays"
        );
        assert_eq!(
            with["Statement"][3]["Condition"]["DateLessThan"],
            json!({"aws:CurrentTime": at}),
            "a later bound is tightened"
        );
        assert_eq!(with["Statement"][4], document["Statement"][4]);
        let single = json!({"Statement": {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}});
        assert_eq!(
            add_expiry(&single, &expiry).unwrap()["Statement"]["Condition"],
            json!({"DateLessThan": {"aws:CurrentTime": at}})
        );
        for unreadable in [
            json!({"Statement": [{"Effect": "Allow", "Condition": {"DateLessThan": {"aws:CurrentTime": ["a", "b"]}}}]}),
            json!({"Statement": [{"Effect": "Allow", "Condition": {"DateLessThan": {"aws:CurrentTime": "soon"}}}]}),
            json!({"Statement": [{"Effect": "Allow", "Condition": "x"}]}),
        ] {
            let error = add_expiry(&unreadable, &expiry).unwrap_err();
            assert_eq!(error.exit_code(), exit_code::INVALID_INPUT);
        }
    }
}
