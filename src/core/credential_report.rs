//! The IAM credential report (GetCredentialReport's CSV), read for what `list` needs: the last use of
//! each user's access keys, for the whole account in one call instead of one GetAccessKeyLastUsed per
//! key.
//!
//! The report names a user's keys by slot (`access_key_1_*`, `access_key_2_*`), not by ID, so a key
//! is matched to its slot by its creation time (`last_rotated`). Anything the report does not say
//! plainly gives no answer, and the caller asks GetAccessKeyLastUsed for that key: a key created after
//! the report, two slots with one creation time, a row that does not parse, or a value such as
//! `not_supported` where a service or region belongs.

use crate::core::expiry::parse_rfc3339;
use std::collections::HashMap;

/// What the report says of one key's last use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportedUse {
    /// `N/A` as the last-used date: the key was never used.
    Never,
    /// Used at `date` (seconds since 1970); region and service are None where the report says `N/A`
    /// (keys last used before AWS recorded them).
    Used {
        date: u64,
        region: Option<String>,
        service: Option<String>,
    },
}

/// One access-key slot of a user's row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeySlot {
    created: u64,
    /// None when the report's values for this slot cannot be read plainly.
    last_use: Option<ReportedUse>,
}

/// The report, by user ARN (which ListUsers and GetAccountAuthorizationDetails give as well).
#[derive(Debug, Default)]
pub struct CredentialReport {
    users: HashMap<String, Vec<KeySlot>>,
}

/// The columns `list` reads; a report without all of them is not read at all.
const ARN: &str = "arn";
const SLOT_COLUMNS: [&str; 4] = [
    "last_rotated",
    "last_used_date",
    "last_used_region",
    "last_used_service",
];

impl CredentialReport {
    /// None when the header lacks a column `list` needs. Rows that do not parse are left out, so
    /// their users' keys are asked about one by one.
    pub fn parse(csv: &str) -> Option<CredentialReport> {
        let mut lines = csv.lines();
        let header = csv_fields(lines.next()?)?;
        let column = |name: &str| header.iter().position(|h| h == name);
        let arn = column(ARN)?;
        let mut slots = Vec::new();
        for slot in ["access_key_1", "access_key_2"] {
            let mut indices = [0; 4];
            for (index, suffix) in indices.iter_mut().zip(SLOT_COLUMNS) {
                *index = column(&format!("{slot}_{suffix}"))?;
            }
            slots.push(indices);
        }
        let mut users = HashMap::new();
        for line in lines.filter(|l| !l.is_empty()) {
            let Some(fields) = csv_fields(line).filter(|f| f.len() == header.len()) else {
                continue;
            };
            let keys = slots
                .iter()
                .filter_map(|[rotated, date, region, service]| {
                    let created = parse_utc_rfc3339(&fields[*rotated])?;
                    let last_use =
                        reported_use(&fields[*date], &fields[*region], &fields[*service]);
                    Some(KeySlot { created, last_use })
                })
                .collect();
            users.insert(fields[arn].clone(), keys);
        }
        Some(CredentialReport { users })
    }

    /// The last use of the key of `user_arn` created at `key_created` (seconds since 1970), when
    /// exactly one slot of that user has that creation time and says plainly how it was used.
    pub fn last_use(&self, user_arn: &str, key_created: u64) -> Option<&ReportedUse> {
        let slots = self.users.get(user_arn)?;
        let mut matching = slots.iter().filter(|s| s.created == key_created);
        let slot = matching.next()?;
        if matching.next().is_some() {
            return None;
        }
        slot.last_use.as_ref()
    }
}

/// Seconds since 1970 of a time as the report writes it: RFC 3339 in UTC (`+00:00` or `Z`), parsed by
/// the parser of `--expires` and the expiry tag. Anything else (a date alone, another offset) is no
/// answer rather than a guess.
fn parse_utc_rfc3339(text: &str) -> Option<u64> {
    let utc = (text.ends_with('Z') || text.ends_with("+00:00")) && text.contains('T');
    utc.then(|| parse_rfc3339(text)).flatten()
}

fn reported_use(date: &str, region: &str, service: &str) -> Option<ReportedUse> {
    if date == "N/A" {
        return Some(ReportedUse::Never);
    }
    let date = parse_utc_rfc3339(date)?;
    // A name, or `N/A` for a use AWS did not record the details of; anything else (moto's
    // `not_supported`, an empty field) is not an answer.
    let detail = |text: &str| -> Option<Option<String>> {
        match text {
            "N/A" => Some(None),
            _ if !text.is_empty()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
            {
                Some(Some(text.to_string()))
            }
            _ => None,
        }
    };
    Some(ReportedUse::Used {
        date,
        region: detail(region)?,
        service: detail(service)?,
    })
}

/// One CSV record on one line (RFC 4180 quoting, `""` for a quote). None for an unterminated quote
/// or text after a closing quote. A field cannot hold a line break here, which a credential report's
/// fields never do.
fn csv_fields(line: &str) -> Option<Vec<String>> {
    let line = line.strip_suffix('\r').unwrap_or(line);
    let mut fields = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => break,
                    c => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Some(fields);
                }
                Some(',') => {}
                Some(_) => return None,
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Some(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
        }
        fields.push(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_read_back_in_both_forms_iam_writes() {
        use crate::core::time::{rfc3339, MAX_UNIX_SECONDS};
        use std::time::{Duration, UNIX_EPOCH};
        let at = |seconds: u64| UNIX_EPOCH + Duration::from_secs(seconds);
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

    const HEADER: &str = "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,cert_1_last_rotated,cert_2_active,cert_2_last_rotated";

    fn row(name: &str, key1: [&str; 4], key2: [&str; 4]) -> String {
        format!(
            "{name},arn:aws:iam::123456789012:user/{name},2026-01-01T00:00:00+00:00,false,N/A,N/A,N/A,false,true,{},true,{},false,N/A,false,N/A",
            key1.join(","),
            key2.join(",")
        )
    }

    const NONE: [&str; 4] = ["N/A", "N/A", "N/A", "N/A"];
    const CREATED: &str = "2026-01-02T03:04:05+00:00";
    const CREATED_S: u64 = 1_767_323_045;

    fn arn(name: &str) -> String {
        format!("arn:aws:iam::123456789012:user/{name}")
    }

    #[test]
    fn a_key_never_used_and_a_key_used_are_read_by_creation_time() {
        let csv = format!(
            "{HEADER}\n{}\n{}\n",
            row("never", [CREATED, "N/A", "N/A", "N/A"], NONE),
            row(
                "used",
                ["2026-01-01T00:00:00+00:00", "N/A", "N/A", "N/A"],
                [CREATED, "2026-02-01T00:00:00+00:00", "eu-west-1", "s3"]
            ),
        );
        let report = CredentialReport::parse(&csv).unwrap();
        assert_eq!(
            report.last_use(&arn("never"), CREATED_S),
            Some(&ReportedUse::Never)
        );
        assert_eq!(
            report.last_use(&arn("used"), CREATED_S),
            Some(&ReportedUse::Used {
                date: 1_769_904_000,
                region: Some("eu-west-1".into()),
                service: Some("s3".into()),
            })
        );
        assert_eq!(
            report.last_use(&arn("used"), 1_767_225_600),
            Some(&ReportedUse::Never)
        );
        // A key created after the report, or a user not in it: no answer.
        assert_eq!(report.last_use(&arn("never"), CREATED_S + 1), None);
        assert_eq!(report.last_use(&arn("other"), CREATED_S), None);
    }

    #[test]
    fn what_the_report_does_not_say_plainly_is_no_answer() {
        let csv = format!(
            "{HEADER}\r\n{}\r\n{}\r\n{}\r\n",
            // moto's placeholders for region and service.
            row(
                "moto",
                [
                    CREATED,
                    "2026-02-01T00:00:00+00:00",
                    "not_supported",
                    "not_supported"
                ],
                NONE
            ),
            // Two keys created in the same second: which is which is unknown.
            row(
                "twins",
                [CREATED, "N/A", "N/A", "N/A"],
                [CREATED, "2026-02-01T00:00:00+00:00", "us-east-1", "s3"]
            ),
            row("garbled", [CREATED, "yesterday", "N/A", "N/A"], NONE),
        );
        let report = CredentialReport::parse(&csv).unwrap();
        assert_eq!(report.last_use(&arn("moto"), CREATED_S), None);
        assert_eq!(report.last_use(&arn("twins"), CREATED_S), None);
        assert_eq!(report.last_use(&arn("garbled"), CREATED_S), None);
        // A use AWS recorded without details keeps its date.
        let csv = format!(
            "{HEADER}\n{}\n",
            row(
                "old",
                [CREATED, "2015-01-01T00:00:00+00:00", "N/A", "N/A"],
                NONE
            )
        );
        assert_eq!(
            CredentialReport::parse(&csv)
                .unwrap()
                .last_use(&arn("old"), CREATED_S),
            Some(&ReportedUse::Used {
                date: 1_420_070_400,
                region: None,
                service: None
            })
        );
    }

    #[test]
    fn quoted_fields_and_broken_rows() {
        let quoted = row("a,b", [CREATED, "N/A", "N/A", "N/A"], NONE).replacen(
            "a,b,arn:aws:iam::123456789012:user/a,b",
            "\"a,b\",\"arn:aws:iam::123456789012:user/a,b\"",
            1,
        );
        let unquoted = row("c,d", [CREATED, "N/A", "N/A", "N/A"], NONE);
        let unterminated = row("e", [CREATED, "N/A", "N/A", "N/A"], NONE).replacen("e,", "\"e,", 1);
        let csv = format!("{HEADER}\n{quoted}\n{unquoted}\n{unterminated}\n");
        let report = CredentialReport::parse(&csv).unwrap();
        assert_eq!(
            report.last_use(&arn("a,b"), CREATED_S),
            Some(&ReportedUse::Never)
        );
        // An unquoted comma shifts the columns: the row is left out, not misread.
        assert_eq!(report.last_use(&arn("c,d"), CREATED_S), None);
        assert_eq!(report.last_use(&arn("e"), CREATED_S), None);
        assert_eq!(
            csv_fields(r#"x,"say ""hi""",,"#).unwrap(),
            ["x", "say \"hi\"", "", ""]
        );
        assert_eq!(csv_fields(r#""a"b"#), None);
    }

    #[test]
    fn a_report_without_the_key_columns_is_not_read() {
        assert!(CredentialReport::parse("").is_none());
        assert!(CredentialReport::parse("user,arn\nx,arn:x\n").is_none());
        let without_service = HEADER.replace(",access_key_2_last_used_service", "");
        assert!(CredentialReport::parse(&without_service).is_none());
        assert!(CredentialReport::parse(HEADER).is_some());
    }
}
