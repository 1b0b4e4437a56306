//! Pure rules of the bucket and object commands: which local path an object key may be written to,
//! glob patterns, the keys uploads get, CORS values, the delete guards, public access block merging,
//! and the JSON shapes the Python tool prints. No I/O here; the commands and `aws::objects` use it.

use crate::error::{Error, Result};
use serde_json::{json, Value};

/// Multipart threshold and part size: objects larger than one part go up in parts of this size. 8 MiB is
/// the AWS CLI's default; with at most [`MAX_PARTS`] parts an upload can reach 80 GB, and memory stays
/// one part per transfer in flight.
pub const PART_SIZE: usize = 8 * 1024 * 1024;
/// S3's limit on the number of parts of one upload.
pub const MAX_PARTS: usize = 10_000;
/// Parts of one upload in flight at once (memory: PART_SIZE × this, whatever the object's size).
pub const PARTS_IN_FLIGHT: usize = 4;
/// Transfers at once for `put-objects` / `get-objects` unless `--concurrency` says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// DeleteObjects takes at most this many keys per call.
pub const DELETE_BATCH: usize = 1000;

/// The relative path components an object key is saved under, inside the output folder; or why the key
/// is refused. A key is refused rather than rewritten when writing it as-is could land outside the
/// folder or on another file than the key names: `..` components, absolute keys, backslashes (a path
/// separator on Windows), NUL, and keys that name a folder (ending in `/`).
pub fn local_path_for_key(key: &str) -> std::result::Result<Vec<&str>, String> {
    if key.is_empty() {
        return Err("the key is empty".into());
    }
    if key.contains('\0') {
        return Err("the key contains a NUL character".into());
    }
    if key.contains('\\') {
        return Err("the key contains a backslash, a path separator on Windows".into());
    }
    if key.starts_with('/') {
        return Err("the key is an absolute path".into());
    }
    if key.ends_with('/') {
        return Err("the key names a folder (it ends in /)".into());
    }
    let mut parts = Vec::new();
    for part in key.split('/') {
        match part {
            ".." => return Err("the key has a `..` component, which would leave the folder".into()),
            // `a//b` and `a/./b` name the same file as `a/b`; dropping the empty and `.` parts is safe.
            "" | "." => {}
            other => parts.push(other),
        }
    }
    if parts.is_empty() {
        return Err("the key has no file name".into());
    }
    Ok(parts)
}

/// What an object key becomes under the output folder of `get-objects`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalTarget<'a> {
    /// A file, at these components.
    File(Vec<&'a str>),
    /// A folder marker (a key ending in `/`, as the S3 console creates for "Create folder"): this
    /// folder is created and nothing is downloaded.
    Folder(Vec<&'a str>),
}

/// [`local_path_for_key`], with a key ending in `/` taken as a folder marker (checked the same way).
pub fn local_target_for_key(key: &str) -> std::result::Result<LocalTarget<'_>, String> {
    match key.strip_suffix('/') {
        Some(folder) if !folder.is_empty() && !folder.ends_with('/') => {
            local_path_for_key(folder).map(LocalTarget::Folder)
        }
        Some(_) => Err("the key names no folder".into()),
        None => local_path_for_key(key).map(LocalTarget::File),
    }
}

/// `list-bucket --urls`: the object's URL as the Python tool builds it, with the key percent-encoded
/// (every byte but RFC 3986's unreserved characters and `/`), so that a key with a space, `#`, `?` or
/// `%` gives a URL that names it.
pub fn object_url(bucket: &str, key: &str) -> String {
    let mut url = format!("https://s3.amazonaws.com/{bucket}/");
    for byte in key.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            url.push(byte as char);
        } else {
            url.push_str(&format!("%{byte:02X}"));
        }
    }
    url
}

/// Python's `fnmatch` (the Python tool's `--pattern`): `*` matches any run of characters, `/` included,
/// `?` one character, `[abc]` / `[a-z]` / `[!abc]` a set; matching is case-sensitive (as on POSIX).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let text: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point for the last `*`: linear in practice, never exponential.
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                '*' => {
                    star = Some((p, t));
                    p += 1;
                    continue;
                }
                '?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                '[' => {
                    if let Some((matched, next)) = match_set(&pattern, p, text[t]) {
                        if matched {
                            p = next;
                            t += 1;
                            continue;
                        }
                    } else if text[t] == '[' {
                        // An unclosed `[` is a literal, as in fnmatch.
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
                literal if literal == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some((star_p, star_t)) => {
                p = star_p + 1;
                t = star_t + 1;
                star = Some((star_p, star_t + 1));
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

/// Whether `c` is in the set starting at `pattern[open]` (`[`), and the index after its `]`; None if
/// the set is not closed.
fn match_set(pattern: &[char], open: usize, c: char) -> Option<(bool, usize)> {
    let mut i = open + 1;
    let negated = matches!(pattern.get(i), Some('!'));
    if negated {
        i += 1;
    }
    let mut matched = false;
    let mut first = true;
    loop {
        let current = *pattern.get(i)?;
        if current == ']' && !first {
            return Some((matched != negated, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&'-') && pattern.get(i + 2).is_some_and(|e| *e != ']') {
            let end = pattern[i + 2];
            matched |= current <= c && c <= end;
            i += 3;
        } else {
            matched |= current == c;
            i += 1;
        }
    }
}

/// `put-objects --prefix`: as the Python tool, a prefix gets a trailing `/` if it lacks one.
pub fn upload_prefix(prefix: Option<&str>) -> String {
    match prefix {
        Some(p) if !p.is_empty() && !p.ends_with('/') => format!("{p}/"),
        Some(p) => p.to_string(),
        None => String::new(),
    }
}

/// The key a local file is uploaded to: the prefix, then its path relative to the folder given (folder
/// name included, as the Python tool does), always with `/` separators.
pub fn upload_key(prefix: &str, relative_components: &[String]) -> String {
    format!("{prefix}{}", relative_components.join("/"))
}

/// What `delete-objects` deletes, once its guards passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeleteSelection {
    Keys(Vec<String>),
    /// Every key starting with this (empty: the whole bucket, only with `--all`).
    Prefix(String),
}

/// The guards of `delete-objects`: keys or a prefix, never neither; an empty prefix (everything) only
/// with `--all`.
pub fn delete_selection(
    keys: &[String],
    prefix: Option<&str>,
    all: bool,
) -> Result<DeleteSelection> {
    match (keys.is_empty(), prefix) {
        (false, Some(_)) => Err(Error::invalid("pass either keys or --prefix, not both")),
        (false, None) => {
            if let Some(empty) = keys.iter().find(|k| k.is_empty()) {
                return Err(Error::invalid(format!("an empty key {empty:?} was given")));
            }
            Ok(DeleteSelection::Keys(keys.to_vec()))
        }
        (true, None) => Err(Error::invalid_with_hint(
            "delete-objects needs the keys to delete or --prefix",
            "name the keys, or --prefix P for every key starting with P (add --dry-run to see them first)",
        )),
        (true, Some("")) if !all => Err(Error::invalid_with_hint(
            "--prefix '' would delete every object in the bucket",
            "add --all if that is what you want (try --dry-run first)",
        )),
        (true, Some(prefix)) => Ok(DeleteSelection::Prefix(prefix.to_string())),
    }
}

/// The HTTP methods S3 accepts in a CORS rule.
pub const CORS_METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/// A checked CORS rule, with the Python tool's defaults (any origin, GET) and rule ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsRule {
    pub id: String,
    pub allowed_origins: Vec<String>,
    pub allowed_headers: Vec<String>,
    pub allowed_methods: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<i32>,
}

/// Check `set-cors-policy`'s values before any AWS call: S3 would refuse them only after the bucket
/// lookup, with a less helpful message.
pub fn cors_rule(
    methods: &[String],
    headers: &[String],
    origins: &[String],
    expose_headers: &[String],
    max_age_seconds: Option<i64>,
) -> Result<CorsRule> {
    for method in methods {
        if !CORS_METHODS.contains(&method.as_str()) {
            return Err(Error::invalid_with_hint(
                format!("--allowed-method {method:?} is not a method S3 allows in CORS"),
                format!("use one of {} (upper case)", CORS_METHODS.join(", ")),
            ));
        }
    }
    for origin in origins {
        if origin.is_empty()
            || origin.matches('*').count() > 1
            || origin.chars().any(char::is_whitespace)
        {
            return Err(Error::invalid_with_hint(
                format!("--allowed-origin {origin:?} is not a valid origin"),
                "give an origin like https://www.example.com (at most one *), or * for any",
            ));
        }
    }
    for (option, values) in [
        ("--allowed-header", headers),
        ("--expose-header", expose_headers),
    ] {
        for value in values {
            let invalid = value.is_empty()
                || value.chars().any(|c| c.is_whitespace() || c.is_control())
                || (option == "--expose-header" && value.contains('*'))
                || (option == "--allowed-header" && value.matches('*').count() > 1);
            if invalid {
                return Err(Error::invalid(format!(
                    "{option} {value:?} is not a valid header name"
                )));
            }
        }
    }
    let max_age_seconds = match max_age_seconds {
        None | Some(0) => None, // The Python tool leaves a 0 out too.
        Some(seconds) if (1..=i64::from(i32::MAX)).contains(&seconds) => Some(seconds as i32),
        Some(seconds) => {
            return Err(Error::invalid(format!(
                "--max-age-seconds {seconds} is out of range (0 to {})",
                i32::MAX
            )))
        }
    };
    Ok(CorsRule {
        id: "set-by-s3-credentials".into(),
        allowed_origins: non_empty_or(origins, "*"),
        allowed_headers: headers.to_vec(),
        allowed_methods: non_empty_or(methods, "GET"),
        expose_headers: expose_headers.to_vec(),
        max_age_seconds,
    })
}

fn non_empty_or(values: &[String], default: &str) -> Vec<String> {
    if values.is_empty() {
        vec![default.to_string()]
    } else {
        values.to_vec()
    }
}

/// A bucket's public access block: the four settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublicAccessBlock {
    pub block_public_acls: bool,
    pub ignore_public_acls: bool,
    pub block_public_policy: bool,
    pub restrict_public_buckets: bool,
}

/// The settings `set-public-access-block` asked for; `None` leaves a setting as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PublicAccessBlockChange {
    pub block_public_acls: Option<bool>,
    pub ignore_public_acls: Option<bool>,
    pub block_public_policy: Option<bool>,
    pub restrict_public_buckets: Option<bool>,
}

impl PublicAccessBlockChange {
    pub fn allow_public_access() -> Self {
        PublicAccessBlockChange {
            block_public_acls: Some(false),
            ignore_public_acls: Some(false),
            block_public_policy: Some(false),
            restrict_public_buckets: Some(false),
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == PublicAccessBlockChange::default()
    }

    /// PutPublicAccessBlock replaces all four settings (a missing one becomes false), so a change of
    /// one setting is applied on top of the current ones rather than silently turning the others off.
    pub fn apply_to(&self, current: PublicAccessBlock) -> PublicAccessBlock {
        PublicAccessBlock {
            block_public_acls: self.block_public_acls.unwrap_or(current.block_public_acls),
            ignore_public_acls: self
                .ignore_public_acls
                .unwrap_or(current.ignore_public_acls),
            block_public_policy: self
                .block_public_policy
                .unwrap_or(current.block_public_policy),
            restrict_public_buckets: self
                .restrict_public_buckets
                .unwrap_or(current.restrict_public_buckets),
        }
    }
}

impl PublicAccessBlock {
    /// The JSON the Python tool prints (`PublicAccessBlockConfiguration`).
    pub fn to_json(&self) -> Value {
        json!({
            "BlockPublicAcls": self.block_public_acls,
            "IgnorePublicAcls": self.ignore_public_acls,
            "BlockPublicPolicy": self.block_public_policy,
            "RestrictPublicBuckets": self.restrict_public_buckets,
        })
    }

    /// What turning settings off opens up, one line each, for the warning `set-public-access-block`
    /// prints.
    pub fn what_opens_up(before: PublicAccessBlock, after: PublicAccessBlock) -> Vec<&'static str> {
        let mut lines = Vec::new();
        if before.block_public_acls && !after.block_public_acls {
            lines.push(
                "BlockPublicAcls off: new public ACLs on the bucket and its objects are accepted",
            );
        }
        if before.ignore_public_acls && !after.ignore_public_acls {
            lines.push("IgnorePublicAcls off: existing public ACLs take effect again");
        }
        if before.block_public_policy && !after.block_public_policy {
            lines.push("BlockPublicPolicy off: a bucket policy may now grant public access");
        }
        if before.restrict_public_buckets && !after.restrict_public_buckets {
            lines.push("RestrictPublicBuckets off: a public bucket policy now applies to anyone");
        }
        lines
    }
}

/// The bucket policy of `set-bucket-policy --allow-all-get`, exactly as the Python tool writes it.
pub fn allow_all_get_policy(bucket: &str) -> Value {
    json!({
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowAllGetObject",
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject"],
                "Resource": [format!("arn:aws:s3:::{bucket}/*")],
            }
        ],
    })
}

/// A timestamp as Python's `str(datetime)` prints it (`2026-01-01 12:00:00+00:00`, microseconds only
/// when not zero), so `list-bucket`'s JSON is the Python tool's.
pub fn python_datetime(unix_seconds: i64, nanos: u32) -> String {
    let days = unix_seconds.div_euclid(86_400);
    let seconds_of_day = unix_seconds.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    let (hour, minute, second) = (
        seconds_of_day / 3600,
        seconds_of_day % 3600 / 60,
        seconds_of_day % 60,
    );
    let micros = nanos / 1000;
    let fraction = if micros == 0 {
        String::new()
    } else {
        format!(".{micros:06}")
    };
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}{fraction}+00:00")
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// One CSV/TSV field as Python's `csv` module writes it (excel dialects, minimal quoting).
pub fn csv_field(value: &str, delimiter: char) -> String {
    if value.contains([delimiter, '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// A human size like the Python tool's progress label (`1.5 MB`, binary multiples).
pub fn format_bytes(size: u64) -> String {
    let mut value = size as f64;
    for unit in ["bytes", "KB", "MB", "GB", "TB"] {
        if value < 1024.0 {
            return format!("{value:.1} {unit}");
        }
        value /= 1024.0;
    }
    format!("{value:.1} PB")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_would_leave_the_folder_are_refused() {
        for key in [
            "../x",
            "../../x",
            "a/../../x",
            "a/..",
            "/etc/passwd",
            "a\\..\\x",
            "a\0b",
            "",
            "dir/",
            "./",
            "//",
        ] {
            assert!(local_path_for_key(key).is_err(), "{key:?} accepted");
        }
    }

    #[test]
    fn folder_markers_are_folders_checked_like_files() {
        assert_eq!(
            local_target_for_key("dir/sub/").unwrap(),
            LocalTarget::Folder(vec!["dir", "sub"])
        );
        assert_eq!(
            local_target_for_key("dir/f").unwrap(),
            LocalTarget::File(vec!["dir", "f"])
        );
        for key in ["/", "//", "./", "../", "a/../../", "/etc/", "a\\b/", "a//"] {
            assert!(local_target_for_key(key).is_err(), "{key:?} accepted");
        }
    }

    #[test]
    fn object_urls_encode_what_a_url_cannot_hold() {
        assert_eq!(
            object_url("b", "dir/plain-file_1.~txt"),
            "https://s3.amazonaws.com/b/dir/plain-file_1.~txt"
        );
        assert_eq!(
            object_url("b", "sp ace#?&%+é.txt"),
            "https://s3.amazonaws.com/b/sp%20ace%23%3F%26%25%2B%C3%A9.txt"
        );
    }

    #[test]
    fn ordinary_keys_map_to_their_components() {
        assert_eq!(
            local_path_for_key("a/b/c.txt").unwrap(),
            ["a", "b", "c.txt"]
        );
        assert_eq!(local_path_for_key("a//./b").unwrap(), ["a", "b"]);
        assert_eq!(local_path_for_key("..x/y..").unwrap(), ["..x", "y.."]);
        assert_eq!(local_path_for_key("héllo wörld").unwrap(), ["héllo wörld"]);
    }

    #[test]
    fn glob_matches_like_fnmatch() {
        let cases = [
            ("*.js", "a/b.js", true),
            ("*/*.js", "a/b.js", true),
            ("*/*.js", "b.js", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("[ab]x", "bx", true),
            ("[!ab]x", "bx", false),
            ("[a-c]x", "cx", true),
            ("[]]x", "]x", true),
            ("*", "", true),
            ("", "", true),
            ("", "a", false),
            ("a*b*c", "aXbYc", true),
            ("a*b*c", "aXbY", false),
            ("[abc", "[abc", true),
            ("*.TXT", "a.txt", false),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(glob_match(pattern, text), expected, "{pattern:?} {text:?}");
        }
        // No exponential blow-up on adversarial patterns.
        let long = "a".repeat(5000);
        assert!(!glob_match(
            &"*a".repeat(50).replace("**", "*"),
            &format!("{long}b")
        ));
    }

    #[test]
    fn upload_keys_get_the_prefix_with_a_slash() {
        assert_eq!(upload_prefix(Some("my-folder")), "my-folder/");
        assert_eq!(upload_prefix(Some("my-folder/")), "my-folder/");
        assert_eq!(upload_prefix(Some("")), "");
        assert_eq!(upload_prefix(None), "");
        assert_eq!(
            upload_key("p/", &["dir".into(), "sub".into(), "f.txt".into()]),
            "p/dir/sub/f.txt"
        );
    }

    #[test]
    fn delete_guards() {
        let keys = vec!["a".to_string()];
        assert!(delete_selection(&[], None, false).is_err());
        assert!(delete_selection(&[], None, true).is_err());
        assert!(delete_selection(&keys, Some("p"), false).is_err());
        assert!(delete_selection(&[], Some(""), false).is_err());
        assert_eq!(
            delete_selection(&[], Some(""), true).unwrap(),
            DeleteSelection::Prefix(String::new())
        );
        assert_eq!(
            delete_selection(&[], Some("p/"), false).unwrap(),
            DeleteSelection::Prefix("p/".into())
        );
        assert_eq!(
            delete_selection(&keys, None, false).unwrap(),
            DeleteSelection::Keys(keys.clone())
        );
        assert!(delete_selection(&[String::new()], None, false).is_err());
    }

    #[test]
    fn cors_values_are_checked_and_defaulted() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let rule = cors_rule(&[], &[], &[], &[], None).unwrap();
        assert_eq!(rule.allowed_methods, ["GET"]);
        assert_eq!(rule.allowed_origins, ["*"]);
        assert!(cors_rule(&s(&["get"]), &[], &[], &[], None).is_err());
        assert!(cors_rule(&s(&["PATCH"]), &[], &[], &[], None).is_err());
        assert!(cors_rule(&[], &[], &s(&["https://*.a.*"]), &[], None).is_err());
        assert!(cors_rule(&[], &[], &s(&[""]), &[], None).is_err());
        assert!(cors_rule(&[], &s(&["bad header"]), &[], &[], None).is_err());
        assert!(cors_rule(&[], &[], &[], &s(&["*"]), None).is_err());
        assert!(cors_rule(&[], &[], &[], &[], Some(-1)).is_err());
        assert!(cors_rule(&[], &[], &[], &[], Some(1 << 40)).is_err());
        let rule = cors_rule(
            &s(&["GET", "PUT"]),
            &s(&["*"]),
            &s(&["https://x.org"]),
            &s(&["ETag"]),
            Some(30),
        )
        .unwrap();
        assert_eq!(rule.max_age_seconds, Some(30));
    }

    #[test]
    fn public_access_block_changes_keep_unnamed_settings() {
        let all_on = PublicAccessBlock {
            block_public_acls: true,
            ignore_public_acls: true,
            block_public_policy: true,
            restrict_public_buckets: true,
        };
        let change = PublicAccessBlockChange {
            block_public_acls: Some(false),
            ..Default::default()
        };
        let after = change.apply_to(all_on);
        assert!(!after.block_public_acls && after.ignore_public_acls && after.block_public_policy);
        assert_eq!(PublicAccessBlock::what_opens_up(all_on, after).len(), 1);
        let open = PublicAccessBlockChange::allow_public_access().apply_to(all_on);
        assert_eq!(open, PublicAccessBlock::default());
        assert_eq!(PublicAccessBlock::what_opens_up(all_on, open).len(), 4);
        assert!(PublicAccessBlockChange::default().is_empty());
    }

    #[test]
    fn timestamps_print_like_python() {
        assert_eq!(python_datetime(0, 0), "1970-01-01 00:00:00+00:00");
        assert_eq!(
            python_datetime(1_796_042_457, 0),
            "2026-11-30 12:40:57+00:00"
        );
        assert_eq!(
            python_datetime(951_782_400, 123_000_000),
            "2000-02-29 00:00:00.123000+00:00"
        );
    }

    #[test]
    fn csv_fields_are_quoted_like_python() {
        assert_eq!(csv_field("\"abc\"", ','), "\"\"\"abc\"\"\"");
        assert_eq!(csv_field("a,b", ','), "\"a,b\"");
        assert_eq!(csv_field("a,b", '\t'), "a,b");
        assert_eq!(csv_field("plain", ','), "plain");
    }

    #[test]
    fn sizes_read_like_the_python_tool() {
        assert_eq!(format_bytes(0), "0.0 bytes");
        assert_eq!(format_bytes(2048), "2.0 KB");
        assert_eq!(format_bytes(3 * 1024 * 1024 / 2), "1.5 MB");
    }
}
