//! Snapshot of the policy document for every combination of access level, prefixes and bucket count,
//! plus custom policies and extra statements. A change to any generated policy shows up as a reviewed
//! diff in tests/snapshots/.

use s3creds::core::policy::{normalize_prefix, Access, PolicyRequest};
use serde_json::json;

fn request(buckets: &[&str], access: Access, prefixes: &[&str]) -> PolicyRequest {
    let mut request = PolicyRequest::new(buckets.iter().map(|b| b.to_string()).collect(), access);
    request.prefixes = prefixes
        .iter()
        .map(|p| normalize_prefix(p).unwrap())
        .collect();
    request
}

#[test]
fn every_access_prefix_and_bucket_combination() {
    for access in [Access::ReadWrite, Access::ReadOnly, Access::WriteOnly] {
        for (prefix_label, prefixes) in [
            ("whole", &[][..]),
            ("prefix", &["foo/"][..]),
            ("two-prefixes", &["foo/", "bar/*"][..]),
        ] {
            for (bucket_label, buckets) in
                [("one", &["b1"][..]), ("several", &["b1", "b2", "b3"][..])]
            {
                let document = request(buckets, access, prefixes).document().unwrap();
                insta::assert_json_snapshot!(
                    format!("{}-{prefix_label}-{bucket_label}", access.label()),
                    document
                );
            }
        }
    }
}

#[test]
fn custom_policy_with_extra_statements() {
    let mut custom = request(&["b1", "b2"], Access::ReadWrite, &[]);
    custom.custom_policy = Some(json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject*", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::$!BUCKET_NAME!$", "arn:aws:s3:::$!BUCKET_NAME!$/*"]},
        {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
    ]}));
    custom.extra_statements =
        vec![json!({"Effect": "Allow", "Action": "textract:*", "Resource": "*"})];
    insta::assert_json_snapshot!(
        "custom-policy-two-buckets-with-statement",
        custom.document().unwrap()
    );

    let mut generated = request(&["b1"], Access::ReadOnly, &["logs/"]);
    generated.extra_statements =
        vec![json!({"Effect": "Allow", "Action": "textract:*", "Resource": "*"})];
    insta::assert_json_snapshot!(
        "read-only-prefix-with-statement",
        generated.document().unwrap()
    );

    let mut china = request(&["b1"], Access::ReadOnly, &[]);
    china.partition = "aws-cn".into();
    insta::assert_json_snapshot!("read-only-china-partition", china.document().unwrap());
}
