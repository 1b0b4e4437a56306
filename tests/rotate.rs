//! `rotate` against moto: the new key works and is printed before the old one is retired (exact call
//! order through the counting proxy), two keys need --replace-inactive/--replace-oldest, injected
//! faults never leave the user without an active key, and bad input changes nothing.

mod support;

use support::{run, s3creds, Aws, Keys, Moto, Outcome, Proxy};

fn rotate(endpoint: &str, args: &[&str]) -> Outcome {
    run({
        let mut c = s3creds(endpoint, &Keys::dummy());
        c.arg("rotate").args(args);
        c
    })
}

/// A user made by `s3creds create`, with its one key.
fn managed_user(endpoint: &str, admin: &Aws, bucket: &str) -> (String, String) {
    admin.create_bucket(bucket);
    let outcome = run({
        let mut c = s3creds(endpoint, &Keys::dummy());
        c.args(["create", bucket, "--no-wait"]);
        c
    });
    outcome.assert_success();
    let key = outcome.json()["AccessKeyId"].as_str().unwrap().to_string();
    (format!("s3.read-write.{bucket}"), key)
}

/// (key ID, status), sorted by ID.
fn keys(admin: &Aws, user: &str) -> Vec<(String, String)> {
    let mut keys: Vec<(String, String)> = admin
        .block_on(admin.iam.list_access_keys().user_name(user).send())
        .unwrap()
        .access_key_metadata()
        .iter()
        .map(|k| {
            (
                k.access_key_id().unwrap().to_string(),
                k.status().unwrap().as_str().to_string(),
            )
        })
        .collect();
    keys.sort();
    keys
}

fn status(admin: &Aws, user: &str, id: &str) -> Option<String> {
    keys(admin, user)
        .into_iter()
        .find(|(k, _)| k == id)
        .map(|(_, s)| s)
}

/// A second key, created a second later so that "oldest" is well defined.
fn second_key(admin: &Aws, user: &str, active: bool) -> String {
    std::thread::sleep(std::time::Duration::from_millis(1100));
    admin.block_on(async {
        let key = admin
            .iam
            .create_access_key()
            .user_name(user)
            .send()
            .await
            .unwrap();
        let id = key.access_key().unwrap().access_key_id().to_string();
        if !active {
            set_status(admin, user, &id, false).await;
        }
        id
    })
}

async fn set_status(admin: &Aws, user: &str, id: &str, active: bool) {
    admin
        .iam
        .update_access_key()
        .user_name(user)
        .access_key_id(id)
        .status(if active {
            aws_sdk_iam::types::StatusType::Active
        } else {
            aws_sdk_iam::types::StatusType::Inactive
        })
        .send()
        .await
        .unwrap();
}

fn authenticates(endpoint: &str, printed: &serde_json::Value) -> bool {
    let keys = Keys::from_output(printed);
    let aws = Aws::new(endpoint, &keys);
    aws.block_on(aws.sts.get_caller_identity().send()).is_ok()
}

#[test]
fn the_new_key_works_and_is_printed_before_the_old_one_is_deactivated() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let (user, old) = managed_user(&moto.url, &admin, "rot-bucket");
    let outcome = rotate(&proxy.url, &[&user]);
    outcome.assert_success();
    let printed = outcome.json();
    let new = printed["AccessKeyId"].as_str().unwrap().to_string();
    outcome.assert_no_secret_on_stderr(&[printed["SecretAccessKey"].as_str().unwrap()]);
    assert_eq!(
        proxy.actions(),
        [
            "GetUser",
            "ListUserTags",
            "ListAccessKeys",
            // No GetAccessKeyLastUsed: with one key there is no choice to describe.
            "CreateAccessKey",
            "GetCallerIdentity",
            "UpdateAccessKey"
        ]
    );
    assert!(authenticates(&moto.url, &printed));
    let mut expected = vec![
        (old.clone(), "Inactive".into()),
        (new.clone(), "Active".into()),
    ];
    expected.sort();
    assert_eq!(keys(&admin, &user), expected);

    // Two keys now: refused with both IDs, their creation and last-used dates.
    let before = admin.state();
    let refused = rotate(&moto.url, &[&user]);
    refused.assert_failure(3, "already has 2 access keys");
    for id in [&old, &new] {
        assert!(refused.stderr.contains(id.as_str()), "{}", refused.stderr);
    }
    assert!(refused.stderr.contains("created 20"), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("never used") || refused.stderr.contains("last used"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--replace-inactive"));
    assert_eq!(admin.state(), before);
    // Without iam:GetAccessKeyLastUsed the refusal still names both keys, without their last use.
    let proxy_refusing = Proxy::start(&moto);
    proxy_refusing.fail_next("GetAccessKeyLastUsed", 2, 403, "AccessDenied");
    let refused = rotate(&proxy_refusing.url, &[&user]);
    refused.assert_failure(3, "already has 2 access keys");
    for id in [&old, &new] {
        assert!(refused.stderr.contains(id.as_str()), "{}", refused.stderr);
    }

    // --replace-inactive --delete-old: the inactive key makes room, the previous one is deleted.
    proxy.reset();
    let outcome = rotate(&proxy.url, &[&user, "--replace-inactive", "--delete-old"]);
    outcome.assert_success();
    let newest = outcome.json()["AccessKeyId"].as_str().unwrap().to_string();
    assert_eq!(keys(&admin, &user), [(newest, "Active".to_string())]);
    let actions = proxy.actions();
    assert_eq!(
        actions[actions.len() - 4..],
        [
            "DeleteAccessKey",
            "CreateAccessKey",
            "GetCallerIdentity",
            "DeleteAccessKey"
        ]
    );
}

#[test]
fn replace_oldest_never_deletes_the_only_active_key() {
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let (user, oldest) = managed_user(&moto.url, &admin, "old-bucket");
    let newer = second_key(&admin, &user, false);
    let before = admin.state();
    let refused = rotate(&moto.url, &[&user, "--replace-oldest"]);
    refused.assert_failure(3, "is the only active key");
    assert!(refused.stderr.contains(&oldest), "{}", refused.stderr);
    assert_eq!(admin.state(), before);
    assert_eq!(status(&admin, &user, &oldest).as_deref(), Some("Active"));

    // Both active: the oldest goes, the other is deactivated once the new key works.
    admin.block_on(set_status(&admin, &user, &newer, true));
    let outcome = rotate(&moto.url, &[&user, "--replace-oldest", "--format", "ini"]);
    outcome.assert_success();
    assert!(
        outcome.stdout.contains("aws_access_key_id"),
        "{}",
        outcome.stdout
    );
    assert_eq!(status(&admin, &user, &oldest), None);
    assert_eq!(status(&admin, &user, &newer).as_deref(), Some("Inactive"));
    assert_eq!(
        keys(&admin, &user)
            .iter()
            .filter(|(_, s)| s == "Active")
            .count(),
        1
    );

    // Both active again: --replace-inactive has nothing inactive to replace.
    admin.block_on(set_status(&admin, &user, &newer, true));
    let before = admin.state();
    rotate(&moto.url, &[&user, "--replace-inactive"]).assert_failure(3, "both access keys");
    assert_eq!(admin.state(), before);
}

#[test]
fn injected_faults_never_leave_the_user_without_an_active_key() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let (user, oldest) = managed_user(&moto.url, &admin, "fault-bucket");
    let newer = second_key(&admin, &user, true);

    // CreateAccessKey fails after the oldest key made room: the other key is still active.
    proxy.fail_next("CreateAccessKey", 1, 409, "LimitExceeded");
    let outcome = rotate(&proxy.url, &[&user, "--replace-oldest"]);
    outcome.assert_failure(5, "LimitExceeded");
    assert!(
        outcome.stderr.contains(&format!(
            "already deleted before the failure:\n  - access key {oldest} of user {user}"
        )),
        "{}",
        outcome.stderr
    );
    assert_eq!(keys(&admin, &user), [(newer.clone(), "Active".to_string())]);

    // Deactivating the old key fails: the new key was printed, both stay active.
    proxy.fail_next("UpdateAccessKey", 1, 500, "ServiceFailure");
    let outcome = rotate(&proxy.url, &[&user]);
    assert_eq!(outcome.code, 5, "{}", outcome.stderr);
    let printed: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert!(authenticates(&moto.url, &printed));
    assert!(outcome.stderr.contains("the new key works and was printed"));
    assert!(keys(&admin, &user).iter().all(|(_, s)| s == "Active"));

    // The new key never authenticates: printed with a warning, the old key left active, exit 5.
    admin.block_on(async {
        admin
            .iam
            .delete_access_key()
            .user_name(&user)
            .access_key_id(printed["AccessKeyId"].as_str().unwrap())
            .send()
            .await
            .unwrap()
    });
    proxy.fail_next("GetCallerIdentity", 50, 403, "InvalidClientTokenId");
    let outcome = rotate(&proxy.url, &[&user, "--wait-timeout", "1s"]);
    assert_eq!(outcome.code, 5, "{}", outcome.stderr);
    let printed: serde_json::Value = serde_json::from_str(&outcome.stdout).unwrap();
    assert!(outcome.stderr.contains("warning: the new access key"));
    assert!(outcome.stderr.contains("did not authenticate within 1s"));
    outcome.assert_no_secret_on_stderr(&[printed["SecretAccessKey"].as_str().unwrap()]);
    assert_eq!(status(&admin, &user, &newer).as_deref(), Some("Active"));
    let actions = proxy.actions();
    let last_create = actions
        .iter()
        .rposition(|a| a == "CreateAccessKey")
        .unwrap();
    assert!(
        actions[last_create..]
            .iter()
            .all(|a| a == "CreateAccessKey" || a == "GetCallerIdentity"),
        "the old key was touched: {actions:?}"
    );
}

#[test]
fn bad_input_is_refused_and_changes_nothing() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let (user, _) = managed_user(&moto.url, &admin, "bad-bucket");
    admin.user_with_policy(
        "alice",
        &serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}),
    );
    let before = admin.state();
    let refusals: [(&[&str], i32, &str); 7] = [
        (&["ghost"], 3, "error: no IAM user named ghost"),
        (
            &["alice"],
            3,
            "error: user alice was not created by s3creds (no s3creds:managed tag)",
        ),
        (&["bad name!"], 3, "error: "),
        (
            &[&user, "--wait-timeout", "2h"],
            3,
            "invalid --wait-timeout",
        ),
        (&[&user, "--format", "no-such-format"], 3, "error: "),
        (
            &[&user, "--replace-inactive", "--replace-oldest"],
            2,
            "cannot be used with",
        ),
        (&[&user, "--duration", "1h"], 2, "--duration"),
    ];
    for (args, code, message) in refusals {
        rotate(&proxy.url, args).assert_failure(code, message);
        assert_eq!(admin.state(), before, "{args:?}");
    }
    let mutating: Vec<String> = proxy
        .actions()
        .into_iter()
        .filter(|a| !a.starts_with("Get") && !a.starts_with("List"))
        .collect();
    assert!(mutating.is_empty(), "{mutating:?}");
    // --force rotates a user s3creds did not create.
    let outcome = rotate(&proxy.url, &["alice", "--force"]);
    outcome.assert_success();
    assert_eq!(
        keys(&admin, "alice")
            .iter()
            .filter(|(_, s)| s == "Active")
            .count(),
        1
    );
}

/// `command` with a standard output nobody reads: the reading end is closed before it writes.
fn with_stdout_closed(mut command: std::process::Command) -> Outcome {
    let mut child = command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    Outcome::from(child.wait_with_output().unwrap())
}

/// A new key whose secret could not be printed can never be used: it is deleted again, and the
/// error says so, with what was deleted to make room for it; the old key is left as it was. The
/// same for `create`, whose user and policy stay for the next run.
#[test]
fn a_key_that_could_not_be_printed_is_deleted_again() {
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let (user, old) = managed_user(&moto.url, &admin, "unprinted");
    let inactive = second_key(&admin, &user, false);

    let mut command = support::s3creds_std(&moto.url, &Keys::dummy());
    command.args(["rotate", &user, "--replace-inactive", "--silent"]);
    let outcome = with_stdout_closed(command);
    outcome.assert_failure(1, "cannot write to standard output");
    assert!(
        outcome
            .stderr
            .contains("could not be printed, so it was deleted again"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains(&format!(
            "already deleted before the failure:\n  - access key {inactive} of user {user}\n  - \
             access key "
        )) && outcome.stderr.contains("(never printed)"),
        "{}",
        outcome.stderr
    );
    // Only the old key is left, still active.
    assert_eq!(keys(&admin, &user), [(old, "Active".to_string())]);

    let mut command = support::s3creds_std(&moto.url, &Keys::dummy());
    command.args([
        "create",
        "unprinted",
        "--username",
        "fresh-user",
        "--silent",
    ]);
    with_stdout_closed(command).assert_failure(1, "could not be printed, so it was deleted again");
    assert!(keys(&admin, "fresh-user").is_empty());
}

/// An old key deleted since it was listed (another rotate, or someone else) is reported as already
/// gone, not as a failure to retire it.
#[test]
fn an_old_key_already_gone_is_said_and_is_no_failure() {
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let (user, old) = managed_user(&moto.url, &admin, "gone");
    let proxy = Proxy::start(&moto);
    proxy.fail_next("UpdateAccessKey", 1, 404, "NoSuchEntity");
    let outcome = rotate(&proxy.url, &[&user]);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains(&format!(
            "Old access key {old} of user {user} was already gone"
        )),
        "{}",
        outcome.stderr
    );
}
