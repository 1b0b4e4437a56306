//! The `s3-ocr` preset: exactly what Simon Willison's s3-ocr tool does with a bucket, and nothing more.
//! See README.md for where in s3-ocr each permission comes from.

use s3creds_plugin_api::serde_json::{json, Value};
use s3creds_plugin_api::{export_plugin, Plugin, PresetInfo, PresetRequest};

/// s3-ocr passes this as Textract's `OutputConfig.S3Prefix`; results land under it.
const TEXTRACT_OUTPUT: &str = "textract-output/";
/// s3-ocr records each submitted job next to the document in `<key>.s3-ocr.json`.
const JOB_RECORD_SUFFIX: &str = ".s3-ocr.json";

#[derive(Default)]
struct S3Ocr;

impl Plugin for S3Ocr {
    fn name(&self) -> String {
        "s3-ocr".to_string()
    }

    fn version(&self) -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }

    fn presets(&self) -> Vec<PresetInfo> {
        vec![PresetInfo::new(
            "s3-ocr",
            "what the s3-ocr tool needs: start Textract jobs on the buckets' documents, \
             write .s3-ocr.json records and read textract-output/",
        )]
    }

    fn preset(&self, name: &str, request: &PresetRequest) -> Result<Vec<Value>, String> {
        if name != "s3-ocr" {
            return Err(format!("unknown preset {name:?}"));
        }
        if request.buckets.is_empty() {
            return Err("s3-ocr needs at least one bucket".to_string());
        }
        Ok(statements(request))
    }
}

fn statements(request: &PresetRequest) -> Vec<Value> {
    let arn = |rest: &str| format!("arn:{}:s3:::{rest}", request.partition);
    let buckets: Vec<String> = request.buckets.iter().map(|b| arn(b)).collect();
    // The documents s3-ocr may OCR: the whole bucket, or only the --prefix keys.
    let document_patterns: Vec<String> = if request.prefixes.is_empty() {
        vec!["*".to_string()]
    } else {
        request.prefixes.clone()
    };
    let per_bucket = |suffixes: &[String]| -> Vec<String> {
        request
            .buckets
            .iter()
            .flat_map(|b| suffixes.iter().map(move |s| arn(&format!("{b}/{s}"))))
            .collect()
    };
    let output = format!("{TEXTRACT_OUTPUT}*");
    let mut readable = document_patterns.clone();
    let mut writable: Vec<String> = document_patterns
        .iter()
        .map(|p| format!("{p}{JOB_RECORD_SUFFIX}"))
        .collect();
    if !request.prefixes.is_empty() {
        // With the whole bucket, `*` already covers textract-output/.
        readable.push(output.clone());
    }
    writable.push(output.clone());

    let list = if request.prefixes.is_empty() {
        json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": buckets})
    } else {
        let mut prefixes = request.prefixes.clone();
        prefixes.push(output);
        json!({
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": buckets,
            "Condition": {"StringLike": {"s3:prefix": prefixes}},
        })
    };
    vec![
        // `start` submits each PDF; Textract reads it (and writes its output) with the caller's rights.
        json!({"Effect": "Allow", "Action": "textract:StartDocumentTextDetection", "Resource": "*"}),
        list,
        json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": per_bucket(&readable)}),
        json!({"Effect": "Allow", "Action": "s3:PutObject", "Resource": per_bucket(&writable)}),
    ]
}

export_plugin!(S3Ocr);

#[cfg(test)]
mod tests {
    use super::*;

    fn request(prefixes: &[&str]) -> PresetRequest {
        PresetRequest {
            buckets: vec!["docs".into()],
            access: "read-write".into(),
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            partition: "aws".into(),
        }
    }

    #[test]
    fn whole_bucket_grants_reads_everywhere_and_writes_only_records_and_output() {
        let statements = statements(&request(&[]));
        assert_eq!(statements[1]["Resource"], json!(["arn:aws:s3:::docs"]));
        assert_eq!(statements[2]["Resource"], json!(["arn:aws:s3:::docs/*"]));
        assert_eq!(
            statements[3]["Resource"],
            json!([
                "arn:aws:s3:::docs/*.s3-ocr.json",
                "arn:aws:s3:::docs/textract-output/*"
            ])
        );
    }

    #[test]
    fn prefixes_narrow_documents_records_and_listing() {
        let statements = statements(&request(&["scans/*"]));
        assert_eq!(
            statements[1]["Condition"]["StringLike"]["s3:prefix"],
            json!(["scans/*", "textract-output/*"])
        );
        assert_eq!(
            statements[2]["Resource"],
            json!([
                "arn:aws:s3:::docs/scans/*",
                "arn:aws:s3:::docs/textract-output/*"
            ])
        );
        assert_eq!(
            statements[3]["Resource"],
            json!([
                "arn:aws:s3:::docs/scans/*.s3-ocr.json",
                "arn:aws:s3:::docs/textract-output/*"
            ])
        );
    }
}
