//! The `rclone` format: an rclone remote named `s3creds` (type `s3`, provider `AWS`) holding the keys,
//! to append to `~/.config/rclone/rclone.conf` or pass with `rclone --config FILE`.

use s3creds_plugin_api::serde_json::Value;
use s3creds_plugin_api::{export_plugin, FormatInfo, Plugin};

/// The section name: `rclone ls s3creds:my-bucket`.
const REMOTE: &str = "s3creds";

#[derive(Default)]
struct Rclone;

impl Plugin for Rclone {
    fn name(&self) -> String {
        "rclone".to_string()
    }

    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn formats(&self) -> Vec<FormatInfo> {
        vec![FormatInfo::new(
            "rclone",
            "an rclone.conf remote [s3creds] (type = s3, provider = AWS)",
        )]
    }

    fn format(&self, name: &str, credentials: &Value) -> Result<String, String> {
        if name != "rclone" {
            return Err(format!("unknown format {name:?}"));
        }
        render(credentials)
    }
}

fn render(credentials: &Value) -> Result<String, String> {
    let field = |key: &str| -> Result<&str, String> {
        let value = credentials
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the credentials have no {key}"))?;
        // rclone's INI reader has no quoting: a line break would start a new key.
        if value.contains(['\n', '\r']) {
            return Err(format!("{key} contains a line break"));
        }
        Ok(value)
    };
    let mut out = format!("[{REMOTE}]\ntype = s3\nprovider = AWS\nenv_auth = false\n");
    out.push_str(&format!("access_key_id = {}\n", field("AccessKeyId")?));
    out.push_str(&format!(
        "secret_access_key = {}\n",
        field("SecretAccessKey")?
    ));
    if credentials.get("SessionToken").is_some() {
        out.push_str(&format!("session_token = {}\n", field("SessionToken")?));
    }
    Ok(out)
}

export_plugin!(Rclone);

#[cfg(test)]
mod tests {
    use super::*;
    use s3creds_plugin_api::serde_json::json;

    #[test]
    fn session_credentials_include_the_token() {
        let text =
            render(&json!({"AccessKeyId": "ASIA", "SecretAccessKey": "s/+=", "SessionToken": "t"}))
                .unwrap();
        assert_eq!(
            text,
            "[s3creds]\ntype = s3\nprovider = AWS\nenv_auth = false\naccess_key_id = ASIA\n\
             secret_access_key = s/+=\nsession_token = t\n"
        );
    }

    #[test]
    fn a_line_break_is_refused_without_showing_the_value() {
        let error =
            render(&json!({"AccessKeyId": "A", "SecretAccessKey": "x\ninjected = 1"})).unwrap_err();
        assert_eq!(error, "SecretAccessKey contains a line break");
    }
}
