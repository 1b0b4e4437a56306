//! The credentials s3creds issues and the formats they are printed in (stdout only).

use crate::error::{Error, Result};
use crate::secret::Secret;
use serde_json::{json, Value};
use std::time::SystemTime;

/// Credentials returned by `create`.
#[derive(Debug, Clone)]
pub enum IssuedCredentials {
    /// An IAM user's access key: permanent.
    AccessKey {
        user_name: String,
        access_key_id: String,
        secret_access_key: Secret,
        status: String,
        create_date: Option<SystemTime>,
    },
    /// STS credentials: temporary.
    Session {
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Secret,
        expiration: SystemTime,
    },
}

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

/// RFC 3339 in UTC with a `Z`, the one timestamp form every AWS SDK parses.
pub fn rfc3339(time: SystemTime) -> String {
    aws_smithy_types::DateTime::from(time)
        .fmt(aws_smithy_types::date_time::Format::DateTime)
        .expect("a SystemTime after 1970 always formats")
}

impl IssuedCredentials {
    pub fn access_key_id(&self) -> &str {
        match self {
            IssuedCredentials::AccessKey { access_key_id, .. }
            | IssuedCredentials::Session { access_key_id, .. } => access_key_id,
        }
    }

    /// The same keys, in the same order, as s3-credentials' JSON output.
    pub fn to_json(&self) -> Value {
        match self {
            IssuedCredentials::AccessKey {
                user_name,
                access_key_id,
                secret_access_key,
                status,
                create_date,
            } => json!({
                "UserName": user_name,
                "AccessKeyId": access_key_id,
                "Status": status,
                "SecretAccessKey": secret_access_key.expose(),
                "CreateDate": create_date.map(rfc3339),
            }),
            IssuedCredentials::Session {
                access_key_id,
                secret_access_key,
                session_token,
                expiration,
            } => json!({
                "AccessKeyId": access_key_id,
                "SecretAccessKey": secret_access_key.expose(),
                "SessionToken": session_token.expose(),
                "Expiration": rfc3339(*expiration),
            }),
        }
    }

    pub fn render(&self, format: Format) -> Result<String> {
        match format {
            Format::Json => Ok(format!("{}\n", pretty_json(&self.to_json()))),
            Format::Ini => self.to_ini(),
        }
    }

    fn to_ini(&self) -> Result<String> {
        let (key_id, secret, token) = match self {
            IssuedCredentials::AccessKey {
                access_key_id,
                secret_access_key,
                ..
            } => (access_key_id, secret_access_key, None),
            IssuedCredentials::Session {
                access_key_id,
                secret_access_key,
                session_token,
                ..
            } => (access_key_id, secret_access_key, Some(session_token)),
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
}

/// JSON indented by four spaces, as Python's `json.dumps(..., indent=4)` (and so s3-credentials) prints it.
pub fn pretty_json(value: &Value) -> String {
    use serde::Serialize;
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut serializer)
        .expect("a serde_json::Value always serializes");
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn session() -> IssuedCredentials {
        IssuedCredentials::Session {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: Secret::new("se/cr+et=="),
            session_token: Secret::new("to/ken+=="),
            expiration: UNIX_EPOCH + Duration::from_secs(1_636_600_000),
        }
    }

    #[test]
    fn session_json_has_the_upstream_keys_and_a_z_timestamp() {
        let text = session().render(Format::Json).unwrap();
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
        let text = session().render(Format::Ini).unwrap();
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
