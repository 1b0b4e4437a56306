//! How issued credentials are printed (stdout only): the built-in formats, and stdout itself.

use crate::core::time::rfc3339;
use crate::credentials::IssuedCredentials;
use crate::error::{Error, Result};
use serde_json::{json, Value};
use std::io::Write;

/// The built-in output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The AWS API's JSON shape (as s3-credentials prints it).
    Json,
    /// A `[default]` section for ~/.aws/credentials.
    Ini,
}

/// The names of the built-in formats; they win over any plugin's format of the same name.
pub const BUILT_IN_FORMATS: [&str; 2] = ["json", "ini"];

impl Format {
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "json" => Some(Format::Json),
            "ini" => Some(Format::Ini),
            _ => None,
        }
    }
}

/// The same keys, in the same order, as s3-credentials' JSON output.
pub fn to_json(credentials: &IssuedCredentials) -> Result<Value> {
    Ok(match credentials {
        IssuedCredentials::AccessKey(key) => json!({
            "UserName": key.user_name,
            "AccessKeyId": key.access_key_id,
            "Status": key.status,
            "SecretAccessKey": key.secret_access_key.expose(),
            "CreateDate": key.create_date.map(rfc3339).transpose()?,
        }),
        IssuedCredentials::Session(session) => json!({
            "AccessKeyId": session.access_key_id,
            "SecretAccessKey": session.secret_access_key.expose(),
            "SessionToken": session.session_token.expose(),
            "Expiration": rfc3339(session.expiration)?,
        }),
    })
}

/// The container credentials provider's document (`serve --http`, `exec`): `Token`, not
/// `SessionToken`, and no `Version`.
pub fn container_json(session: &crate::credentials::SessionCredentials) -> Result<Value> {
    Ok(json!({
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key.expose(),
        "Token": session.session_token.expose(),
        "Expiration": rfc3339(session.expiration)?,
    }))
}

/// The credential_process document (`Version` 1, PascalCase keys, `Expiration` with a `Z`).
pub fn process_json(session: &crate::credentials::SessionCredentials) -> Result<Value> {
    Ok(json!({
        "Version": 1,
        "AccessKeyId": session.access_key_id,
        "SecretAccessKey": session.secret_access_key.expose(),
        "SessionToken": session.session_token.expose(),
        "Expiration": rfc3339(session.expiration)?,
    }))
}

pub fn render(credentials: &IssuedCredentials, format: Format) -> Result<String> {
    match format {
        Format::Json => Ok(format!("{}\n", pretty_json(&to_json(credentials)?))),
        Format::Ini => to_ini(credentials),
    }
}

fn to_ini(credentials: &IssuedCredentials) -> Result<String> {
    let (key_id, secret, token) = match credentials {
        IssuedCredentials::AccessKey(key) => (&key.access_key_id, &key.secret_access_key, None),
        IssuedCredentials::Session(session) => (
            &session.access_key_id,
            &session.secret_access_key,
            Some(&session.session_token),
        ),
    };
    let mut ini = ini::Ini::new();
    let mut section = ini.with_section(Some("default"));
    section
        .set("aws_access_key_id", key_id.as_str())
        .set("aws_secret_access_key", secret.expose());
    if let Some(token) = token {
        section.set("aws_session_token", token.expose());
    }
    let mut out = Vec::new();
    ini.write_to(&mut out)
        .map_err(|e| Error::Internal(format!("writing INI: {e}")))?;
    String::from_utf8(out).map_err(|e| Error::Internal(format!("INI is not UTF-8: {e}")))
}

/// Write to stdout; a closed pipe is reported rather than panicking.
pub fn write_stdout(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Error::Local {
            message: format!("cannot write to standard output: {e}"),
            hint: None,
        })
}

pub use crate::core::policy::pretty_json;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::SessionCredentials;
    use crate::secret::Secret;
    use std::time::{Duration, UNIX_EPOCH};

    fn session() -> IssuedCredentials {
        IssuedCredentials::Session(SessionCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("se/cr+et=="),
            session_token: Secret::new("to/ken+=="),
            expiration: UNIX_EPOCH + Duration::from_secs(1_636_600_000),
        })
    }

    #[test]
    fn session_json_has_the_upstream_keys_and_a_z_timestamp() {
        let text = render(&session(), Format::Json).unwrap();
        let value: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["Expiration"], "2021-11-11T03:06:40Z");
        assert_eq!(value["SessionToken"], "to/ken+==");
        let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "AccessKeyId",
                "SecretAccessKey",
                "SessionToken",
                "Expiration"
            ]
        );
        assert!(text.contains("\n    \"AccessKeyId\""), "{text}");
    }

    #[test]
    fn ini_is_a_default_section_that_round_trips() {
        let text = render(&session(), Format::Ini).unwrap();
        assert!(text.starts_with("[default]\n"), "{text}");
        let parsed = ini::Ini::load_from_str(&text).unwrap();
        let section = parsed.section(Some("default")).unwrap();
        assert_eq!(section.get("aws_access_key_id"), Some("ASIAEXAMPLE"));
        assert_eq!(section.get("aws_secret_access_key"), Some("se/cr+et=="));
        assert_eq!(section.get("aws_session_token"), Some("to/ken+=="));
    }

    #[test]
    fn debug_output_does_not_leak_secrets() {
        let debug = format!("{:?}", session());
        assert!(
            !debug.contains("se/cr+et") && !debug.contains("to/ken"),
            "{debug}"
        );
    }
}

#[cfg(test)]
mod process_tests {
    use super::*;
    use crate::credentials::SessionCredentials;
    use crate::secret::Secret;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn the_process_json_follows_the_contract() {
        let value = process_json(&SessionCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("secret"),
            session_token: Secret::new("token"),
            expiration: UNIX_EPOCH + Duration::from_secs(2_000_000_000),
        })
        .unwrap();
        assert_eq!(value["Version"], 1);
        assert!(value["Version"].is_u64());
        assert_eq!(value["Expiration"], "2033-05-18T03:33:20Z");
    }
}
