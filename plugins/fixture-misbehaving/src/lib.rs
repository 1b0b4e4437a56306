//! Test fixture: a plugin that loads fine and then misbehaves in every way a plugin can at run time.
//!
//! * preset `panic`: panics.
//! * preset `invalid-statement`: returns a statement without `Resource`.
//! * preset `oversized`: returns a valid statement far over AWS's 2,048-character policy limit.
//! * format `panic-with-secret`: panics with the secret access key in the message.
//! * format `refuse`: returns an error.
//! * format `exit`: ends the process with status 0, without returning.
//! * format `abort`: aborts the process.
//! * format `print`: writes to stdout itself, then returns `formatted`.
//! * with `S3CREDS_FIXTURE_PANIC_IN_DESCRIBE` set, `name()` panics (so `describe` does).

use s3creds_plugin_api::serde_json::{json, Value};
use s3creds_plugin_api::{export_plugin, FormatInfo, Plugin, PresetInfo, PresetRequest};

#[derive(Default)]
struct Misbehaving;

impl Plugin for Misbehaving {
    fn name(&self) -> String {
        if std::env::var_os("S3CREDS_FIXTURE_PANIC_IN_DESCRIBE").is_some() {
            panic!("fixture: panicking while describing itself");
        }
        "fixture-misbehaving".to_string()
    }

    fn version(&self) -> String {
        "0.0.1".to_string()
    }

    fn presets(&self) -> Vec<PresetInfo> {
        ["panic", "invalid-statement", "oversized"]
            .into_iter()
            .map(|name| PresetInfo::new(name, "misbehaves"))
            .collect()
    }

    fn formats(&self) -> Vec<FormatInfo> {
        ["panic-with-secret", "refuse", "exit", "abort", "print"]
            .into_iter()
            .map(|name| FormatInfo::new(name, "misbehaves"))
            .collect()
    }

    fn preset(&self, name: &str, _request: &PresetRequest) -> Result<Vec<Value>, String> {
        match name {
            "panic" => panic!("fixture: panicking in preset {name}"),
            "invalid-statement" => Ok(vec![json!({"Effect": "Allow", "Action": "s3:GetObject"})]),
            "oversized" => Ok(vec![json!({
                "Effect": "Allow",
                "Action": (0..200).map(|i| format!("s3:Action{i}")).collect::<Vec<_>>(),
                "Resource": "*",
            })]),
            other => Err(format!("unknown preset {other:?}")),
        }
    }

    fn format(&self, name: &str, credentials: &Value) -> Result<String, String> {
        match name {
            "panic-with-secret" => panic!(
                "fixture: panicking with the secret {}",
                credentials["SecretAccessKey"].as_str().unwrap_or_default()
            ),
            "exit" => std::process::exit(0),
            "abort" => std::process::abort(),
            "print" => {
                println!("fixture: noise on stdout");
                Ok("formatted".to_string())
            }
            _ => Err("fixture: this format always refuses".to_string()),
        }
    }
}

export_plugin!(Misbehaving);
