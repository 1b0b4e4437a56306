//! Edit `~/.aws/config` without disturbing it: sections are found by their header lines, and every
//! byte outside the one section being added, replaced or removed is kept as it was (comments, blank
//! lines, ordering, line endings). An INI library would re-serialize the whole file, so this works on
//! lines.

use std::path::PathBuf;

/// The AWS config file: `AWS_CONFIG_FILE`, else `~/.aws/config`.
pub fn config_path() -> Option<PathBuf> {
    if let Some(path) = crate::env::var_os(crate::env::AWS_CONFIG_FILE) {
        return Some(expand_home(path));
    }
    directories::BaseDirs::new().map(|d| d.home_dir().join(".aws").join("config"))
}

/// The shared credentials file: `AWS_SHARED_CREDENTIALS_FILE`, else `~/.aws/credentials`.
pub fn credentials_path() -> Option<PathBuf> {
    if let Some(path) = crate::env::var_os(crate::env::AWS_SHARED_CREDENTIALS_FILE) {
        return Some(expand_home(path));
    }
    directories::BaseDirs::new().map(|d| d.home_dir().join(".aws").join("credentials"))
}

/// A leading `~` (alone, or before a separator) is the home folder, as aws-config and botocore
/// read these variables: the file s3creds reads, fingerprints and edits must be the one the SDKs use.
fn expand_home(path: std::ffi::OsString) -> PathBuf {
    let home = || directories::BaseDirs::new().map(|d| d.home_dir().to_path_buf());
    let Some(text) = path.to_str() else {
        return PathBuf::from(path);
    };
    let rest = if text == "~" {
        Some("")
    } else {
        text.strip_prefix("~/")
            .or_else(|| text.strip_prefix(&format!("~{}", std::path::MAIN_SEPARATOR)))
    };
    match (rest, home()) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(path),
    }
}

/// The section header of a profile in the config file (`[default]` has no `profile ` prefix).
pub fn config_header(profile: &str) -> String {
    if profile == "default" {
        "[default]".to_string()
    } else {
        format!("[profile {profile}]")
    }
}

/// The section name a header line opens, normalised (`[ profile  x ]` -> `profile x`).
fn section_name(line: &str) -> Option<String> {
    let trimmed = line.trim();
    let inner = trimmed.strip_prefix('[')?.split(']').next()?;
    Some(inner.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The profile names a config file (`is_config`: `[default]`, `[profile NAME]`; `sso-session` and
/// other sections are not profiles) or a shared credentials file (`[NAME]`) defines, in file order.
pub fn profile_names(text: &str, is_config: bool) -> Vec<String> {
    text.lines()
        .filter(|line| line.trim_start().starts_with('['))
        .filter_map(section_name)
        .filter_map(|name| {
            if !is_config {
                return Some(name);
            }
            match name.strip_prefix("profile ") {
                Some(profile) => Some(profile.to_string()),
                None => (name == "default").then_some(name),
            }
        })
        .filter(|name| !name.is_empty() && !name.contains(char::is_whitespace))
        .collect()
}

/// The byte range of the section named like `header`: from its header line to the end of its last
/// setting. Blank lines and comments after the last setting are left out: they usually introduce the
/// next section, and they must survive a replacement byte for byte.
pub fn find_section(text: &str, header: &str) -> Option<std::ops::Range<usize>> {
    let wanted = section_name(header)?;
    let mut range: Option<std::ops::Range<usize>> = None;
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let end = offset + line.len();
        if trimmed.starts_with('[') {
            if range.is_some() {
                break;
            }
            if section_name(line).as_deref() == Some(wanted.as_str()) {
                range = Some(offset..end);
            }
        } else if let Some(found) = range.as_mut() {
            let is_setting = !trimmed.trim().is_empty()
                && !trimmed.starts_with('#')
                && !trimmed.starts_with(';');
            if is_setting {
                found.end = end;
            }
        }
        offset = end;
    }
    range
}

/// `text` with the section replaced by (or, when absent, followed by) `section`.
pub fn upsert_section(text: &str, header: &str, section: &str) -> String {
    match find_section(text, header) {
        Some(range) => {
            let mut out = String::with_capacity(text.len() + section.len());
            out.push_str(&text[..range.start]);
            out.push_str(section);
            out.push_str(&text[range.end..]);
            out
        }
        None => {
            let mut out = text.to_string();
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            if !out.is_empty() && !out.ends_with("\n\n") {
                out.push('\n');
            }
            out.push_str(section);
            out
        }
    }
}

/// `text` without the section, or None when it is not there.
pub fn remove_section(text: &str, header: &str) -> Option<String> {
    let range = find_section(text, header)?;
    let before = &text[..range.start];
    let mut after = &text[range.end..];
    // The blank line that separated the removed section from the previous one goes with it.
    let mut before = before.to_string();
    if before.ends_with("\n\n") && (after.is_empty() || after.starts_with('\n')) {
        if after.is_empty() {
            before.pop();
        } else {
            after = &after[1..];
        }
    }
    Some(before + after)
}

/// Whether `key` has a value in the section (for the static-keys warning and ownership checks).
pub fn section_has_key(text: &str, header: &str, key: &str) -> bool {
    section_value(text, header, key).is_some()
}

/// The value of `key` in the section, without an inline comment (` #` or ` ;`), if set.
pub fn section_value(text: &str, header: &str, key: &str) -> Option<String> {
    let range = find_section(text, header)?;
    text[range].lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once('=')?;
        let value = v.split(" #").next()?.split(" ;").next()?.trim();
        (k.trim() == key && !value.is_empty()).then(|| value.to_string())
    })
}

/// The settings through which a profile of the config file gets credentials: static keys, a
/// process, a role (with its source, MFA and session settings), web identity, IAM Identity Center
/// and `aws login`. Anything else (region, endpoints, S3 settings, CA bundle, retries) is not one.
pub const CREDENTIAL_SETTINGS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_security_token",
    "credential_process",
    "credential_source",
    "role_arn",
    "source_profile",
    "role_session_name",
    "external_id",
    "mfa_serial",
    "duration_seconds",
    "web_identity_token_file",
    "sso_session",
    "sso_start_url",
    "sso_region",
    "sso_account_id",
    "sso_role_name",
    "login_session",
];

/// `text` without any credential setting ([`CREDENTIAL_SETTINGS`], with its indented continuation
/// lines) in any section but `[sso-session ...]` (whose own settings give no credentials without a
/// profile naming it); every other byte as it was. Also what was removed, as `section: setting`
/// (never a value).
pub fn without_credential_settings(text: &str) -> (String, Vec<String>) {
    let mut kept = String::with_capacity(text.len());
    let mut removed = Vec::new();
    let mut section: Option<String> = None;
    let mut dropping_continuation = false;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        let indented = trimmed.len() < line.len() && !trimmed.trim().is_empty();
        if indented && dropping_continuation {
            continue;
        }
        dropping_continuation = false;
        if trimmed.starts_with('[') {
            section = section_name(line);
        } else if let (false, Some(name), Some((key, _))) =
            (indented, &section, line.split_once('='))
        {
            let key = key.trim().to_ascii_lowercase();
            let in_profile = !name.starts_with("sso-session ");
            let commented = key.starts_with('#') || key.starts_with(';');
            if in_profile && !commented && CREDENTIAL_SETTINGS.contains(&key.as_str()) {
                removed.push(format!("{name}: {key}"));
                dropping_continuation = true;
                continue;
            }
        }
        kept.push_str(line);
    }
    (kept, removed)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_leading_tilde_is_the_home_folder_as_the_sdks_read_it() {
        let home = directories::BaseDirs::new()
            .unwrap()
            .home_dir()
            .to_path_buf();
        assert_eq!(expand_home("~/creds".into()), home.join("creds"));
        assert_eq!(expand_home("~".into()), home);
        assert_eq!(expand_home("/abs/~/x".into()), PathBuf::from("/abs/~/x"));
        assert_eq!(expand_home("~other/x".into()), PathBuf::from("~other/x"));
    }

    #[test]
    fn profile_names_are_read_from_headers_only() {
        let config = "[default]\nregion = x\n[profile dev]\n# [profile commented]\n\
                      [sso-session corp]\n[ profile  spaced ]\n[services s]\n";
        assert_eq!(
            super::profile_names(config, true),
            ["default", "dev", "spaced"]
        );
        let credentials = "[default]\naws_access_key_id = A\n[ci]\n";
        assert_eq!(super::profile_names(credentials, false), ["default", "ci"]);
    }

    use super::*;

    const CONFIG: &str = "# my settings\n[default]\nregion = eu-west-1 # keep me\n\n[profile other]\noutput=json\r\n\n; comment\n[profile reports]\ncredential_process = old\n";

    #[test]
    fn values_are_read_without_inline_comments() {
        assert_eq!(
            section_value(CONFIG, "[default]", "region").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(
            section_value(CONFIG, "[profile other]", "output").as_deref(),
            Some("json")
        );
        assert_eq!(section_value(CONFIG, "[profile other]", "region"), None);
        assert!(section_has_key(
            CONFIG,
            "[profile reports]",
            "credential_process"
        ));
    }

    #[test]
    fn adding_keeps_every_other_byte() {
        let section = "[profile new]\ncredential_process = /bin/s3creds serve b\n";
        let out = upsert_section(CONFIG, "[profile new]", section);
        assert!(out.starts_with(CONFIG), "{out}");
        assert!(out.ends_with(&format!("\n\n{section}")));
    }

    #[test]
    fn replacing_touches_only_that_section() {
        let section = "[profile other]\ncredential_process = x\n";
        let out = upsert_section(CONFIG, "[profile other]", section);
        assert_eq!(
            out,
            "# my settings\n[default]\nregion = eu-west-1 # keep me\n\n[profile other]\ncredential_process = x\n\n; comment\n[profile reports]\ncredential_process = old\n"
        );
    }

    #[test]
    fn comments_after_a_section_survive_its_replacement() {
        let text = "[profile a]\nx = 1\n\n; about b\n[profile b]\ny = 2\n# end\n";
        let out = upsert_section(text, "[profile a]", "[profile a]\nz = 3\n");
        assert_eq!(
            out,
            "[profile a]\nz = 3\n\n; about b\n[profile b]\ny = 2\n# end\n"
        );
        let out = upsert_section(text, "[profile b]", "[profile b]\nw = 4\n");
        assert_eq!(
            out,
            "[profile a]\nx = 1\n\n; about b\n[profile b]\nw = 4\n# end\n"
        );
        let removed = remove_section(
            "[profile a]\nx = 1\n\n[profile b]\ny = 2\n\n[profile c]\n",
            "[profile b]",
        );
        assert_eq!(removed.unwrap(), "[profile a]\nx = 1\n\n[profile c]\n");
    }

    #[test]
    fn removing_restores_the_original() {
        let section = "[profile new]\ncredential_process = y\n";
        let added = upsert_section(CONFIG, "[profile new]", section);
        assert_eq!(remove_section(&added, "[profile new]").unwrap(), CONFIG);
        assert!(remove_section(CONFIG, "[profile missing]").is_none());
    }

    #[test]
    fn headers_are_matched_by_name_not_spacing() {
        assert!(find_section("[ profile   reports ]\nx=1\n", "[profile reports]").is_some());
        assert!(find_section("[profile reports-2]\n", "[profile reports]").is_none());
        assert!(section_has_key(
            CONFIG,
            "[profile reports]",
            "credential_process"
        ));
        assert!(!section_has_key(
            CONFIG,
            "[profile other]",
            "credential_process"
        ));
    }
    #[test]
    fn credential_settings_are_removed_from_every_profile_and_nothing_else() {
        let config = "# my config\r\n[default]\r\nregion = eu-west-1\r\ncredential_process = vault get\r\n\
                      [profile dev]\nrole_arn = arn:aws:iam::1:role/r\nsource_profile = default\n\
                      s3 =\n  addressing_style = path\nAWS_Access_Key_ID=AKIA\n\
                      aws_secret_access_key = s\n    continued\nca_bundle = /etc/ca.pem\n\
                      # role_arn = commented\n[sso-session corp]\nsso_start_url = https://x\n\
                      sso_region = us-east-1\n[profile sso]\nsso_session = corp\nsso_account_id = 1\n\
                      sso_role_name = R\nregion = us-east-2\n[services local]\ns3 =\n  endpoint_url = http://l\n";
        let (kept, removed) = without_credential_settings(config);
        assert_eq!(
            kept,
            "# my config\r\n[default]\r\nregion = eu-west-1\r\n[profile dev]\n\
             s3 =\n  addressing_style = path\nca_bundle = /etc/ca.pem\n# role_arn = commented\n\
             [sso-session corp]\nsso_start_url = https://x\nsso_region = us-east-1\n[profile sso]\n\
             region = us-east-2\n[services local]\ns3 =\n  endpoint_url = http://l\n"
        );
        assert_eq!(
            removed,
            [
                "default: credential_process",
                "profile dev: role_arn",
                "profile dev: source_profile",
                "profile dev: aws_access_key_id",
                "profile dev: aws_secret_access_key",
                "profile sso: sso_session",
                "profile sso: sso_account_id",
                "profile sso: sso_role_name",
            ]
        );
        // No value is named, and a file without credential settings comes back unchanged.
        assert!(!removed
            .iter()
            .any(|r| r.contains("AKIA") || r.contains("vault")));
        let plain = "[default]\nregion = us-east-1\noutput = json";
        assert_eq!(
            without_credential_settings(plain),
            (plain.to_string(), vec![])
        );
    }
}
