//! A minimal s3creds plugin with one preset and one format. Copy this crate to start your own.
//!
//! Build:   cargo build --release          (or let `s3creds plugin install .` do it)
//! Install: s3creds plugin install .
//! Use:     s3creds create my-bucket --preset caller-identity --format env-file

use s3creds_plugin_api::serde_json::{json, Value};
use s3creds_plugin_api::{export_plugin, FormatInfo, Plugin, PresetInfo, PresetRequest};

/// Plugins are plain Rust types; keep state out of them (they may be called from any thread).
#[derive(Default)]
struct Minimal;

impl Plugin for Minimal {
    fn name(&self) -> String {
        "minimal".to_string()
    }

    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn presets(&self) -> Vec<PresetInfo> {
        vec![PresetInfo::new(
            "caller-identity",
            "let the credentials ask STS who they are",
        )]
    }

    /// Return IAM statements; s3creds validates them and counts them against the policy size limit.
    fn preset(&self, name: &str, _request: &PresetRequest) -> Result<Vec<Value>, String> {
        match name {
            "caller-identity" => Ok(vec![json!({
                "Effect": "Allow",
                "Action": "sts:GetCallerIdentity",
                "Resource": "*",
            })]),
            other => Err(format!("unknown preset {other:?}")),
        }
    }

    fn formats(&self) -> Vec<FormatInfo> {
        vec![FormatInfo::new(
            "env-file",
            "KEY=value lines for docker --env-file",
        )]
    }

    /// `credentials` is exactly what `--format json` prints. Never put its values in an error message.
    fn format(&self, name: &str, credentials: &Value) -> Result<String, String> {
        if name != "env-file" {
            return Err(format!("unknown format {name:?}"));
        }
        let mut out = String::new();
        for (variable, key) in [
            ("AWS_ACCESS_KEY_ID", "AccessKeyId"),
            ("AWS_SECRET_ACCESS_KEY", "SecretAccessKey"),
            ("AWS_SESSION_TOKEN", "SessionToken"),
        ] {
            if let Some(value) = credentials.get(key).and_then(Value::as_str) {
                out.push_str(&format!("{variable}={value}\n"));
            }
        }
        Ok(out)
    }
}

// Generates the `s3creds_plugin_v1` entry symbol, the function table and the panic guards.
export_plugin!(Minimal);
