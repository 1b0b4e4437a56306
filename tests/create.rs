//! `s3creds create` end to end against a real moto server: AWS state is inspected afterwards, issued
//! keys are used, and every refused request is shown to have changed nothing.

mod support;

use serde_json::{json, Value};
use support::{run, s3creds, Aws, Keys, Moto, Proxy, ACCOUNT};

fn read_write_policy(bucket: &str) -> Value {
    json!({"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":["s3:ListBucket","s3:GetBucketLocation"],"Resource":[format!("arn:aws:s3:::{bucket}")]},
        {"Effect":"Allow","Action":["s3:GetObject","s3:GetObjectAcl","s3:GetObjectLegalHold","s3:GetObjectRetention","s3:GetObjectTagging"],"Resource":[format!("arn:aws:s3:::{bucket}/*")]},
        {"Effect":"Allow","Action":["s3:PutObject","s3:DeleteObject"],"Resource":[format!("arn:aws:s3:::{bucket}/*")]}
    ]})
}

#[test]
fn permanent_credentials_create_user_policy_and_a_working_key() {
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let outcome = run({
        let mut c = s3creds(&moto.url, &Keys::dummy());
        c.args(["create", "my-bucket", "-c"]);
        c
    });
    outcome.assert_success();
    let creds = outcome.json();
    let keys: Vec<&String> = creds.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "UserName",
            "AccessKeyId",
            "Status",
            "SecretAccessKey",
            "CreateDate"
        ]
    );
    assert_eq!(creds["UserName"], "s3.read-write.my-bucket");
    assert_eq!(creds["Status"], "Active");
    assert!(creds["CreateDate"].as_str().unwrap().ends_with('Z'));
    let secret = creds["SecretAccessKey"].as_str().unwrap();
    outcome.assert_no_secret_on_stderr(&[secret]);
    assert!(outcome.stderr.contains("Created user: s3.read-write.my-bucket with permissions boundary: arn:aws:iam::aws:policy/AmazonS3FullAccess"), "{}", outcome.stderr);
    assert!(outcome.stderr.contains("Created bucket: my-bucket"));

    assert_eq!(admin.user_names(), ["s3.read-write.my-bucket"]);
    let version = env!("CARGO_PKG_VERSION").to_string();
    assert_eq!(
        admin.user_tags("s3.read-write.my-bucket"),
        [
            ("s3creds:access".to_string(), "read-write".to_string()),
            ("s3creds:managed".to_string(), "true".to_string()),
            ("s3creds:version".to_string(), version),
        ]
    );
    assert_eq!(
        admin.inline_policy_names("s3.read-write.my-bucket"),
        ["s3.read-write.my-bucket"]
    );
    assert_eq!(
        admin.inline_policy("s3.read-write.my-bucket", "s3.read-write.my-bucket"),
        read_write_policy("my-bucket")
    );
    assert_eq!(
        admin.access_key_ids("s3.read-write.my-bucket"),
        [creds["AccessKeyId"].as_str().unwrap()]
    );

    let user = Aws::new(&moto.url, &Keys::from_output(&creds));
    user.put_object("my-bucket", "hello.txt", "hi").unwrap();
    assert_eq!(user.get_object("my-bucket", "hello.txt").unwrap(), "hi");
}

#[test]
fn temporary_credentials_create_the_role_and_assume_it_with_the_session_policy() {
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    admin.create_bucket("tmp-bucket");
    let proxy = Proxy::start(&moto);
    let outcome = run({
        let mut c = s3creds(&proxy.url, &Keys::dummy());
        c.args(["create", "tmp-bucket", "--duration", "15m", "--read-only"]);
        c
    });
    outcome.assert_success();
    let creds = outcome.json();
    let keys: Vec<&String> = creds.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "AccessKeyId",
            "SecretAccessKey",
            "SessionToken",
            "Expiration"
        ]
    );
    outcome.assert_no_secret_on_stderr(&[
        creds["SecretAccessKey"].as_str().unwrap(),
        creds["SessionToken"].as_str().unwrap(),
    ]);
    assert!(outcome.stderr.contains(&format!(
        "Assume role against arn:aws:iam::{ACCOUNT}:role/s3-credentials.AmazonS3FullAccess for 900s"
    )));

    // The role: trust policy for the account, S3 full access attached, 12 h sessions.
    let role = admin
        .block_on(
            admin
                .iam
                .get_role()
                .role_name("s3-credentials.AmazonS3FullAccess")
                .send(),
        )
        .unwrap();
    let role = role.role().unwrap();
    assert_eq!(role.max_session_duration(), Some(43200));
    assert_eq!(
        admin.role_tags("s3-credentials.AmazonS3FullAccess"),
        [
            ("s3creds:managed".to_string(), "true".to_string()),
            (
                "s3creds:version".to_string(),
                env!("CARGO_PKG_VERSION").to_string()
            ),
        ]
    );
    let trust: Value = serde_json::from_str(
        &urlencoding::decode(role.assume_role_policy_document().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        trust["Statement"][0]["Principal"]["AWS"],
        format!("arn:aws:iam::{ACCOUNT}:root")
    );
    assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
    let attached = admin
        .block_on(
            admin
                .iam
                .list_attached_role_policies()
                .role_name("s3-credentials.AmazonS3FullAccess")
                .send(),
        )
        .unwrap();
    let arns: Vec<&str> = attached
        .attached_policies()
        .iter()
        .filter_map(|p| p.policy_arn())
        .collect();
    assert_eq!(arns, ["arn:aws:iam::aws:policy/AmazonS3FullAccess"]);

    // What went over the wire: no user created; AssumeRole carried the read-only session policy.
    let calls = proxy.calls();
    let actions: Vec<&str> = calls
        .iter()
        .map(|c| c["action"].as_str().unwrap())
        .collect();
    // Discovery runs concurrently, so its two reads may come in either order.
    let mut discovery = actions[..2].to_vec();
    discovery.sort();
    assert_eq!(discovery, ["GetRole", "HEAD /tmp-bucket"]);
    assert_eq!(
        actions[2..],
        [
            "GetCallerIdentity",
            "CreateRole",
            "AttachRolePolicy",
            "AssumeRole"
        ]
    );
    let assume = calls.iter().find(|c| c["action"] == "AssumeRole").unwrap();
    assert_eq!(assume["params"]["DurationSeconds"], "900");
    assert_eq!(
        assume["params"]["RoleSessionName"],
        "s3.read-only.tmp-bucket"
    );
    let session_policy: Value =
        serde_json::from_str(assume["params"]["Policy"].as_str().unwrap()).unwrap();
    assert!(
        !session_policy.to_string().contains("PutObject"),
        "{session_policy}"
    );
    assert_eq!(
        session_policy["Statement"][0]["Resource"],
        json!(["arn:aws:s3:::tmp-bucket"])
    );

    // The credentials work (moto does not enforce session policies, so only reading is checked here;
    // tests/policy_matrix.rs proves the session policy itself).
    admin.put_object("tmp-bucket", "k", "v").unwrap();
    let session = Aws::new(&moto.url, &Keys::from_output(&creds));
    assert_eq!(session.get_object("tmp-bucket", "k").unwrap(), "v");

    // A second run reuses the role: one read, one AssumeRole.
    proxy.reset();
    run({
        let mut c = s3creds(&proxy.url, &Keys::dummy());
        c.args(["create", "tmp-bucket", "--duration", "1h", "--silent"]);
        c
    })
    .assert_success();
    let mut second = proxy.actions();
    second.sort();
    assert_eq!(second, ["AssumeRole", "GetRole", "HEAD /tmp-bucket"]);
}

/// Every class of bad input: non-zero exit, a clear message, nothing on stdout, and AWS unchanged.
#[test]
fn bad_input_is_refused_before_anything_changes() {
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    admin.create_bucket("existing-bucket");
    // A user that already exists with another boundary, and its policies, are part of the state.
    run({
        let mut c = s3creds(&moto.url, &Keys::dummy());
        c.args([
            "create",
            "existing-bucket",
            "--username",
            "keeper",
            "--silent",
        ]);
        c
    })
    .assert_success();
    let before = admin.state();
    let long_names: Vec<String> = (0..40)
        .map(|i| format!("bucket-number-{i:02}-with-a-long-name"))
        .collect();
    let mut many_buckets = vec!["create".to_string()];
    many_buckets.extend(long_names);

    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            args(&["create", "Bad_Bucket"]),
            3,
            "invalid bucket name \"Bad_Bucket\"",
        ),
        (args(&["create", "ab"]), 3, "between 3 and 63"),
        (args(&["create", "192.168.1.1"]), 3, "IP address"),
        (
            args(&["create", "existing-bucket", "existing-bucket"]),
            3,
            "named twice",
        ),
        (
            args(&["create", "existing-bucket", "--duration", "14m"]),
            3,
            "Duration must be between 15 minutes and 12 hours",
        ),
        (
            args(&["create", "existing-bucket", "--duration", "13h"]),
            3,
            "Duration must be between 15 minutes and 12 hours",
        ),
        (
            args(&["create", "existing-bucket", "--duration", "1d"]),
            3,
            "invalid duration",
        ),
        (
            args(&["create", "existing-bucket", "--policy", "{not json"]),
            3,
            "--policy: not valid JSON",
        ),
        (
            args(&[
                "create",
                "existing-bucket",
                "--policy",
                "/nonexistent/policy.json",
            ]),
            3,
            "cannot read the file",
        ),
        (
            args(&[
                "create",
                "existing-bucket",
                "--policy",
                r#"{"Statement":[{"Effect":"Allow","Action":"s3:*"}]}"#,
            ]),
            3,
            "needs \"Resource\"",
        ),
        (
            args(&[
                "create",
                "existing-bucket",
                "--statement",
                r#"{"Effect":"Allow","Action":"s3:*","Resource":"*","Principal":"*"}"#,
            ]),
            3,
            "unknown key \"Principal\"",
        ),
        (
            args(&["create", "existing-bucket", "--statement", "[1]"]),
            3,
            "must be a JSON object",
        ),
        (
            args(&["create", "existing-bucket", "--username", &"u".repeat(65)]),
            3,
            "1 to 64 characters",
        ),
        (
            args(&["create", "existing-bucket", "--username", "bad/name"]),
            3,
            "character '/' is not allowed",
        ),
        (
            args(&[
                "create",
                "existing-bucket",
                "--duration",
                "1h",
                "--username",
                "x",
            ]),
            3,
            "role session name",
        ),
        (
            args(&["create", "existing-bucket", "--prefix", "a*b/"]),
            3,
            "only allowed as the final",
        ),
        (
            args(&[
                "create",
                "existing-bucket",
                "--user-permissions-boundary",
                "AmazonS3FullAccess",
            ]),
            3,
            "invalid --user-permissions-boundary",
        ),
        (
            args(&["create", "existing-bucket", "--bucket-region", "Mars"]),
            3,
            "invalid region",
        ),
        (many_buckets.clone(), 3, "AWS allows at most 2048"),
        (
            {
                let mut a = many_buckets.clone();
                a.extend(args(&["--duration", "1h"]));
                a
            },
            3,
            "session policy would be",
        ),
        (
            args(&["create", "existing-bucket", "--wait-timeout", "soon"]),
            3,
            "invalid duration",
        ),
        // Flags that conflict are usage errors.
        (
            args(&["create", "existing-bucket", "--read-only", "--write-only"]),
            2,
            "cannot be used with",
        ),
        (
            args(&["create", "existing-bucket", "--public"]),
            2,
            "--create-bucket",
        ),
        (
            args(&["create", "existing-bucket", "--policy", "{}", "--read-only"]),
            2,
            "cannot be used with",
        ),
        (args(&["create"]), 2, "BUCKET"),
        // AWS state that conflicts with the request: refused after reading, before writing.
        (
            args(&["create", "missing-bucket"]),
            5,
            "bucket missing-bucket does not exist",
        ),
        (
            args(&["create", "existing-bucket", "-c", "--public"]),
            3,
            "bucket existing-bucket already exists",
        ),
        (
            args(&["create", "existing-bucket", "-c", "--website"]),
            3,
            "bucket existing-bucket already exists",
        ),
        (
            args(&["create", "existing-bucket", "--bucket-region", "eu-west-1"]),
            3,
            "already exists in us-east-1, not in --bucket-region eu-west-1",
        ),
        (
            args(&[
                "create",
                "existing-bucket",
                "missing-bucket",
                "--duration",
                "15m",
            ]),
            5,
            "bucket missing-bucket does not exist",
        ),
        (
            args(&[
                "create",
                "existing-bucket",
                "--username",
                "keeper",
                "--user-permissions-boundary",
                "arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess",
            ]),
            3,
            "already exists with permissions boundary",
        ),
    ];
    for (arguments, code, message) in cases {
        let outcome = run({
            let mut c = s3creds(&moto.url, &Keys::dummy());
            c.args(&arguments);
            c
        });
        assert_eq!(
            outcome.code, code,
            "{arguments:?}\nstderr: {}",
            outcome.stderr
        );
        assert!(
            outcome.stderr.contains(message),
            "{arguments:?}: stderr lacks {message:?}:\n{}",
            outcome.stderr
        );
        assert!(
            outcome.stdout.is_empty(),
            "{arguments:?} printed {}",
            outcome.stdout
        );
        let error_lines: Vec<&str> = outcome
            .stderr
            .lines()
            .filter(|l| l.starts_with("error"))
            .collect();
        assert_eq!(error_lines.len(), 1, "one error line: {}", outcome.stderr);
        assert_eq!(admin.state(), before, "{arguments:?} changed AWS state");
    }
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// IAM allows two access keys per user: the third `create` names the two keys and changes nothing.
#[test]
fn a_user_with_two_keys_gets_a_clear_error() {
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    admin.create_bucket("keys-bucket");
    let create = || {
        run({
            let mut c = s3creds(&moto.url, &Keys::dummy());
            c.args(["create", "keys-bucket", "--silent"]);
            c
        })
    };
    let first = create();
    first.assert_success();
    let second = create();
    second.assert_success();
    let before = admin.state();
    let third = create();
    third.assert_failure(
        5,
        "user s3.read-write.keys-bucket already has 2 access keys",
    );
    for outcome in [&first, &second] {
        let id = outcome.json()["AccessKeyId"].as_str().unwrap().to_string();
        assert!(third.stderr.contains(&id), "{}", third.stderr);
    }
    assert!(
        third.stderr.contains("hint: delete one"),
        "{}",
        third.stderr
    );
    assert_eq!(admin.state(), before);
}

/// `--format ini` prints a `[default]` section, with the session token for temporary credentials.
#[test]
fn ini_output_for_permanent_and_temporary_credentials() {
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    admin.create_bucket("ini-bucket");
    for (extra, with_token) in [(vec![], false), (vec!["--duration", "900"], true)] {
        let outcome = run({
            let mut c = s3creds(&moto.url, &Keys::dummy());
            c.args(["create", "ini-bucket", "--format", "ini", "--silent"])
                .args(&extra);
            c
        });
        outcome.assert_success();
        assert!(
            outcome.stderr.is_empty(),
            "--silent printed {}",
            outcome.stderr
        );
        let ini = ini::Ini::load_from_str(&outcome.stdout).unwrap();
        let section = ini.section(Some("default")).expect("[default]");
        let id = section.get("aws_access_key_id").unwrap();
        let secret = section.get("aws_secret_access_key").unwrap();
        assert_eq!(section.get("aws_session_token").is_some(), with_token);
        let keys = Keys {
            id: id.into(),
            secret: secret.into(),
            token: section.get("aws_session_token").map(str::to_string),
        };
        let user = Aws::new(&moto.url, &keys);
        user.put_object("ini-bucket", "from-ini", "x").unwrap();
    }
}

/// `-c` with `--public`, `--website` and `--bucket-region` configures the new buckets as asked.
#[test]
fn bucket_creation_options_are_applied() {
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let outcome = run({
        let mut c = s3creds(&moto.url, &Keys::dummy());
        c.args([
            "create",
            "site-bucket",
            "plain-bucket",
            "-c",
            "--website",
            "--bucket-region",
            "eu-west-2",
            "--read-only",
        ]);
        c
    });
    outcome.assert_success();
    assert!(
        outcome
            .stderr
            .contains("Configured website: http://site-bucket.s3-website.eu-west-2.amazonaws.com/"),
        "{}",
        outcome.stderr
    );
    for bucket in ["site-bucket", "plain-bucket"] {
        let location = admin
            .block_on(admin.s3.get_bucket_location().bucket(bucket).send())
            .unwrap();
        assert_eq!(
            location.location_constraint().map(|c| c.as_str()),
            Some("eu-west-2")
        );
        let block = admin
            .block_on(admin.s3.get_public_access_block().bucket(bucket).send())
            .unwrap();
        let block = block.public_access_block_configuration().unwrap();
        assert_eq!(
            (
                block.block_public_acls(),
                block.ignore_public_acls(),
                block.block_public_policy(),
                block.restrict_public_buckets()
            ),
            (Some(false), Some(false), Some(false), Some(false))
        );
        let policy = admin
            .block_on(admin.s3.get_bucket_policy().bucket(bucket).send())
            .unwrap();
        let policy: Value = serde_json::from_str(policy.policy().unwrap()).unwrap();
        assert_eq!(
            policy["Statement"][0],
            json!({"Sid":"AllowAllGetObject","Effect":"Allow","Principal":"*","Action":["s3:GetObject"],
                   "Resource":[format!("arn:aws:s3:::{bucket}/*")]})
        );
        let website = admin
            .block_on(admin.s3.get_bucket_website().bucket(bucket).send())
            .unwrap();
        assert_eq!(website.index_document().unwrap().suffix(), "index.html");
        assert_eq!(website.error_document().unwrap().key(), "error.html");
    }
    // The user gets one policy covering both buckets.
    let user = "s3.read-only.site-bucket,plain-bucket";
    let policy = admin.inline_policy(user, user);
    assert_eq!(
        policy["Statement"][0]["Resource"],
        json!(["arn:aws:s3:::site-bucket", "arn:aws:s3:::plain-bucket"])
    );

    // A plain -c bucket gets no public configuration.
    run({
        let mut c = s3creds(&moto.url, &Keys::dummy());
        c.args(["create", "private-bucket", "-c", "--silent"]);
        c
    })
    .assert_success();
    assert!(admin
        .block_on(admin.s3.get_bucket_policy().bucket("private-bucket").send())
        .is_err());
    // An existing bucket in the asked-for region is fine.
    run({
        let mut c = s3creds(&moto.url, &Keys::dummy());
        c.args([
            "create",
            "site-bucket",
            "--bucket-region",
            "eu-west-2",
            "--silent",
            "--username",
            "again",
        ]);
        c
    })
    .assert_success();
}
