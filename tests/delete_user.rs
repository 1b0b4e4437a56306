//! `delete-user` against moto: what is gone afterwards, the exact calls (counting proxy), --dry-run,
//! refusals that delete nothing, a failure mid-way that lists what is already gone, and --expired.

mod support;

use support::{run, s3creds, Aws, Keys, Moto, Outcome, Proxy};

/// The read-only calls discovery makes per user (they run concurrently: order not fixed).
const DISCOVERY: [&str; 10] = [
    "GetUser",
    "ListAccessKeys",
    "ListAttachedUserPolicies",
    "ListGroupsForUser",
    "ListMFADevices",
    "ListSSHPublicKeys",
    "ListSigningCertificates",
    "ListUserPolicies",
    "ListUserTags",
    "GetLoginProfile",
];

fn delete_user(endpoint: &str, args: &[&str]) -> Outcome {
    run({
        let mut c = s3creds(endpoint, &Keys::dummy());
        c.arg("delete-user").args(args);
        c
    })
}

/// A user made by `s3creds create` (tagged, inline policy, one key); returns its name and secret.
fn managed_user(endpoint: &str, admin: &Aws, bucket: &str) -> (String, String) {
    admin.create_bucket(bucket);
    let outcome = run({
        let mut c = s3creds(endpoint, &Keys::dummy());
        c.args(["create", bucket, "--read-only", "--no-wait"]);
        c
    });
    outcome.assert_success();
    let secret = outcome.json()["SecretAccessKey"]
        .as_str()
        .unwrap()
        .to_string();
    (format!("s3.read-only.{bucket}"), secret)
}

fn tagged_user(admin: &Aws, name: &str, tags: &[(&str, &str)]) {
    let tags: Vec<aws_sdk_iam::types::Tag> = tags
        .iter()
        .map(|(k, v)| {
            aws_sdk_iam::types::Tag::builder()
                .key(*k)
                .value(*v)
                .build()
                .unwrap()
        })
        .collect();
    admin
        .block_on(
            admin
                .iam
                .create_user()
                .user_name(name)
                .set_tags(Some(tags))
                .send(),
        )
        .expect("create tagged user");
}

/// The calls after discovery, in order, and a check that discovery came first and only read.
fn deleting_calls(actions: &[String], users: usize) -> Vec<String> {
    let discovery = DISCOVERY.len() * users;
    let mut read: Vec<&str> = actions[..discovery].iter().map(String::as_str).collect();
    read.sort();
    let mut expected: Vec<&str> = DISCOVERY.iter().cycle().take(discovery).copied().collect();
    expected.sort();
    assert_eq!(read, expected, "discovery: {actions:?}");
    actions[discovery..].to_vec()
}

#[test]
fn a_managed_user_goes_with_everything_iam_requires_keys_first() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let (user, secret) = managed_user(&moto.url, &admin, "del-bucket");
    let (other, _) = managed_user(&moto.url, &admin, "other-bucket");
    // What a person may have added since: a second key, a managed policy, a group, a password, a
    // virtual MFA device, an SSH key.
    admin.block_on(async {
        admin
            .iam
            .create_access_key()
            .user_name(&user)
            .send()
            .await
            .unwrap();
        admin
            .iam
            .attach_user_policy()
            .user_name(&user)
            .policy_arn("arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess")
            .send()
            .await
            .unwrap();
        admin
            .iam
            .create_group()
            .group_name("readers")
            .send()
            .await
            .unwrap();
        admin
            .iam
            .add_user_to_group()
            .group_name("readers")
            .user_name(&user)
            .send()
            .await
            .unwrap();
        admin
            .iam
            .create_login_profile()
            .user_name(&user)
            .password("Correct-Horse-1")
            .send()
            .await
            .unwrap();
        let device = admin
            .iam
            .create_virtual_mfa_device()
            .virtual_mfa_device_name("del-mfa")
            .send()
            .await
            .unwrap();
        admin
            .iam
            .enable_mfa_device()
            .user_name(&user)
            .serial_number(device.virtual_mfa_device().unwrap().serial_number())
            .authentication_code1("123456")
            .authentication_code2("654321")
            .send()
            .await
            .unwrap();
        admin
            .iam
            .upload_ssh_public_key()
            .user_name(&user)
            .ssh_public_key_body("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQ test")
            .send()
            .await
            .unwrap();
    });
    let outcome = delete_user(&proxy.url, &[&user]);
    outcome.assert_success();
    outcome.assert_no_secret_on_stderr(&[&secret]);
    assert!(
        outcome.stderr.contains(&format!("Deleted IAM user {user}")),
        "{}",
        outcome.stderr
    );
    assert_eq!(
        deleting_calls(&proxy.actions(), 1),
        [
            "DeleteAccessKey",
            "DeleteAccessKey",
            "DeleteUserPolicy",
            "DetachUserPolicy",
            "RemoveUserFromGroup",
            "DeleteLoginProfile",
            "DeactivateMFADevice",
            "DeleteVirtualMFADevice",
            "DeleteSSHPublicKey",
            "DeleteUser"
        ]
    );
    assert_eq!(admin.user_names(), std::slice::from_ref(&other));
    assert_eq!(admin.access_key_ids(&other).len(), 1, "others untouched");
    let group = admin
        .block_on(admin.iam.get_group().group_name("readers").send())
        .expect("the group itself stays");
    assert!(group.users().is_empty());
    let devices = admin
        .block_on(admin.iam.list_virtual_mfa_devices().send())
        .unwrap();
    assert!(devices.virtual_mfa_devices().is_empty(), "{devices:?}");
}

#[test]
fn dry_run_prints_every_call_and_deletes_nothing() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let (first, _) = managed_user(&moto.url, &admin, "dry-one");
    let (second, _) = managed_user(&moto.url, &admin, "dry-two");
    let before = admin.state();
    let text = delete_user(&proxy.url, &[&first, &second, "--dry-run"]);
    text.assert_success();
    assert!(text.stdout.starts_with(&format!(
        "Dry run: delete IAM users {first}, {second}. Nothing will be changed."
    )));
    for line in [
        format!("[would] DeleteUserPolicy: inline policy {first} of user {first}"),
        format!("[would] DeleteUser: IAM user {second}"),
    ] {
        assert!(text.stdout.contains(&line), "{line}\n{}", text.stdout);
    }
    assert_eq!(text.stdout.matches("[would]").count(), 6, "{}", text.stdout);
    let json = delete_user(&proxy.url, &[&first, &second, "--dry-run=json"]);
    json.assert_success();
    let plan = json.json();
    let steps: Vec<&str> = plan["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "DeleteAccessKey",
            "DeleteUserPolicy",
            "DeleteUser",
            "DeleteAccessKey",
            "DeleteUserPolicy",
            "DeleteUser"
        ]
    );
    assert_eq!(plan["users"], serde_json::json!([first, second]));
    let actions = proxy.actions();
    assert!(
        actions
            .iter()
            .all(|a| a.starts_with("Get") || a.starts_with("List")),
        "{actions:?}"
    );
    deleting_calls(&actions[..actions.len() / 2], 2);
    assert_eq!(admin.state(), before);
}

#[test]
fn unknown_untagged_and_malformed_names_delete_nothing() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let (managed, _) = managed_user(&moto.url, &admin, "keep-bucket");
    admin.user_with_policy(
        "alice",
        &serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}]}),
    );
    let before = admin.state();
    let refusals: [(&[&str], i32, &str); 6] = [
        (&[&managed, "ghost"], 3, "error: no IAM user named ghost"),
        (
            &[&managed, "alice"],
            3,
            "error: not created by s3creds (no s3creds:managed tag): alice",
        ),
        (&["bad name!"], 3, "error: "),
        (&[&managed, &managed], 3, "is named twice"),
        (&[], 2, "NAME"),
        (&[&managed, "--expired"], 2, "cannot be used with"),
    ];
    for (args, code, message) in refusals {
        let outcome = delete_user(&proxy.url, args);
        outcome.assert_failure(code, message);
        assert_eq!(admin.state(), before, "{args:?}");
    }
    let untagged = delete_user(&proxy.url, &["alice"]);
    assert!(untagged.stderr.contains("hint: "), "{}", untagged.stderr);
    assert!(
        proxy
            .actions()
            .iter()
            .all(|a| a.starts_with("Get") || a.starts_with("List")),
        "a refused run changed AWS: {:?}",
        proxy.actions()
    );
    // --force is the way to delete a person's user on purpose.
    delete_user(&proxy.url, &["alice", "--force"]).assert_success();
    assert_eq!(admin.user_names(), [managed]);
}

#[test]
fn a_failure_mid_way_lists_what_is_already_gone() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let (user, _) = managed_user(&moto.url, &admin, "half-bucket");
    let key = admin.access_key_ids(&user)[0].clone();
    proxy.fail_next("DeleteUserPolicy", 1, 409, "DeleteConflict");
    let outcome = delete_user(&proxy.url, &[&user]);
    outcome.assert_failure(5, "DeleteConflict");
    assert!(
        outcome.stderr.contains(&format!(
            "already deleted before the failure:\n  - access key {key} of user {user}"
        )),
        "{}",
        outcome.stderr
    );
    assert_eq!(admin.user_names(), std::slice::from_ref(&user));
    assert!(admin.access_key_ids(&user).is_empty());
    assert_eq!(admin.inline_policy_names(&user).len(), 1);
    // DeleteUser refused for something discovery does not cover: the hint says where to look.
    proxy.fail_next("DeleteUser", 1, 409, "DeleteConflict");
    let outcome = delete_user(&proxy.url, &[&user]);
    outcome.assert_failure(5, "DeleteConflict");
    assert!(
        outcome
            .stderr
            .contains("hint: IAM still holds something of the user")
            && outcome
                .stderr
                .contains(&format!("  - inline policy {user} of user {user}")),
        "{}",
        outcome.stderr
    );
    // Running it again finishes the job.
    delete_user(&proxy.url, &[&user]).assert_success();
    assert!(admin.user_names().is_empty());
}

#[test]
fn expired_deletes_only_managed_users_past_their_expiry() {
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let managed = ("s3creds:managed", "true");
    tagged_user(
        &admin,
        "past",
        &[managed, ("s3creds:expires", "2020-01-01T00:00:00Z")],
    );
    tagged_user(
        &admin,
        "future",
        &[managed, ("s3creds:expires", "2099-01-01T00:00:00Z")],
    );
    tagged_user(&admin, "forever", &[managed]);
    tagged_user(
        &admin,
        "not-ours",
        &[("s3creds:expires", "2020-01-01T00:00:00Z")],
    );
    // An hour ago, written at +09:00: as text it sorts after now, as an instant it is past. `list`
    // says expired, as `delete-user --expired` does; a tag that cannot be read is unknown.
    let an_hour_ago_at_plus_nine = std::process::Command::new("date")
        .args(["-u", "-d", "+8 hours", "+%Y-%m-%dT%H:%M:%S+09:00"])
        .output()
        .unwrap();
    let an_hour_ago_at_plus_nine = String::from_utf8(an_hour_ago_at_plus_nine.stdout).unwrap();
    tagged_user(
        &admin,
        "offset",
        &[
            managed,
            ("s3creds:expires", an_hour_ago_at_plus_nine.trim()),
        ],
    );
    tagged_user(
        &admin,
        "garbled",
        &[managed, ("s3creds:expires", "garbage")],
    );
    let listed = run({
        let mut c = s3creds(&moto.url, &Keys::dummy());
        c.args(["list", "--json"]);
        c
    });
    listed.assert_success();
    let rows = listed.json();
    let expired = |name: &str| {
        rows["users"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["UserName"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {rows}"))["expired"]
            .clone()
    };
    assert_eq!(expired("offset"), serde_json::json!(true));
    assert_eq!(expired("garbled"), serde_json::Value::Null);
    assert_eq!(expired("future"), serde_json::json!(false));
    for name in ["offset", "garbled"] {
        admin
            .block_on(admin.iam.delete_user().user_name(name).send())
            .unwrap();
    }

    let dry = delete_user(&moto.url, &["--expired", "--dry-run"]);
    dry.assert_success();
    assert!(
        dry.stdout.contains("delete IAM user past."),
        "{}",
        dry.stdout
    );
    assert_eq!(admin.user_names().len(), 4);
    delete_user(&moto.url, &["--expired"]).assert_success();
    assert_eq!(admin.user_names(), ["forever", "future", "not-ours"]);
    let again = delete_user(&moto.url, &["--expired"]);
    again.assert_success();
    assert!(
        again.stderr.contains("No s3creds user has expired"),
        "{}",
        again.stderr
    );
    assert_eq!(admin.user_names().len(), 3);
    // A dry run with nothing to delete still prints its plan: JSON for --dry-run=json.
    let empty = delete_user(&moto.url, &["--expired", "--dry-run=json"]);
    empty.assert_success();
    let plan: serde_json::Value = serde_json::from_str(&empty.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", empty.stdout));
    assert_eq!(plan["steps"], serde_json::json!([]), "{plan}");
}

/// A virtual MFA device that could not be deleted after it was detached from the user is named,
/// with the command that deletes it: running delete-user again would no longer find it.
#[test]
fn a_detached_mfa_device_left_behind_is_named_with_its_command() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let (user, _) = managed_user(&moto.url, &admin, "mfa-bucket");
    let serial = admin.block_on(async {
        let device = admin
            .iam
            .create_virtual_mfa_device()
            .virtual_mfa_device_name("left-mfa")
            .send()
            .await
            .unwrap();
        let serial = device
            .virtual_mfa_device()
            .unwrap()
            .serial_number()
            .to_string();
        admin
            .iam
            .enable_mfa_device()
            .user_name(&user)
            .serial_number(&serial)
            .authentication_code1("123456")
            .authentication_code2("654321")
            .send()
            .await
            .unwrap();
        serial
    });
    proxy.fail_next("DeleteVirtualMFADevice", 1, 500, "ServiceFailure");
    let outcome = delete_user(&proxy.url, &[&user]);
    outcome.assert_failure(5, "ServiceFailure");
    assert!(
        outcome.stderr.contains(&format!(
            "`aws iam delete-virtual-mfa-device --serial-number {serial}`"
        )),
        "{}",
        outcome.stderr
    );
}
