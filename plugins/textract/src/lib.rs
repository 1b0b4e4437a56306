//! The `textract` preset: the statement from the `--statement` example of s3-credentials' documentation,
//! for credentials that also call Amazon Textract (OCR pipelines).

use s3creds_plugin_api::serde_json::{json, Value};
use s3creds_plugin_api::{export_plugin, Plugin, PresetInfo, PresetRequest};

#[derive(Default)]
struct Textract;

impl Plugin for Textract {
    fn name(&self) -> String {
        "textract".to_string()
    }

    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn presets(&self) -> Vec<PresetInfo> {
        vec![PresetInfo::new(
            "textract",
            "allow every Amazon Textract action (textract:* on *)",
        )]
    }

    fn preset(&self, name: &str, _request: &PresetRequest) -> Result<Vec<Value>, String> {
        match name {
            // Textract has no resource-level permissions for its detection APIs, hence `*`.
            "textract" => Ok(vec![
                json!({"Effect": "Allow", "Action": "textract:*", "Resource": "*"}),
            ]),
            other => Err(format!("unknown preset {other:?}")),
        }
    }
}

export_plugin!(Textract);
