//! Least privilege, proven by an independent evaluator: every generated policy (read-only, write-only,
//! read-write; no prefix, one prefix, two prefixes; one and several buckets) is evaluated by
//! `@cloud-copilot/iam-simulate` (tests/iam-sim) on a matrix of actions, resources and `s3:prefix`
//! contexts, and each answer must be exactly what the access level allows.
//!
//! moto cannot prove this: it ignores session policies and conditions.

use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Access {
    ReadWrite,
    ReadOnly,
    WriteOnly,
}

const OBJECT_READS: [&str; 5] = [
    "s3:GetObject",
    "s3:GetObjectAcl",
    "s3:GetObjectTagging",
    "s3:GetObjectRetention",
    "s3:GetObjectLegalHold",
];
/// Actions no generated policy may ever allow.
const NEVER_OBJECT: [&str; 3] = [
    "s3:PutObjectAcl",
    "s3:DeleteObjectVersion",
    "s3:GetObjectVersion",
];
const NEVER_BUCKET: [&str; 4] = [
    "s3:DeleteBucket",
    "s3:PutBucketPolicy",
    "s3:PutBucketAcl",
    "s3:ListBucketVersions",
];

fn generated_policy(buckets: &[&str], access: Access, prefixes: &[&str]) -> Value {
    let mut command = assert_cmd::Command::cargo_bin("s3creds").unwrap();
    command.arg("policy").args(buckets);
    match access {
        Access::ReadOnly => {
            command.arg("--read-only");
        }
        Access::WriteOnly => {
            command.arg("--write-only");
        }
        Access::ReadWrite => {}
    }
    for prefix in prefixes {
        command.args(["--prefix", prefix]);
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn simulate(policy: &Value, checks: &[Value]) -> Vec<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let sim_dir = format!("{root}/tests/iam-sim");
    assert!(
        std::path::Path::new(&format!("{sim_dir}/node_modules/@cloud-copilot/iam-simulate")).exists(),
        "the IAM evaluator is not installed: run `npm ci` in tests/iam-sim (scripts/setup-test-env.sh does)"
    );
    let mut child = Command::new("node")
        .arg(format!("{sim_dir}/simulate.mjs"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node must be installed");
    let input = json!({"policy": policy, "checks": checks});
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "simulate.mjs failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(results.len(), checks.len());
    results
        .iter()
        .map(|r| r["result"].as_str().unwrap().to_string())
        .collect()
}

struct Case {
    check: Value,
    allowed: bool,
}

/// The matrix of requests and what the access level must answer for each.
fn matrix(granted: &[&str], access: Access, prefixes: &[&str]) -> Vec<Case> {
    let bodies: Vec<&str> = prefixes.iter().map(|p| p.trim_end_matches('*')).collect();
    let key_ok = |key: &str| bodies.is_empty() || bodies.iter().any(|b| key.starts_with(b));
    let mut cases = Vec::new();
    let mut buckets: Vec<&str> = granted.to_vec();
    buckets.push("not-granted-bucket");
    for bucket in buckets {
        let mine = granted.contains(&bucket);
        let bucket_arn = format!("arn:aws:s3:::{bucket}");
        let reads = access != Access::WriteOnly;
        cases.push(Case {
            check: json!({"action": "s3:GetBucketLocation", "resource": bucket_arn}),
            allowed: mine && reads,
        });
        // Listing: with prefixes only a matching s3:prefix is allowed; no prefix context is denied.
        let list_contexts: [Option<&str>; 6] = [
            None,
            Some(""),
            Some("foo/"),
            Some("foo/deeper/"),
            Some("bar/x"),
            Some("other/"),
        ];
        for context in list_contexts {
            let allowed = mine
                && reads
                && (bodies.is_empty()
                    || context.is_some_and(|c| bodies.iter().any(|b| c.starts_with(b))));
            let check = match context {
                None => json!({"action": "s3:ListBucket", "resource": bucket_arn}),
                Some(prefix) => json!({"action": "s3:ListBucket", "resource": bucket_arn,
                                       "context": {"s3:prefix": prefix}}),
            };
            cases.push(Case { check, allowed });
        }
        for action in NEVER_BUCKET {
            cases.push(Case {
                check: json!({"action": action, "resource": bucket_arn}),
                allowed: false,
            });
        }
        for key in ["foo/x", "foo/deeper/y", "bar/x", "other/x", "x", "foo"] {
            let object_arn = format!("arn:aws:s3:::{bucket}/{key}");
            let ok = mine && key_ok(key);
            for action in OBJECT_READS {
                cases.push(Case {
                    check: json!({"action": action, "resource": object_arn}),
                    allowed: ok && reads,
                });
            }
            cases.push(Case {
                check: json!({"action": "s3:PutObject", "resource": object_arn}),
                allowed: ok && access != Access::ReadOnly,
            });
            cases.push(Case {
                check: json!({"action": "s3:DeleteObject", "resource": object_arn}),
                allowed: ok && access == Access::ReadWrite,
            });
            for action in NEVER_OBJECT {
                cases.push(Case {
                    check: json!({"action": action, "resource": object_arn}),
                    allowed: false,
                });
            }
        }
    }
    cases
}

fn verify(buckets: &[&str], access: Access, prefixes: &[&str]) {
    let policy = generated_policy(buckets, access, prefixes);
    let cases = matrix(buckets, access, prefixes);
    let checks: Vec<Value> = cases.iter().map(|c| c.check.clone()).collect();
    let results = simulate(&policy, &checks);
    let mut wrong = Vec::new();
    for (case, result) in cases.iter().zip(&results) {
        let expected = if case.allowed {
            "Allowed"
        } else {
            "ImplicitlyDenied"
        };
        if result != expected {
            wrong.push(format!("{} -> {result}, expected {expected}", case.check));
        }
    }
    assert!(
        wrong.is_empty(),
        "{access:?} {buckets:?} prefixes {prefixes:?}: {} of {} answers wrong:\n{}\npolicy: {policy}",
        wrong.len(),
        cases.len(),
        wrong.join("\n")
    );
    // The matrix must exercise both answers, or it proves nothing.
    assert!(cases.iter().any(|c| c.allowed) && cases.iter().any(|c| !c.allowed));
}

const ONE: &[&str] = &["granted-one"];
const SEVERAL: &[&str] = &["granted-one", "granted-two", "granted-three"];

#[test]
fn read_write_whole_bucket() {
    verify(ONE, Access::ReadWrite, &[]);
    verify(SEVERAL, Access::ReadWrite, &[]);
}

#[test]
fn read_only_whole_bucket() {
    verify(ONE, Access::ReadOnly, &[]);
    verify(SEVERAL, Access::ReadOnly, &[]);
}

#[test]
fn write_only_whole_bucket() {
    verify(ONE, Access::WriteOnly, &[]);
    verify(SEVERAL, Access::WriteOnly, &[]);
}

#[test]
fn read_write_with_prefixes() {
    verify(ONE, Access::ReadWrite, &["foo/"]);
    verify(SEVERAL, Access::ReadWrite, &["foo/", "bar/"]);
}

#[test]
fn read_only_with_prefixes() {
    verify(ONE, Access::ReadOnly, &["foo/"]);
    verify(SEVERAL, Access::ReadOnly, &["foo/*", "bar/"]);
}

#[test]
fn write_only_with_prefixes() {
    verify(ONE, Access::WriteOnly, &["foo/"]);
    verify(SEVERAL, Access::WriteOnly, &["foo/", "bar/"]);
}

/// A custom `--policy` with `$!BUCKET_NAME!$` covers every bucket, and nothing else.
#[test]
fn custom_policy_is_substituted_for_every_bucket() {
    let template = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
        "Action":["s3:GetObject"],"Resource":["arn:aws:s3:::$!BUCKET_NAME!$/*"]}]}"#;
    let output = assert_cmd::Command::cargo_bin("s3creds")
        .unwrap()
        .args(["policy", "b-one", "b-two", "--policy", template])
        .output()
        .unwrap();
    assert!(output.status.success());
    let policy: Value = serde_json::from_slice(&output.stdout).unwrap();
    let checks = vec![
        json!({"action": "s3:GetObject", "resource": "arn:aws:s3:::b-one/k"}),
        json!({"action": "s3:GetObject", "resource": "arn:aws:s3:::b-two/k"}),
        json!({"action": "s3:GetObject", "resource": "arn:aws:s3:::b-three/k"}),
        json!({"action": "s3:PutObject", "resource": "arn:aws:s3:::b-one/k"}),
    ];
    assert_eq!(
        simulate(&policy, &checks),
        ["Allowed", "Allowed", "ImplicitlyDenied", "ImplicitlyDenied"]
    );
}
