//! The bucket commands against moto: state checked after each change, the Python tool's JSON side by
//! side on the same moto state, and bad input refused with nothing changed.

mod support;

use serde_json::{json, Value};
use support::{run, s3creds, upstream, Aws, Keys, Moto};

fn s3c(moto: &Moto, args: &[&str]) -> support::Outcome {
    run({
        let mut c = s3creds(&moto.url, &Keys::dummy());
        c.args(args);
        c
    })
}

fn cors(aws: &Aws, bucket: &str) -> Option<Value> {
    let answer = aws
        .block_on(aws.s3.get_bucket_cors().bucket(bucket).send())
        .ok()?;
    let rules: Vec<Value> = answer
        .cors_rules()
        .iter()
        .map(|r| {
            json!({
                "id": r.id(),
                "methods": r.allowed_methods(),
                "origins": r.allowed_origins(),
                "headers": r.allowed_headers(),
                "expose": r.expose_headers(),
                "max_age": r.max_age_seconds(),
            })
        })
        .collect();
    Some(json!(rules))
}

fn public_access_block(aws: &Aws, bucket: &str) -> Option<[bool; 4]> {
    let answer = aws
        .block_on(aws.s3.get_public_access_block().bucket(bucket).send())
        .ok()?;
    let c = answer.public_access_block_configuration()?;
    Some([
        c.block_public_acls()?,
        c.ignore_public_acls()?,
        c.block_public_policy()?,
        c.restrict_public_buckets()?,
    ])
}

fn bucket_policy(aws: &Aws, bucket: &str) -> Option<Value> {
    let answer = aws
        .block_on(aws.s3.get_bucket_policy().bucket(bucket).send())
        .ok()?;
    serde_json::from_str(answer.policy()?).ok()
}

#[test]
fn json_output_is_the_python_tools_on_the_same_state() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("side-by-side");
    for (key, body) in [
        ("a.txt", "one"),
        ("dir/b.json", "{}"),
        ("dir/c d.html", "<p>"),
    ] {
        aws.put_object("side-by-side", key, body).unwrap();
    }
    s3c(
        &moto,
        &[
            "set-cors-policy",
            "side-by-side",
            "-m",
            "GET",
            "-m",
            "PUT",
            "-h",
            "Authorization",
            "-e",
            "ETag",
            "--max-age-seconds",
            "60",
        ],
    )
    .assert_success();
    s3c(
        &moto,
        &[
            "set-public-access-block",
            "side-by-side",
            "--block-public-acls",
            "true",
        ],
    )
    .assert_success();
    s3c(
        &moto,
        &["set-bucket-policy", "side-by-side", "--allow-all-get"],
    )
    .assert_success();

    let keys = Keys::dummy();
    for args in [
        vec!["list-bucket", "side-by-side"],
        vec!["list-bucket", "side-by-side", "--prefix", "dir/"],
        vec!["list-bucket", "side-by-side", "--urls"],
        vec!["list-bucket", "side-by-side", "--nl"],
        vec!["get-bucket-policy", "side-by-side"],
        vec!["get-public-access-block", "side-by-side"],
        vec!["get-cors-policy", "side-by-side"],
        vec!["debug-bucket", "side-by-side"],
    ] {
        let ours = s3c(&moto, &args);
        ours.assert_success();
        let theirs = upstream(&moto.url, &keys, &args);
        theirs.assert_success();
        // The same text, byte for byte: keys, order, indentation and timestamps. The one deliberate
        // difference: a key in a URL is percent-encoded (upstream printed `c d.html` raw).
        let theirs = if args.contains(&"--urls") {
            let raw = "/dir/c d.html\"";
            assert!(theirs.stdout.contains(raw), "{}", theirs.stdout);
            theirs.stdout.replace(raw, "/dir/c%20d.html\"")
        } else {
            theirs.stdout
        };
        assert_eq!(ours.stdout, theirs, "{args:?}");
        assert!(!ours.stdout.trim().is_empty(), "{args:?}");
    }
    // And the values are what was set.
    let listed: Value =
        serde_json::from_str(&s3c(&moto, &["list-bucket", "side-by-side"]).stdout).unwrap();
    let names: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["Key"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["a.txt", "dir/b.json", "dir/c d.html"]);
    assert_eq!(listed[0]["Size"], 3);
}

#[test]
fn list_bucket_csv_and_tsv() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("tables");
    aws.put_object("tables", "x,y.txt", "12345").unwrap();
    let csv = s3c(&moto, &["list-bucket", "tables", "--csv", "--urls"]);
    csv.assert_success();
    let lines: Vec<&str> = csv.stdout.split("\r\n").collect();
    assert_eq!(
        lines[0],
        "Key,LastModified,ETag,Size,StorageClass,Owner,URL"
    );
    assert!(lines[1].starts_with("\"x,y.txt\","), "{}", csv.stdout);
    assert!(
        // The key in the URL is percent-encoded, as the AWS SDKs encode a key in a path.
        lines[1].ends_with(",5,STANDARD,,https://s3.amazonaws.com/tables/x%2Cy.txt"),
        "{}",
        csv.stdout
    );
    let tsv = s3c(&moto, &["list-bucket", "tables", "--tsv"]);
    tsv.assert_success();
    assert!(
        tsv.stdout
            .starts_with("Key\tLastModified\tETag\tSize\tStorageClass\tOwner\r\nx,y.txt\t"),
        "{}",
        tsv.stdout
    );
}

#[test]
fn settings_are_applied_and_what_opens_up_is_said() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("settings");

    // CORS: the Python tool's defaults, then every option (-h is --allowed-header here).
    s3c(&moto, &["set-cors-policy", "settings"]).assert_success();
    assert_eq!(
        cors(&aws, "settings").unwrap(),
        json!([{"id": "set-by-s3-credentials", "methods": ["GET"], "origins": ["*"], "headers": [], "expose": [], "max_age": null}])
    );
    s3c(
        &moto,
        &[
            "set-cors-policy",
            "settings",
            "-m",
            "GET",
            "-m",
            "PUT",
            "-h",
            "Authorization",
            "-o",
            "https://www.example.com",
            "-e",
            "ETag",
            "--max-age-seconds",
            "30",
        ],
    )
    .assert_success();
    assert_eq!(
        cors(&aws, "settings").unwrap(),
        json!([{"id": "set-by-s3-credentials", "methods": ["GET", "PUT"], "origins": ["https://www.example.com"], "headers": ["Authorization"], "expose": ["ETag"], "max_age": 30}])
    );
    let help = s3c(&moto, &["set-cors-policy", "--help"]);
    help.assert_success();
    assert!(
        help.stdout.contains("-h, --allowed-header"),
        "{}",
        help.stdout
    );

    // Public access block: a named setting changes, the others keep their values.
    s3c(
        &moto,
        &[
            "set-public-access-block",
            "settings",
            "--block-public-acls",
            "true",
            "--block-public-policy",
            "yes",
        ],
    )
    .assert_success();
    assert_eq!(
        public_access_block(&aws, "settings").unwrap(),
        [true, false, true, false]
    );
    s3c(
        &moto,
        &[
            "set-public-access-block",
            "settings",
            "--ignore-public-acls",
            "true",
        ],
    )
    .assert_success();
    assert_eq!(
        public_access_block(&aws, "settings").unwrap(),
        [true, true, true, false]
    );
    let opened = s3c(
        &moto,
        &[
            "set-public-access-block",
            "settings",
            "--allow-public-access",
        ],
    );
    opened.assert_success();
    assert_eq!(public_access_block(&aws, "settings").unwrap(), [false; 4]);
    assert!(
        opened
            .stderr
            .contains("warning: this opens bucket settings to public access"),
        "{}",
        opened.stderr
    );
    assert!(
        opened.stderr.contains("BlockPublicPolicy off"),
        "{}",
        opened.stderr
    );
    let got = s3c(&moto, &["get-public-access-block", "settings"]);
    assert_eq!(
        got.json(),
        json!({"BlockPublicAcls": false, "IgnorePublicAcls": false, "BlockPublicPolicy": false, "RestrictPublicBuckets": false})
    );

    // Bucket policy from a file, from standard input, and --allow-all-get.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.json");
    let policy = json!({"Version": "2012-10-17", "Statement": [{"Sid": "Read", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::settings/*"}]});
    std::fs::write(&file, policy.to_string()).unwrap();
    let set = s3c(
        &moto,
        &[
            "set-bucket-policy",
            "settings",
            "--policy-file",
            file.to_str().unwrap(),
        ],
    );
    set.assert_success();
    assert!(set.stderr.starts_with("Policy set:\n"), "{}", set.stderr);
    assert_eq!(bucket_policy(&aws, "settings").unwrap(), policy);
    assert_eq!(
        s3c(&moto, &["get-bucket-policy", "settings"]).json(),
        policy
    );
    let from_stdin = run({
        let mut c = s3creds(&moto.url, &Keys::dummy());
        c.args(["set-bucket-policy", "settings", "--policy-file", "-"])
            .write_stdin(policy.to_string().replace("Read", "ReadToo"));
        c
    });
    from_stdin.assert_success();
    assert_eq!(
        bucket_policy(&aws, "settings").unwrap()["Statement"][0]["Sid"],
        "ReadToo"
    );
    let all_get = s3c(&moto, &["set-bucket-policy", "settings", "--allow-all-get"]);
    all_get.assert_success();
    assert!(
        all_get
            .stderr
            .contains("anyone on the internet can now read every object in settings"),
        "{}",
        all_get.stderr
    );
    assert_eq!(
        bucket_policy(&aws, "settings").unwrap()["Statement"][0],
        json!({"Sid": "AllowAllGetObject", "Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::settings/*"]})
    );

    let debug = s3c(&moto, &["debug-bucket", "settings"]);
    debug.assert_success();
    for title in [
        "Bucket ACL:",
        "Bucket policy status:",
        "Bucket public access block:",
    ] {
        assert!(debug.stdout.contains(title), "{}", debug.stdout);
    }
    assert!(
        debug.stdout.contains("\"IsPublic\": true"),
        "{}",
        debug.stdout
    );
}

#[test]
fn bad_input_is_one_clear_error_and_changes_nothing() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("guarded");
    s3c(
        &moto,
        &[
            "set-public-access-block",
            "guarded",
            "--block-public-acls",
            "true",
        ],
    )
    .assert_success();
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    std::fs::write(&bad_json, "{\"Version\": \"2012-10-17\", \"Statement\": [}").unwrap();
    let not_policy = dir.path().join("list.json");
    std::fs::write(&not_policy, "[1, 2]").unwrap();
    let before = (
        bucket_policy(&aws, "guarded"),
        cors(&aws, "guarded"),
        public_access_block(&aws, "guarded"),
    );

    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (
            vec![
                "set-bucket-policy",
                "guarded",
                "--policy-file",
                bad_json.to_str().unwrap(),
            ],
            3,
            "not valid JSON",
        ),
        (
            vec![
                "set-bucket-policy",
                "guarded",
                "--policy-file",
                not_policy.to_str().unwrap(),
            ],
            3,
            "not a policy document",
        ),
        (
            vec![
                "set-bucket-policy",
                "guarded",
                "--policy-file",
                "/nonexistent/p.json",
            ],
            3,
            "cannot read the file",
        ),
        (
            vec!["set-bucket-policy", "guarded"],
            3,
            "needs --policy-file FILE or --allow-all-get",
        ),
        (
            vec![
                "set-bucket-policy",
                "guarded",
                "--allow-all-get",
                "--policy-file",
                "x",
            ],
            2,
            "cannot be used with",
        ),
        (
            vec!["set-cors-policy", "guarded", "-m", "FETCH"],
            3,
            "not a method S3 allows",
        ),
        (
            vec!["set-cors-policy", "guarded", "-o", "https://*.a.*"],
            3,
            "not a valid origin",
        ),
        (
            vec!["set-cors-policy", "guarded", "--max-age-seconds", "-5"],
            3,
            "out of range",
        ),
        (
            vec!["set-public-access-block", "guarded"],
            3,
            "no setting given",
        ),
        (
            vec![
                "set-public-access-block",
                "guarded",
                "--block-public-acls",
                "maybe",
            ],
            2,
            "not a boolean",
        ),
        (
            vec![
                "set-public-access-block",
                "guarded",
                "--allow-public-access",
                "--block-public-acls",
                "true",
            ],
            2,
            "cannot be used with",
        ),
        (vec!["get-bucket-policy", "Not_A_Bucket"], 3, "bucket"),
        (
            vec!["get-bucket-policy", "missing-bucket"],
            5,
            "NoSuchBucket",
        ),
        (vec!["set-cors-policy", "missing-bucket"], 5, "NoSuchBucket"),
        (
            vec!["set-bucket-policy", "missing-bucket", "--allow-all-get"],
            5,
            "NoSuchBucket",
        ),
        (
            vec![
                "set-public-access-block",
                "missing-bucket",
                "--allow-public-access",
            ],
            5,
            "NoSuchBucket",
        ),
        (vec!["list-bucket", "missing-bucket"], 5, "NoSuchBucket"),
        (
            vec!["get-cors-policy", "guarded"],
            5,
            "NoSuchCORSConfiguration",
        ),
        (
            vec!["list-bucket", "guarded", "--csv", "--tsv"],
            2,
            "cannot be used with",
        ),
    ];
    for (args, code, message) in cases {
        let outcome = s3c(&moto, &args);
        outcome.assert_failure(code, message);
        if code != 2 {
            assert_eq!(
                outcome
                    .stderr
                    .lines()
                    .filter(|l| l.starts_with("error:"))
                    .count(),
                1,
                "{args:?}: {}",
                outcome.stderr
            );
        }
    }
    assert_eq!(
        (
            bucket_policy(&aws, "guarded"),
            cors(&aws, "guarded"),
            public_access_block(&aws, "guarded")
        ),
        before
    );
    assert_eq!(aws.bucket_names(), ["guarded"]);
}
