//! Plan/dry-run, AWS call sequences, endpoint configuration, key waiting, and the cargo subcommand.

mod support;

use serde_json::Value;
use support::{bare_s3creds, run, s3creds, Aws, Keys, Moto, Proxy};

/// `--dry-run` needs no credentials and makes no AWS call; its JSON form is the same plan.
#[test]
fn dry_run_makes_no_call_and_needs_no_credentials() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    for extra in [vec![], vec!["--duration", "2h"]] {
        let outcome = run({
            let mut c = bare_s3creds();
            c.env("AWS_ENDPOINT_URL", &proxy.url)
                .args(["create", "dry-bucket", "-c", "--public", "--dry-run"])
                .args(&extra);
            c
        });
        outcome.assert_success();
        assert!(
            outcome.stdout.contains("Nothing will be changed"),
            "{}",
            outcome.stdout
        );
        assert!(outcome.stdout.contains(
            "[would] CreateBucket dry-bucket in us-east-1 (if bucket dry-bucket is missing)"
        ));
        assert!(outcome.stdout.contains("\"AllowAllGetObject\""));
        let plan = run({
            let mut c = bare_s3creds();
            c.args(["create", "dry-bucket", "-c", "--public", "--dry-run=json"])
                .args(&extra);
            c
        });
        plan.assert_success();
        let plan = plan.json();
        let actions: Vec<&str> = plan["stages"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["lanes"].as_array().unwrap().iter())
            .flat_map(|lane| lane.as_array().unwrap().iter())
            .map(|step| step["action"].as_str().unwrap())
            .collect();
        // Every action the text form lists appears in the JSON form, in the same order.
        let mut position = 0;
        for action in &actions {
            let found = outcome.stdout[position..]
                .find(&format!("] {action}"))
                .unwrap_or_else(|| panic!("{action} missing from the text plan"));
            position += found + 1;
        }
        if extra.is_empty() {
            assert_eq!(
                actions,
                [
                    "HeadBucket",
                    "GetUser",
                    "ListAccessKeys",
                    "CreateBucket",
                    "PutPublicAccessBlock",
                    "PutBucketPolicy",
                    "CreateUser",
                    "PutUserPolicy",
                    "UntagUser",
                    "CreateAccessKey",
                    "WaitForAccessKey"
                ]
            );
        } else {
            assert_eq!(
                actions,
                [
                    "HeadBucket",
                    "GetRole",
                    "CreateBucket",
                    "PutPublicAccessBlock",
                    "PutBucketPolicy",
                    "GetCallerIdentity",
                    "CreateRole",
                    "AttachRolePolicy",
                    "AssumeRole"
                ]
            );
        }
    }
    assert!(
        proxy.actions().is_empty(),
        "dry run called AWS: {:?}",
        proxy.actions()
    );
}

/// Permanent credentials for ten buckets: reads run first, then exactly one call per change.
#[test]
fn permanent_create_for_ten_buckets_makes_the_minimum_of_calls() {
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let buckets: Vec<String> = (1..=10).map(|i| format!("bench-b{i}")).collect();
    for bucket in &buckets {
        admin.create_bucket(bucket);
    }
    let proxy = Proxy::start(&moto);
    let outcome = run({
        let mut c = s3creds(&proxy.url, &Keys::dummy());
        c.arg("create").args(&buckets).arg("--silent");
        c
    });
    outcome.assert_success();
    let actions = proxy.actions();
    let mut reads = actions[..11].to_vec();
    reads.sort();
    let mut expected_reads: Vec<String> = buckets.iter().map(|b| format!("HEAD /{b}")).collect();
    expected_reads.push("GetUser".into());
    expected_reads.sort();
    assert_eq!(reads, expected_reads);
    assert_eq!(
        actions[11..],
        [
            "CreateUser",
            "PutUserPolicy",
            "CreateAccessKey",
            "GetCallerIdentity"
        ]
    );
    // The new key, not the caller, proved itself.
    let calls = proxy.calls();
    let key = outcome.json()["AccessKeyId"].as_str().unwrap().to_string();
    assert_eq!(calls.last().unwrap()["access_key_id"], key.as_str());
    let user = "s3.read-write.bench-b1,bench-b2,bench-b3,bench-b4,bench-b5,bench-b6,bench-b7,bench-b8,bench-b9,bench-b10";
    assert!(user.len() > 64);
    let users = admin.user_names();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0].len(), 64, "{users:?}");
    assert!(
        users[0].starts_with("s3.read-write.bench-b1,bench-b2,"),
        "{users:?}"
    );
}

/// The access key is printed only once it authenticates; `--no-wait` skips that, and a key that never
/// authenticates is still printed (its secret cannot be shown again) with a warning.
#[test]
fn new_keys_are_waited_for() {
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket("wait-bucket");
    let proxy = Proxy::start(&moto);
    proxy.fail_next("GetCallerIdentity", 3, 403, "InvalidClientTokenId");
    let outcome = run({
        let mut c = s3creds(&proxy.url, &Keys::dummy());
        c.args(["create", "wait-bucket", "--username", "waiter"]);
        c
    });
    outcome.assert_success();
    assert!(
        outcome
            .stderr
            .contains("The new access key authenticates (after"),
        "{}",
        outcome.stderr
    );
    let identity_calls = proxy
        .actions()
        .iter()
        .filter(|a| *a == "GetCallerIdentity")
        .count();
    assert_eq!(identity_calls, 4);

    proxy.reset();
    run({
        let mut c = s3creds(&proxy.url, &Keys::dummy());
        c.args([
            "create",
            "wait-bucket",
            "--username",
            "quick",
            "--no-wait",
            "--silent",
        ]);
        c
    })
    .assert_success();
    assert!(!proxy.actions().contains(&"GetCallerIdentity".to_string()));

    proxy.fail_next("GetCallerIdentity", 1000, 403, "InvalidClientTokenId");
    let outcome = run({
        let mut c = s3creds(&proxy.url, &Keys::dummy());
        c.args([
            "create",
            "wait-bucket",
            "--username",
            "patient",
            "--wait-timeout",
            "1s",
        ]);
        c
    });
    outcome.assert_success();
    let creds = outcome.json();
    assert!(creds["SecretAccessKey"].is_string());
    assert!(
        outcome.stderr.contains("did not authenticate within 1s"),
        "{}",
        outcome.stderr
    );
    outcome.assert_no_secret_on_stderr(&[creds["SecretAccessKey"].as_str().unwrap()]);
}

/// `--policy` is substituted for every bucket (also with --duration) and `--statement` is appended.
#[test]
fn custom_policy_and_statements_reach_the_session_policy() {
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    admin.create_bucket("custom-one");
    admin.create_bucket("custom-two");
    let proxy = Proxy::start(&moto);
    let template = r#"{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Action": ["s3:GetObject*", "s3:ListBucket"],
        "Resource": ["arn:aws:s3:::$!BUCKET_NAME!$", "arn:aws:s3:::$!BUCKET_NAME!$/*"],}]}"#;
    let outcome = run({
        let mut c = s3creds(&proxy.url, &Keys::dummy());
        c.args([
            "create",
            "custom-one",
            "custom-two",
            "--duration",
            "15m",
            "--policy",
            "-",
        ])
        .args([
            "--statement",
            r#"{"Effect": "Allow", "Action": "textract:*", "Resource": "*"}"#,
        ])
        .write_stdin(template);
        c
    });
    outcome.assert_success();
    let calls = proxy.calls();
    let assume = calls.iter().find(|c| c["action"] == "AssumeRole").unwrap();
    assert_eq!(
        assume["params"]["RoleSessionName"],
        "s3.custom.custom-one,custom-two"
    );
    let policy: Value = serde_json::from_str(assume["params"]["Policy"].as_str().unwrap()).unwrap();
    let text = policy.to_string();
    for needle in [
        "arn:aws:s3:::custom-one/*",
        "arn:aws:s3:::custom-two/*",
        "textract:*",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    assert!(!text.contains("BUCKET_NAME"));

    // Permanent: a custom policy means no default boundary, and the user is named "custom".
    proxy.reset();
    let outcome = run({
        let mut c = s3creds(&proxy.url, &Keys::dummy());
        c.args([
            "create",
            "custom-one",
            "--statement",
            r#"{"Effect": "Allow", "Action": "textract:*", "Resource": "*"}"#,
        ]);
        c
    });
    outcome.assert_success();
    let calls = proxy.calls();
    let create_user = calls.iter().find(|c| c["action"] == "CreateUser").unwrap();
    assert_eq!(create_user["params"]["UserName"], "s3.custom.custom-one");
    assert!(
        create_user["params"].get("PermissionsBoundary").is_none(),
        "{create_user}"
    );
    let policy = admin.inline_policy("s3.custom.custom-one", "s3.custom.custom-one");
    assert!(policy.to_string().contains("textract:*"));
    assert!(
        policy.to_string().contains("s3:PutObject"),
        "the generated statements stay"
    );
}

/// Permissions boundaries: read-only, read-write, custom ARN and none, as sent to CreateUser (moto does
/// not keep user boundaries, so the request itself is checked).
#[test]
fn permissions_boundaries_follow_the_options() {
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket("boundary-bucket");
    let proxy = Proxy::start(&moto);
    let cases: [(&[&str], Option<&str>); 4] = [
        (
            &["--read-only"],
            Some("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"),
        ),
        (
            &["--write-only"],
            Some("arn:aws:iam::aws:policy/AmazonS3FullAccess"),
        ),
        (
            &[
                "--user-permissions-boundary",
                "arn:aws:iam::123456789012:policy/Mine",
            ],
            Some("arn:aws:iam::123456789012:policy/Mine"),
        ),
        (&["--user-permissions-boundary", "none"], None),
    ];
    for (index, (extra, boundary)) in cases.iter().enumerate() {
        proxy.reset();
        run({
            let mut c = s3creds(&proxy.url, &Keys::dummy());
            c.args([
                "create",
                "boundary-bucket",
                "--silent",
                "--username",
                &format!("user-{index}"),
            ])
            .args(*extra);
            c
        })
        .assert_success();
        let calls = proxy.calls();
        let create_user = calls.iter().find(|c| c["action"] == "CreateUser").unwrap();
        assert_eq!(
            create_user["params"]["PermissionsBoundary"].as_str(),
            *boundary,
            "{extra:?}"
        );
    }
}

/// aws-config's endpoint rules: AWS_ENDPOINT_URL alone works; AWS_ENDPOINT_URL_S3 overrides it for S3.
#[test]
fn endpoint_environment_variables_are_honoured() {
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket("endpoint-bucket");
    let mut command = bare_s3creds();
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["create", "endpoint-bucket", "--silent", "--duration", "15m"]);
    let with_flag = {
        let mut c = bare_s3creds();
        c.env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .args([
                "create",
                "endpoint-bucket",
                "--silent",
                "--duration",
                "15m",
                "--endpoint-url",
                &moto.url,
            ]);
        c
    };
    run(with_flag).assert_success();
    command.env("AWS_ENDPOINT_URL", &moto.url);
    run(command).assert_success();
    // S3 pointed at a closed port: HeadBucket fails, and says where to look.
    let outcome = run({
        let mut c = s3creds(&moto.url, &Keys::dummy());
        c.env("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9").args([
            "create",
            "endpoint-bucket",
            "--duration",
            "15m",
        ]);
        c
    });
    outcome.assert_failure(5, "HeadBucket endpoint-bucket");
    assert!(
        outcome
            .stderr
            .contains("hint: check the network, --endpoint-url"),
        "{}",
        outcome.stderr
    );
}

/// No credentials at all: a clear authentication error with a hint, exit code 4.
#[test]
fn missing_credentials_are_reported_clearly() {
    let moto = Moto::start();
    let outcome = run({
        let mut c = bare_s3creds();
        c.env("AWS_ENDPOINT_URL", &moto.url)
            .args(["create", "some-bucket"]);
        c
    });
    outcome.assert_failure(4, "no AWS credentials found");
}

/// `cargo s3creds` is the same program as `s3creds`, help text included.
#[test]
fn cargo_subcommand_behaves_like_the_binary() {
    let bin_dir = assert_cmd::cargo::cargo_bin("cargo-s3creds")
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    for args in [
        vec!["create", "--help"],
        vec!["--help"],
        vec!["policy", "my-bucket", "--read-only"],
    ] {
        let direct = bare_s3creds().args(&args).output().unwrap();
        let through_cargo =
            std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
                .arg("s3creds")
                .args(&args)
                .env("PATH", &path)
                .output()
                .unwrap();
        assert!(direct.status.success(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&through_cargo.stdout),
            String::from_utf8_lossy(&direct.stdout),
            "{args:?}: {}",
            String::from_utf8_lossy(&through_cargo.stderr)
        );
        assert_eq!(through_cargo.status.code(), direct.status.code());
    }
    let dry_run =
        std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["s3creds", "create", "cargo-bucket", "--dry-run"])
            .env("PATH", &path)
            .output()
            .unwrap();
    assert!(dry_run.status.success());
    assert!(String::from_utf8_lossy(&dry_run.stdout).contains("HeadBucket cargo-bucket"));
}

/// `cargo-s3creds` runs the `s3creds` beside it instead of linking the program a second time, and
/// says so when that one is missing.
#[test]
fn the_cargo_subcommand_is_a_small_launcher() {
    let launcher = assert_cmd::cargo::cargo_bin("cargo-s3creds");
    let program = assert_cmd::cargo::cargo_bin("s3creds");
    let launcher_size = std::fs::metadata(&launcher).unwrap().len();
    let program_size = std::fs::metadata(&program).unwrap().len();
    assert!(
        launcher_size * 10 < program_size,
        "cargo-s3creds links the whole program: {launcher_size} against {program_size} bytes"
    );

    let alone = tempfile::tempdir().unwrap();
    let copy = alone.path().join("cargo-s3creds");
    std::fs::copy(&launcher, &copy).unwrap();
    let outcome = std::process::Command::new(&copy)
        .args(["s3creds", "--version"])
        .output()
        .unwrap();
    assert_eq!(outcome.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&outcome.stderr);
    assert!(
        stderr.contains("cannot run") && stderr.contains("runs the s3creds installed beside it"),
        "{stderr}"
    );
}

/// Buckets created in another region are created and configured through that region's endpoint (S3
/// answers other regions with a redirect the SDK does not follow; moto would not notice, so the signing
/// region of each call is checked).
#[test]
fn buckets_in_another_region_are_configured_in_that_region() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    run({
        let mut c = s3creds(&proxy.url, &Keys::dummy());
        c.args([
            "create",
            "far-bucket",
            "-c",
            "--website",
            "--bucket-region",
            "eu-west-2",
            "--silent",
        ]);
        c
    })
    .assert_success();
    let calls = proxy.calls();
    let configuration: Vec<(String, String)> = calls
        .iter()
        .filter(|c| c["action"].as_str().unwrap().starts_with("PUT /far-bucket"))
        .map(|c| {
            (
                c["action"].as_str().unwrap().to_string(),
                c["signing_region"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let actions: Vec<&str> = configuration.iter().map(|(a, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "PUT /far-bucket",
            "PUT /far-bucket?publicAccessBlock",
            "PUT /far-bucket?policy",
            "PUT /far-bucket?website"
        ]
    );
    for (action, region) in &configuration {
        assert_eq!(region, "eu-west-2", "{action} was signed for {region}");
    }
}
