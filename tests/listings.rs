//! `list-users`, `list-roles`, `list-user-policies`, `list-buckets` and `whoami` side by side with
//! s3-credentials 0.17 on the same moto state: the same JSON keys and values, and byte-identical CSV
//! and text where s3-credentials' output is well defined. Then bad input.

mod support;

use serde_json::{json, Value};
use std::process::Command;
use support::{bare_s3creds, repo_root, run, s3creds, Aws, Keys, Moto, Outcome};

/// s3-credentials from the test virtualenv, talking to `endpoint` with the dummy keys.
fn upstream(endpoint: &str, args: &[&str]) -> String {
    let binary = repo_root().join(".venv/bin/s3-credentials");
    assert!(
        binary.exists(),
        "{} not found: run scripts/setup-test-env.sh",
        binary.display()
    );
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    let output = command
        .args(args)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_CONFIG_FILE", "/nonexistent/s3creds-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/s3creds-test/credentials",
        )
        .output()
        .expect("run s3-credentials");
    let outcome = Outcome::from(output);
    assert_eq!(
        outcome.code, 0,
        "s3-credentials {args:?}: {}",
        outcome.stderr
    );
    outcome.stdout
}

fn ours(endpoint: &str, args: &[&str]) -> String {
    let mut command = s3creds(endpoint, &Keys::dummy());
    command.args(args);
    let outcome = run(command);
    outcome.assert_success();
    assert_eq!(outcome.stderr, "", "{args:?}");
    outcome.stdout
}

fn json_lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect()
}

/// Users of two kinds, the role, a website bucket (public access block, policy, website) and a
/// plain one.
fn populate(moto: &Moto, aws: &Aws) {
    aws.create_bucket("plain-bucket");
    for args in [
        &[
            "create",
            "plain-bucket",
            "--read-only",
            "--prefix",
            "foo/",
            "--no-wait",
        ][..],
        &["create", "site-bucket", "-c", "--website", "--no-wait"][..],
        &["create", "plain-bucket", "--duration", "15m"][..],
    ] {
        let mut command = s3creds(&moto.url, &Keys::dummy());
        command.args(args).arg("--silent");
        run(command).assert_success();
    }
}

#[test]
fn listings_match_s3_credentials_on_the_same_state() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    populate(&moto, &aws);
    let url = moto.url.as_str();
    let parsed = |text: String| -> Value { serde_json::from_str(&text).expect("JSON") };

    // JSON, NL and CSV of the commands with fixed columns.
    for command in [
        &["list-users"][..],
        &["list-roles"][..],
        &["list-roles", "--details"][..],
        &["list-roles", "s3-credentials.AmazonS3FullAccess"][..],
        &["list-buckets"][..],
        &["list-buckets", "plain-bucket"][..],
    ] {
        let theirs = parsed(upstream(url, command));
        assert!(
            !theirs.as_array().unwrap().is_empty(),
            "{command:?}: {theirs}"
        );
        assert_eq!(parsed(ours(url, command)), theirs, "{command:?}");
        // Their JSON is indented by two spaces, as ours.
        assert_eq!(ours(url, command), upstream(url, command), "{command:?}");
        let nl: Vec<&str> = command.iter().copied().chain(["--nl"]).collect();
        assert_eq!(
            json_lines(&ours(url, &nl)),
            json_lines(&upstream(url, &nl)),
            "{nl:?}"
        );
        for flag in ["--csv", "--tsv"] {
            let args: Vec<&str> = command.iter().copied().chain([flag]).collect();
            assert_eq!(ours(url, &args), upstream(url, &args), "{args:?}");
        }
    }

    // list-buckets --details: the same, except the website URL, which upstream writes with a dot
    // for every region although us-east-1 (and eight other old regions) use a dash.
    let mut theirs = parsed(upstream(url, &["list-buckets", "--details"]));
    let mine = parsed(ours(url, &["list-buckets", "--details"]));
    let site = theirs
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|b| b["Name"] == "site-bucket")
        .expect("the website bucket");
    assert_eq!(
        site["bucket_website"]["url"],
        "http://site-bucket.s3-website.us-east-1.amazonaws.com/"
    );
    site["bucket_website"]["url"] = json!("http://site-bucket.s3-website-us-east-1.amazonaws.com/");
    assert_eq!(
        site["bucket_website"]["IndexDocument"],
        json!({"Suffix": "index.html"})
    );
    assert!(site["public_access_block"].is_object(), "{site}");
    assert_eq!(mine, theirs);

    // list-user-policies: upstream's text, byte for byte, for every user and for named ones.
    for args in [
        &["list-user-policies"][..],
        &["list-user-policies", "s3.read-only.plain-bucket"][..],
    ] {
        let text = ours(url, args);
        assert!(text.starts_with("User: "), "{text}");
        assert_eq!(text, upstream(url, args), "{args:?}");
    }
    // With a flag: rows of user, policy name and document.
    let rows = parsed(ours(url, &["list-user-policies", "--json"]));
    assert_eq!(rows.as_array().unwrap().len(), 2, "{rows}");
    assert_eq!(rows[0]["UserName"], "s3.read-only.plain-bucket");
    assert_eq!(rows[0]["PolicyName"], "s3.read-only.plain-bucket");
    assert_eq!(
        rows[0]["PolicyDocument"],
        aws.inline_policy("s3.read-only.plain-bucket", "s3.read-only.plain-bucket")
    );

    // whoami: the same keys and values (upstream also indents by four spaces).
    assert_eq!(ours(url, &["whoami"]), upstream(url, &["whoami"]));
}

#[test]
fn an_unknown_user_is_one_error_and_nothing_printed() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    populate(&moto, &aws);
    let before = aws.state();
    let mut command = s3creds(&moto.url, &Keys::dummy());
    command.args(["list-user-policies", "s3.read-only.plain-bucket", "nobody"]);
    let outcome = run(command);
    outcome.assert_failure(
        5,
        "error: ListUserPolicies nobody: NoSuchEntity: The user with name nobody cannot be found.",
    );
    assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
    assert_eq!(aws.state(), before);
}

#[test]
fn bad_input_and_missing_credentials() {
    let moto = Moto::start();
    for args in [
        &["list-users", "--nl", "--csv"][..],
        &["list-roles", "--details", "--json", "--tsv"][..],
        &["list-buckets", "--csv", "--table"][..],
        &["list-user-policies", "--nl", "--json"][..],
        &["list-users", "extra"][..],
        &["list-buckets", "--detail"][..],
    ] {
        let mut command = s3creds(&moto.url, &Keys::dummy());
        command.args(args);
        let outcome = run(command);
        assert_eq!(outcome.code, 2, "{args:?}: {}", outcome.stderr);
        assert!(outcome.stderr.starts_with("error:"), "{}", outcome.stderr);
        assert!(outcome.stdout.is_empty());
    }
    for command in [
        "list-users",
        "list-roles",
        "list-user-policies",
        "list-buckets",
    ] {
        let mut bare = bare_s3creds();
        bare.env("AWS_ENDPOINT_URL", &moto.url).arg(command);
        let outcome = run(bare);
        assert_eq!(outcome.code, 4, "{command}: {}", outcome.stderr);
        assert!(outcome.stderr.starts_with("error:"), "{}", outcome.stderr);
        assert!(outcome.stdout.is_empty());
    }
}
