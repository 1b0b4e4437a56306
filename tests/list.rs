//! `s3creds list` and `whoami` against moto: users made by `create` of every access kind, an untagged
//! user made directly, key status and last use, the role, every output format, exact AWS calls
//! (through the counting proxy), a user whose details fail, and bad input.

mod support;

use serde_json::{json, Value};
use std::collections::BTreeMap;
use support::{bare_s3creds, run, s3creds, Aws, Keys, Moto, Proxy};

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Count the calls by operation name.
fn counts(actions: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for action in actions {
        *counts.entry(action.clone()).or_insert(0) += 1;
    }
    counts
}

fn expected(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(a, n)| (a.to_string(), *n)).collect()
}

fn create(moto: &Moto, args: &[&str]) -> Keys {
    let mut command = s3creds(&moto.url, &Keys::dummy());
    command.arg("create").args(args).arg("--silent");
    let outcome = run(command);
    outcome.assert_success();
    Keys::from_output(&outcome.json())
}

/// The rows of `list --json`, by user name.
fn users_by_name(output: &Value) -> BTreeMap<String, Value> {
    output["users"]
        .as_array()
        .expect("a users list")
        .iter()
        .map(|u| (u["UserName"].as_str().unwrap().to_string(), u.clone()))
        .collect()
}

/// Four users of every kind `create` makes, one person's user without tags, and the role.
fn populate(moto: &Moto, aws: &Aws) {
    for bucket in ["b-one", "b-two", "b-three"] {
        aws.create_bucket(bucket);
    }
    let ro = create(
        moto,
        &[
            "b-one",
            "--read-only",
            "--prefix",
            "foo/",
            "--username",
            "ro-user",
        ],
    );
    create(
        moto,
        &[
            "b-two",
            "--write-only",
            "--username",
            "wo-user",
            "--no-wait",
        ],
    );
    create(
        moto,
        &["b-one", "b-two", "--username", "rw-user", "--no-wait"],
    );
    create(
        moto,
        &[
            "b-three",
            "--statement",
            r#"{"Effect":"Allow","Action":"textract:*","Resource":"*"}"#,
            "--username",
            "custom-user",
            "--no-wait",
        ],
    );
    let mut command = s3creds(&moto.url, &Keys::dummy());
    command.args(["create", "b-one", "--duration", "15m", "--silent"]);
    run(command).assert_success();
    aws.user_with_policy(
        "person",
        &json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::b-one/*"}]}),
    );
    // rw-user's key is switched off; ro-user's key is used for S3 (its last use).
    let rw_key = aws.access_key_ids("rw-user").remove(0);
    aws.block_on(
        aws.iam
            .update_access_key()
            .user_name("rw-user")
            .access_key_id(rw_key)
            .status(aws_sdk_iam::types::StatusType::Inactive)
            .send(),
    )
    .expect("deactivate the key");
    let _ = Aws::new(&moto.url, &ro).get_object("b-one", "foo/nothing");
}

#[test]
fn list_reads_back_every_kind_of_user_with_keys_and_the_role() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    populate(&moto, &aws);
    let proxy = Proxy::start(&moto);

    let mut command = s3creds(&proxy.url, &Keys::dummy());
    command.args(["list", "--json"]);
    let outcome = run(command);
    outcome.assert_success();
    assert_eq!(outcome.stderr, "");
    let output = outcome.json();
    let users = users_by_name(&output);
    assert_eq!(
        users.keys().collect::<Vec<_>>(),
        ["custom-user", "ro-user", "rw-user", "wo-user"],
        "only the users s3creds manages: {output}"
    );
    let ro = &users["ro-user"];
    assert_eq!(ro["access"], "read-only");
    assert_eq!(ro["buckets"], json!(["b-one"]));
    assert_eq!(ro["prefixes"], json!(["foo/*"]));
    assert_eq!(ro["managed"], true);
    assert_eq!(ro["version"], VERSION);
    assert_eq!(ro["expires"], Value::Null);
    assert_eq!(ro["error"], Value::Null);
    let key = &ro["keys"][0];
    assert_eq!(ro["keys"].as_array().unwrap().len(), 1);
    assert_eq!(key["AccessKeyId"], json!(aws.access_key_ids("ro-user")[0]));
    assert_eq!(key["Status"], "Active");
    assert_eq!(key["age_days"], 0);
    assert_eq!(key["LastUsedService"], "s3", "{key}");
    // moto's credential report has no service for a used key: this one was asked directly.
    assert_eq!(key["LastUsedAsOf"], Value::Null, "{key}");
    let used = key["LastUsedDate"].as_str().expect("a last-used date");
    assert!(used.ends_with('Z') && used.len() == 20, "{used}");
    assert!(key["CreateDate"].as_str().unwrap().ends_with('Z'));

    let wo = &users["wo-user"];
    assert_eq!(wo["access"], "write-only");
    assert_eq!(wo["buckets"], json!(["b-two"]));
    assert_eq!(wo["prefixes"], json!([]));
    // --no-wait: the key was never used, as of the credential report's time (moto's is fixed).
    assert_eq!(wo["keys"][0]["LastUsedDate"], Value::Null);
    assert_eq!(wo["keys"][0]["LastUsedService"], Value::Null);
    assert_eq!(wo["keys"][0]["LastUsedAsOf"], "2015-02-02T20:02:02Z");

    let rw = &users["rw-user"];
    assert_eq!(rw["access"], "read-write");
    assert_eq!(rw["buckets"], json!(["b-one", "b-two"]));
    assert_eq!(rw["keys"][0]["Status"], "Inactive");

    let custom = &users["custom-user"];
    assert_eq!(custom["access"], "custom");
    assert_eq!(custom["buckets"], json!(["b-three"]));

    let role = &output["role"];
    assert_eq!(role["RoleName"], "s3-credentials.AmazonS3FullAccess");
    assert_eq!(
        role["Arn"],
        "arn:aws:iam::123456789012:role/s3-credentials.AmazonS3FullAccess"
    );
    assert_eq!(role["managed"], true);
    assert_eq!(role["version"], VERSION);

    // Every user's tags and policies in one call, GetRole, ListAccessKeys per managed user, and the
    // credential report for last use. moto builds the report on the second request (STARTED, then
    // COMPLETE), and gives no service for a used key: only that key costs GetAccessKeyLastUsed.
    assert_eq!(
        counts(&proxy.actions()),
        expected(&[
            ("GenerateCredentialReport", 2),
            ("GetAccessKeyLastUsed", 1),
            ("GetAccountAuthorizationDetails", 1),
            ("GetCredentialReport", 1),
            ("GetRole", 1),
            ("ListAccessKeys", 4),
        ])
    );

    // --all: the person too, unmanaged, its policy read back as custom.
    proxy.reset();
    let mut command = s3creds(&proxy.url, &Keys::dummy());
    command.args(["list", "--all"]);
    let outcome = run(command);
    outcome.assert_success();
    let all = users_by_name(&outcome.json());
    assert_eq!(all.len(), 5);
    let person = &all["person"];
    assert_eq!(person["managed"], false);
    assert_eq!(person["version"], Value::Null);
    assert_eq!(person["access"], "custom");
    assert_eq!(person["buckets"], json!(["b-one"]));
    assert_eq!(person["keys"].as_array().unwrap().len(), 1);
    assert_eq!(all["ro-user"], users["ro-user"]);
    // The report is ready now: one GenerateCredentialReport.
    assert_eq!(
        counts(&proxy.actions()),
        expected(&[
            ("GenerateCredentialReport", 1),
            ("GetAccessKeyLastUsed", 1),
            ("GetAccountAuthorizationDetails", 1),
            ("GetCredentialReport", 1),
            ("GetRole", 1),
            ("ListAccessKeys", 5),
        ])
    );
}

/// The same rows when the caller may not have GetAccountAuthorizationDetails or the credential
/// report: `list` then reads user by user and key by key.
#[test]
fn list_reads_the_same_without_the_account_wide_calls() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    populate(&moto, &aws);
    let proxy = Proxy::start(&moto);
    let list = |flags: &[&str]| {
        let mut command = s3creds(&proxy.url, &Keys::dummy());
        command.arg("list").arg("--json").args(flags);
        let outcome = run(command);
        outcome.assert_success();
        assert_eq!(outcome.stderr, "");
        outcome.json()
    };
    let reference = list(&[]);
    assert_eq!(reference["users"].as_array().unwrap().len(), 4);

    proxy.reset();
    proxy.fail_next("GetAccountAuthorizationDetails", 1, 403, "AccessDenied");
    assert_eq!(list(&[]), reference);
    // Every user's tags (the person's too, to know it is not managed), then per managed user its
    // policy and its key; the report answers for the keys.
    assert_eq!(
        counts(&proxy.actions()),
        expected(&[
            ("GenerateCredentialReport", 1),
            ("GetAccessKeyLastUsed", 1),
            ("GetAccountAuthorizationDetails", 1),
            ("GetCredentialReport", 1),
            ("GetRole", 1),
            ("GetUserPolicy", 4),
            ("ListAccessKeys", 4),
            ("ListUserPolicies", 4),
            ("ListUserTags", 5),
            ("ListUsers", 1),
        ])
    );

    // Without the report every key is asked directly: the same rows, none "as of" a report.
    let asked_directly = |mut output: Value| {
        for user in output["users"].as_array_mut().unwrap() {
            for key in user["keys"].as_array_mut().unwrap() {
                key["LastUsedAsOf"] = Value::Null;
            }
        }
        output
    };
    for refused in ["GenerateCredentialReport", "GetCredentialReport"] {
        proxy.reset();
        proxy.fail_next(refused, 2, 403, "AccessDenied");
        assert_eq!(
            list(&[]),
            asked_directly(reference.clone()),
            "{refused} refused"
        );
        let calls = counts(&proxy.actions());
        assert_eq!(calls["GetAccessKeyLastUsed"], 4, "{refused}: {calls:?}");
        assert_eq!(calls["ListAccessKeys"], 4, "{refused}: {calls:?}");
    }

    // Both refused, `--all`: the person's row is read the slow way too.
    proxy.reset();
    proxy.fail_next("GetAccountAuthorizationDetails", 1, 403, "AccessDenied");
    proxy.fail_next("GenerateCredentialReport", 2, 403, "AccessDenied");
    let all = list(&["--all"]);
    let users = users_by_name(&all);
    assert_eq!(users.len(), 5);
    for (name, user) in users_by_name(&asked_directly(reference.clone())) {
        assert_eq!(users[&name], user);
    }
    assert_eq!(users["person"]["access"], "custom");
    let calls = counts(&proxy.actions());
    assert_eq!(
        (
            calls["ListUserTags"],
            calls["ListUserPolicies"],
            calls["GetAccessKeyLastUsed"]
        ),
        (5, 5, 5),
        "{calls:?}"
    );
}

#[test]
fn every_output_format_holds_the_same_users() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    populate(&moto, &aws);
    let list = |flags: &[&str]| {
        let mut command = s3creds(&moto.url, &Keys::dummy());
        command.arg("list").args(flags);
        let outcome = run(command);
        outcome.assert_success();
        outcome.stdout
    };
    // Not a terminal: JSON without a flag.
    let json: Value = serde_json::from_str(&list(&[])).expect("JSON by default");
    let users = users_by_name(&json);

    let nl = list(&["--nl"]);
    let lines: Vec<Value> = nl
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(lines.len(), 5, "{nl}");
    for line in &lines[..4] {
        assert_eq!(line, &users[line["UserName"].as_str().unwrap()]);
    }
    assert_eq!(lines[4], json!({"role": json["role"]}));

    let header =
        "UserName,access,buckets,prefixes,expires,keys,CreateDate,managed,version,error\r\n";
    let csv = list(&["--csv"]);
    assert!(csv.starts_with(header), "{csv}");
    assert!(
        csv.contains("\r\nrw-user,read-write,\"[\n  \"\"b-one\"\",\n  \"\"b-two\"\"\n]\",[],,"),
        "{csv}"
    );
    let tsv = list(&["--tsv"]);
    assert!(tsv.starts_with(&header.replace(',', "\t")), "{tsv}");
    assert!(tsv.contains("\r\nro-user\tread-only\t"), "{tsv}");

    let table = list(&["--table"]);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("UserName     access"), "{table}");
    let ro_line = lines.iter().find(|l| l.starts_with("ro-user ")).unwrap();
    for word in ["read-only", "b-one", "foo/*", "Active 0d used", " s3 "] {
        assert!(ro_line.contains(word), "{word}: {table}");
    }
    let rw_line = lines.iter().find(|l| l.starts_with("rw-user ")).unwrap();
    assert!(
        rw_line.contains("b-one, b-two") && rw_line.contains("Inactive"),
        "{table}"
    );
    assert!(
        table.contains("\nrole: s3-credentials.AmazonS3FullAccess arn:aws:iam::123456789012:role/"),
        "{table}"
    );
}

#[test]
fn a_user_whose_policies_cannot_be_read_shows_the_error_in_its_row() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("b-one");
    create(&moto, &["b-one", "--username", "first", "--no-wait"]);
    create(
        &moto,
        &["b-one", "--read-only", "--username", "second", "--no-wait"],
    );
    let proxy = Proxy::start(&moto);
    // Read user by user, where a policy read can fail on its own.
    proxy.fail_next("GetAccountAuthorizationDetails", 1, 403, "AccessDenied");
    proxy.fail_next("ListUserPolicies", 1, 403, "AccessDenied");

    let mut command = s3creds(&proxy.url, &Keys::dummy());
    command.args(["list", "--json", "--concurrency", "1"]);
    let outcome = run(command);
    outcome.assert_success();
    assert!(
        outcome
            .stderr
            .contains("warning: 1 user(s) could not be read completely"),
        "{}",
        outcome.stderr
    );
    let users = users_by_name(&outcome.json());
    assert_eq!(users.len(), 2);
    let (failed, complete): (Vec<&Value>, Vec<&Value>) =
        users.values().partition(|u| !u["error"].is_null());
    assert_eq!(failed.len(), 1, "{users:?}");
    let failed = failed[0];
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("ListUserPolicies") && error.contains("AccessDenied"),
        "{error}"
    );
    assert_eq!(failed["access"], Value::Null);
    assert_eq!(failed["buckets"], Value::Null);
    // What could be read is still shown.
    assert_eq!(failed["managed"], true);
    assert_eq!(failed["keys"].as_array().unwrap().len(), 1);
    let complete = complete[0];
    assert!(complete["access"].is_string() && complete["keys"][0]["AccessKeyId"].is_string());

    // Read account-wide, a user whose keys cannot be listed keeps its policies' reading.
    proxy.reset();
    proxy.fail_next("ListAccessKeys", 1, 403, "AccessDenied");
    let mut command = s3creds(&proxy.url, &Keys::dummy());
    command.args(["list", "--json", "--concurrency", "1"]);
    let outcome = run(command);
    outcome.assert_success();
    let users = users_by_name(&outcome.json());
    let failed: Vec<&Value> = users.values().filter(|u| !u["error"].is_null()).collect();
    assert_eq!(failed.len(), 1, "{users:?}");
    let error = failed[0]["error"].as_str().unwrap();
    assert!(
        error.contains("ListAccessKeys") && error.contains("AccessDenied"),
        "{error}"
    );
    assert_eq!(failed[0]["keys"], Value::Null);
    assert!(failed[0]["access"].is_string(), "{users:?}");
}

#[test]
fn list_fails_only_when_the_users_cannot_be_listed() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    proxy.fail_next("GetAccountAuthorizationDetails", 1, 403, "AccessDenied");
    proxy.fail_next("ListUsers", 1, 403, "AccessDenied");
    let mut command = s3creds(&proxy.url, &Keys::dummy());
    command.arg("list");
    run(command).assert_failure(4, "error: ListUsers: AccessDenied");

    // No role yet and no users: an empty list, the role null.
    let mut command = s3creds(&proxy.url, &Keys::dummy());
    command.arg("list");
    let outcome = run(command);
    outcome.assert_success();
    assert_eq!(outcome.json(), json!({"users": [], "role": null}));
}

#[test]
fn bad_input_is_refused_before_any_call() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    for (args, code, message) in [
        (&["list", "--json", "--csv"][..], 2, "cannot be used with"),
        (&["list", "--nl", "--table"][..], 2, "cannot be used with"),
        (&["list", "--concurrency", "0"][..], 2, "0 is not in 1..=64"),
        (
            &["list", "--concurrency", "65"][..],
            2,
            "65 is not in 1..=64",
        ),
        (&["list", "--concurrency", "x"][..], 2, "invalid value"),
        (&["whoami", "extra"][..], 2, "unexpected argument"),
        (&["list", "--read-timeout", "0s"][..], 3, "error:"),
    ] {
        let mut command = s3creds(&proxy.url, &Keys::dummy());
        command.args(args);
        run(command).assert_failure(code, message);
    }
    assert_eq!(proxy.actions(), Vec::<String>::new());
}

#[test]
fn whoami_prints_the_caller_identity_and_needs_credentials() {
    let moto = Moto::start();
    let mut command = s3creds(&moto.url, &Keys::dummy());
    command.arg("whoami");
    let outcome = run(command);
    outcome.assert_success();
    let identity = outcome.json();
    let keys: Vec<&String> = identity.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["UserId", "Account", "Arn"]);
    assert_eq!(identity["Account"], "123456789012");
    assert!(
        outcome.stdout.contains("\n    \"UserId\""),
        "four-space indent as upstream"
    );

    for command in ["whoami", "list"] {
        let mut bare = bare_s3creds();
        bare.env("AWS_ENDPOINT_URL", &moto.url).arg(command);
        let outcome = run(bare);
        assert_eq!(outcome.code, 4, "{command}: {}", outcome.stderr);
        assert!(outcome.stderr.starts_with("error:"), "{}", outcome.stderr);
        assert!(outcome.stdout.is_empty());
    }
}

/// s3-credentials writes one policy per bucket; `list --all` reads its users as `create` would have
/// made them.
#[test]
fn users_made_by_s3_credentials_read_back_the_same() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("b-one");
    aws.create_bucket("b-two");
    let upstream = support::repo_root().join(".venv/bin/s3-credentials");
    for args in [
        &["b-one", "b-two", "--read-only", "--username", "up-ro"][..],
        &["b-one", "--prefix", "foo/", "--username", "up-rw"][..],
        &["b-two", "--write-only", "--username", "up-wo"][..],
    ] {
        let status = std::process::Command::new(&upstream)
            .arg("create")
            .args(args)
            .args(["--endpoint-url", &moto.url])
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", "/nonexistent/s3creds-test/config")
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run s3-credentials");
        assert!(status.success(), "s3-credentials create {args:?}");
    }
    assert_eq!(
        aws.inline_policy_names("up-ro").len(),
        2,
        "one policy per bucket"
    );
    let mut command = s3creds(&moto.url, &Keys::dummy());
    command.args(["list", "--all"]);
    let outcome = run(command);
    outcome.assert_success();
    let users = users_by_name(&outcome.json());
    let read = |name: &str| {
        let u = &users[name];
        (
            u["access"].clone(),
            u["buckets"].clone(),
            u["prefixes"].clone(),
            u["managed"].clone(),
        )
    };
    assert_eq!(
        read("up-ro"),
        (
            json!("read-only"),
            json!(["b-one", "b-two"]),
            json!([]),
            json!(false)
        )
    );
    assert_eq!(
        read("up-rw"),
        (
            json!("read-write"),
            json!(["b-one"]),
            json!(["foo/*"]),
            json!(false)
        )
    );
    assert_eq!(
        read("up-wo"),
        (
            json!("write-only"),
            json!(["b-two"]),
            json!([]),
            json!(false)
        )
    );
    // Without --all they are not listed: s3creds did not make them.
    let mut command = s3creds(&moto.url, &Keys::dummy());
    command.arg("list");
    assert_eq!(run(command).json()["users"], json!([]));
}
