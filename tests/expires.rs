//! `create --expires` and `policy --expires`: the IAM evaluator (tests/iam-sim) proves every expiring
//! policy answers exactly like the same policy without --expires before the instant, and denies
//! everything after it (`aws:CurrentTime` in the request context), for every access kind, with
//! prefixes, custom statements and a custom --policy. Against moto: the user's stored policy and tags,
//! --dry-run, and every bad value refused with exit 3 and nothing changed.

mod support;

use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};
use support::{bare_s3creds, run, s3creds, Aws, Keys, Moto, Proxy};

const AT: &str = "2030-06-30T12:00:00Z";
const JUST_BEFORE: &str = "2030-06-30T11:59:59Z";
const LONG_BEFORE: &str = "2026-01-01T00:00:00Z";
const AFTER: &str = "2031-01-01T00:00:00Z";

fn policy(args: &[&str]) -> Value {
    let outcome = run({
        let mut c = bare_s3creds();
        c.arg("policy").args(args);
        c
    });
    outcome.assert_success();
    outcome.json()
}

fn simulate(policy: &Value, checks: &[Value]) -> Vec<String> {
    let sim_dir = format!("{}/tests/iam-sim", env!("CARGO_MANIFEST_DIR"));
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
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            json!({"policy": policy, "checks": checks})
                .to_string()
                .as_bytes(),
        )
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "simulate.mjs failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    results
        .iter()
        .map(|r| r["result"].as_str().unwrap().to_string())
        .collect()
}

/// Requests on the granted buckets and another one: object reads and writes in and out of the
/// prefixes, listings with and without `s3:prefix`, and the custom statements' actions.
fn requests() -> Vec<Value> {
    let mut checks = Vec::new();
    for bucket in ["b-one", "b-two", "not-granted"] {
        let arn = format!("arn:aws:s3:::{bucket}");
        checks.push(json!({"action": "s3:GetBucketLocation", "resource": arn}));
        checks.push(json!({"action": "s3:GetBucketTagging", "resource": arn}));
        checks.push(json!({"action": "s3:ListBucket", "resource": arn}));
        for prefix in ["foo/", "other/"] {
            checks.push(
                json!({"action": "s3:ListBucket", "resource": arn, "context": {"s3:prefix": prefix}}),
            );
        }
        for key in ["foo/x", "keep/x", "other/x"] {
            let object = format!("{arn}/{key}");
            for action in ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"] {
                checks.push(json!({"action": action, "resource": object}));
            }
        }
    }
    checks
}

fn at_time(checks: &[Value], time: &str) -> Vec<Value> {
    checks
        .iter()
        .map(|check| {
            let mut check = check.clone();
            let context = check
                .as_object_mut()
                .unwrap()
                .entry("context")
                .or_insert_with(|| json!({}));
            context["aws:CurrentTime"] = json!(time);
            check
        })
        .collect()
}

/// The expiring policy answers like the plain one before `AT` and denies everything from `AT` on;
/// the explicit Deny of a custom statement stays explicit at every time.
fn verify(args: &[&str]) {
    let plain = policy(args);
    let mut expiring_args = args.to_vec();
    expiring_args.extend(["--expires", AT]);
    let expiring = policy(&expiring_args);
    // The shape `list` reads back: every Allow statement carries exactly this condition.
    for statement in expiring["Statement"].as_array().unwrap() {
        let condition = &statement["Condition"]["DateLessThan"]["aws:CurrentTime"];
        if statement["Effect"] == "Allow" {
            assert_eq!(condition, AT, "{statement}");
        } else {
            assert!(condition.is_null(), "a Deny was changed: {statement}");
        }
    }
    let checks = requests();
    let expected = simulate(&plain, &at_time(&checks, LONG_BEFORE));
    assert!(
        expected.iter().any(|r| r == "Allowed"),
        "{args:?}: nothing is allowed, the comparison would prove nothing"
    );
    for before in [LONG_BEFORE, JUST_BEFORE] {
        assert_eq!(
            simulate(&expiring, &at_time(&checks, before)),
            expected,
            "{args:?} at {before}"
        );
    }
    for after in [AT, AFTER] {
        let answers = simulate(&expiring, &at_time(&checks, after));
        for ((check, answer), plain_answer) in checks.iter().zip(&answers).zip(&expected) {
            let wanted = if plain_answer == "ExplicitlyDenied" {
                "ExplicitlyDenied"
            } else {
                "ImplicitlyDenied"
            };
            assert_eq!(answer, wanted, "{args:?} at {after}: {check}");
        }
    }
}

const CUSTOM_ALLOW: &str =
    r#"{"Effect":"Allow","Action":"s3:GetBucketTagging","Resource":"arn:aws:s3:::b-one"}"#;
const CUSTOM_DENY: &str =
    r#"{"Effect":"Deny","Action":"s3:DeleteObject","Resource":"arn:aws:s3:::b-one/keep/*"}"#;

#[test]
fn every_access_kind_allows_before_and_denies_after() {
    for access in [&[][..], &["--read-only"], &["--write-only"]] {
        let mut args = vec!["b-one", "b-two"];
        args.extend_from_slice(access);
        verify(&args);
        let mut with_prefixes = args.clone();
        with_prefixes.extend(["--prefix", "foo/", "--prefix", "keep/"]);
        verify(&with_prefixes);
    }
}

#[test]
fn custom_statements_and_policies_expire_too() {
    verify(&[
        "b-one",
        "b-two",
        "--statement",
        CUSTOM_ALLOW,
        "--statement",
        CUSTOM_DENY,
    ]);
    verify(&[
        "b-one",
        "--prefix",
        "foo/",
        "--statement",
        CUSTOM_ALLOW,
        "--statement",
        CUSTOM_DENY,
    ]);
    // A custom policy whose Allow already has a condition: both must hold.
    let custom = r#"{"Version":"2012-10-17","Statement":[
        {"Effect":"Allow","Action":"s3:ListBucket","Resource":"arn:aws:s3:::$!BUCKET_NAME!$",
         "Condition":{"StringLike":{"s3:prefix":["foo/*"]}}},
        {"Effect":"Allow","Action":["s3:GetObject","s3:PutObject"],"Resource":"arn:aws:s3:::$!BUCKET_NAME!$/*"}]}"#;
    verify(&["b-one", "b-two", "--policy", custom]);
    let merged = policy(&["b-one", "--policy", custom, "--expires", AT]);
    assert_eq!(
        merged["Statement"][0]["Condition"],
        json!({"StringLike": {"s3:prefix": ["foo/*"]}, "DateLessThan": {"aws:CurrentTime": AT}})
    );
}

/// The user gets the conditions in its stored policy and the expiry in its tags; --dry-run shows both.
#[test]
fn create_expires_stores_the_condition_and_the_tag() {
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    admin.create_bucket("exp-bucket");
    let dry = run({
        let mut c = bare_s3creds();
        c.args([
            "create",
            "exp-bucket",
            "--read-only",
            "--expires",
            AT,
            "--dry-run",
        ]);
        c
    });
    dry.assert_success();
    assert!(
        dry.stdout.contains(&format!("its policy expires at {AT}")),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains("\"aws:CurrentTime\""), "{}", dry.stdout);
    let outcome = run({
        let mut c = s3creds(&moto.url, &Keys::dummy());
        c.args([
            "create",
            "exp-bucket",
            "--read-only",
            "--expires",
            "2030-06-30T14:00:00+02:00",
            "--no-wait",
        ]);
        c
    });
    outcome.assert_success();
    let user = "s3.read-only.exp-bucket";
    let stored = admin.inline_policy(user, user);
    let statements = stored["Statement"].as_array().unwrap();
    assert!(!statements.is_empty());
    for statement in statements {
        assert_eq!(
            statement["Condition"]["DateLessThan"]["aws:CurrentTime"], AT,
            "{stored}"
        );
    }
    assert!(
        admin
            .user_tags(user)
            .contains(&("s3creds:expires".to_string(), AT.to_string())),
        "{:?}",
        admin.user_tags(user)
    );
}

/// A reused user's `s3creds:expires` tag follows its new policy, so `delete-user --expired` never
/// deletes a user whose policy no longer expires.
#[test]
fn a_reused_user_gets_its_expiry_tag_set_and_removed() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    let admin = Aws::new(&moto.url, &Keys::dummy());
    admin.create_bucket("reuse-bucket");
    let user = "s3.read-write.reuse-bucket";
    let create = |extra: &[&str]| {
        let outcome = run({
            let mut c = s3creds(&proxy.url, &Keys::dummy());
            c.args(["create", "reuse-bucket", "--no-wait"]).args(extra);
            c
        });
        outcome.assert_success();
    };
    let expires_tag = |admin: &Aws| {
        admin
            .user_tags(user)
            .into_iter()
            .find(|(k, _)| k == "s3creds:expires")
            .map(|(_, v)| v)
    };
    create(&["--expires", AT]);
    assert_eq!(expires_tag(&admin).as_deref(), Some(AT));
    proxy.reset();
    create(&[]);
    assert_eq!(expires_tag(&admin), None);
    assert!(proxy.actions().contains(&"UntagUser".to_string()));
    let stored = admin.inline_policy(user, user);
    assert!(!stored.to_string().contains("aws:CurrentTime"), "{stored}");
    // Two keys now: make room, then reuse with a new expiry.
    let first = admin.access_key_ids(user)[0].clone();
    admin
        .block_on(
            admin
                .iam
                .delete_access_key()
                .user_name(user)
                .access_key_id(first)
                .send(),
        )
        .unwrap();
    create(&["--expires", "2030-01-01"]);
    assert_eq!(expires_tag(&admin).as_deref(), Some("2030-01-01T00:00:00Z"));
    assert!(
        admin
            .user_tags(user)
            .contains(&("s3creds:managed".to_string(), "true".to_string())),
        "the other tags stay"
    );
}

/// Bad values, --duration, and a policy that only fits without the conditions: exit 3, no AWS call.
#[test]
fn bad_expiry_values_are_refused_before_any_call() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    let admin = Aws::new(&moto.url, &Keys::dummy());
    admin.create_bucket("exp-bucket");
    let before = admin.state();
    for (value, extra, message) in [
        ("2020-01-01", &[][..], "at least 5 minutes in the future"),
        ("1m", &[], "at least 5 minutes in the future"),
        ("2207-01-31", &[], "more than 10 years ahead"),
        ("2027-02-30", &[], "invalid --expires"),
        ("31/01/2027", &[], "invalid --expires"),
        ("2027-01-31T12:00:00", &[], "invalid --expires"),
        ("tomorrow", &[], "invalid --expires"),
        (
            "30d",
            &["--duration", "1h"],
            "--expires is for permanent credentials",
        ),
    ] {
        let outcome = run({
            let mut c = s3creds(&proxy.url, &Keys::dummy());
            c.args(["create", "exp-bucket", "--expires", value])
                .args(extra);
            c
        });
        outcome.assert_failure(3, message);
        assert_eq!(
            outcome
                .stderr
                .lines()
                .filter(|l| l.starts_with("error:"))
                .count(),
            1,
            "{}",
            outcome.stderr
        );
    }
    let outcome = run({
        let mut c = bare_s3creds();
        c.args(["policy", "exp-bucket", "--expires", "yesterday"]);
        c
    });
    outcome.assert_failure(3, "invalid --expires");

    // The size limit is checked with the conditions in: find a bucket count that fits only without.
    let compact_len = |v: &Value| v.to_string().len();
    let names: Vec<String> = (0..40).map(|i| format!("exp-bucket-{i:02}")).collect();
    let fits_only_without = (1..40)
        .find(|&n| {
            let mut args: Vec<&str> = names[..n].iter().map(String::as_str).collect();
            let plain = compact_len(&policy(&args));
            args.extend(["--expires", AT]);
            plain <= 2048 && compact_len(&policy(&args)) > 2048
        })
        .expect("a bucket count whose policy only fits without --expires");
    let outcome = run({
        let mut c = s3creds(&proxy.url, &Keys::dummy());
        c.arg("create")
            .args(&names[..fits_only_without])
            .args(["--expires", AT]);
        c
    });
    outcome.assert_failure(3, "user inline policy");
    assert!(
        proxy.actions().is_empty(),
        "refused input called AWS: {:?}",
        proxy.actions()
    );
    assert_eq!(admin.state(), before);
}

/// `--expires` for a user that already has other permissions would leave those forever (and
/// `delete-user --expired` would later delete a user whose access never ended): refused, naming
/// them, before any change.
#[test]
fn an_existing_user_with_other_permissions_is_refused_before_any_change() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    let admin = Aws::new(&moto.url, &Keys::dummy());
    admin.create_bucket("first-bucket");
    admin.create_bucket("second-bucket");
    let create = |args: &[&str]| {
        run({
            let mut c = s3creds(&proxy.url, &Keys::dummy());
            c.args(["create", "--no-wait", "--username", "shared-user"])
                .args(args);
            c
        })
    };
    create(&["first-bucket", "--read-only"]).assert_success();
    let before = admin.state();
    proxy.reset();
    let outcome = create(&["second-bucket", "--expires", AT]);
    outcome.assert_failure(3, "--expires cannot end the access of user shared-user");
    assert!(
        outcome
            .stderr
            .contains("it also has inline policy s3.read-only.first-bucket"),
        "{}",
        outcome.stderr
    );
    assert_eq!(admin.state(), before, "something changed");
    for action in proxy.actions() {
        assert!(
            action.starts_with("Get") || action.starts_with("List") || action.starts_with("HEAD "),
            "a mutating call was made: {action} in {:?}",
            proxy.actions()
        );
    }
}
