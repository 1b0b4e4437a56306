//! The `shell-exports` format: `export AWS_ACCESS_KEY_ID=...` lines to `eval` or source in a POSIX shell.

use s3creds_plugin_api::serde_json::Value;
use s3creds_plugin_api::{export_plugin, FormatInfo, Plugin};

#[derive(Default)]
struct ShellExports;

impl Plugin for ShellExports {
    fn name(&self) -> String {
        "shell-exports".to_string()
    }

    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn formats(&self) -> Vec<FormatInfo> {
        vec![FormatInfo::new(
            "shell-exports",
            "POSIX shell `export AWS_...=` lines; source them or eval \"$(s3creds create ...)\"",
        )]
    }

    fn format(&self, name: &str, credentials: &Value) -> Result<String, String> {
        if name != "shell-exports" {
            return Err(format!("unknown format {name:?}"));
        }
        render(credentials)
    }
}

fn render(credentials: &Value) -> Result<String, String> {
    // Error messages name the missing field, never a value: they end up on stderr.
    let field = |key: &str| -> Result<&str, String> {
        credentials
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("the credentials have no {key}"))
    };
    let mut out = String::new();
    out.push_str(&export("AWS_ACCESS_KEY_ID", field("AccessKeyId")?));
    out.push_str(&export("AWS_SECRET_ACCESS_KEY", field("SecretAccessKey")?));
    match credentials.get("SessionToken").and_then(Value::as_str) {
        Some(token) => out.push_str(&export("AWS_SESSION_TOKEN", token)),
        // A token left over from earlier temporary credentials would make these permanent keys fail.
        None => out.push_str("unset AWS_SESSION_TOKEN\n"),
    }
    Ok(out)
}

fn export(variable: &str, value: &str) -> String {
    format!("export {variable}={}\n", single_quote(value))
}

/// POSIX single quotes take everything literally except `'` itself, which is written as `'\''`.
fn single_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

export_plugin!(ShellExports);

#[cfg(test)]
mod tests {
    use super::*;
    use s3creds_plugin_api::serde_json::json;
    use std::process::Command;

    /// Source the output in a real `sh` and read the variables back.
    fn sourced(text: &str) -> String {
        let output = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "AWS_SESSION_TOKEN=stale\n{text}\nprintf '%s|%s|%s' \"$AWS_ACCESS_KEY_ID\" \"$AWS_SECRET_ACCESS_KEY\" \"${{AWS_SESSION_TOKEN-unset}}\""
            ))
            .output()
            .expect("sh must be installed to test shell quoting");
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    }

    #[test]
    fn hostile_values_survive_sourcing_unchanged() {
        let secret = "a'b\"c$(touch /tmp/pwned)`x` \\ $HOME\nnext";
        let text = render(
            &json!({"AccessKeyId": "AKIA'1", "SecretAccessKey": secret, "SessionToken": "t o'k"}),
        )
        .unwrap();
        assert_eq!(sourced(&text), format!("AKIA'1|{secret}|t o'k"));
    }

    #[test]
    fn permanent_keys_unset_a_stale_session_token() {
        let text = render(&json!({"AccessKeyId": "AKIA", "SecretAccessKey": "s"})).unwrap();
        assert_eq!(sourced(&text), "AKIA|s|unset");
    }

    #[test]
    fn missing_fields_are_named_without_values() {
        let error = render(&json!({"SecretAccessKey": "hidden"})).unwrap_err();
        assert_eq!(error, "the credentials have no AccessKeyId");
    }
}
