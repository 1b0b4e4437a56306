//! With moto's permission enforcement on: issued credentials are really limited, a bucket that is not
//! ours is reported as such (403), and a failure mid-way names what was already created.

mod support;

use serde_json::json;
use support::{run, s3creds, Aws, Keys, Moto};

/// An admin identity, created before enforcement starts (the dummy keys stop working after).
fn enforced_moto() -> (Moto, Aws, Keys) {
    let moto = Moto::start();
    let bootstrap = Aws::new(&moto.url, &Keys::dummy());
    let admin_keys = bootstrap.user_with_policy(
        "admin",
        &json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","iam:*","sts:*"],"Resource":"*"}]}),
    );
    for bucket in ["granted-bucket", "other-bucket"] {
        bootstrap.create_bucket(bucket);
        bootstrap
            .put_object(bucket, "existing.txt", "data")
            .unwrap();
    }
    moto.enforce_permissions();
    let admin = Aws::new(&moto.url, &admin_keys);
    (moto, admin, admin_keys)
}

fn create(moto: &Moto, keys: &Keys, extra: &[&str]) -> Keys {
    let outcome = run({
        let mut c = s3creds(&moto.url, keys);
        c.args(["create", "granted-bucket", "--silent"]).args(extra);
        c
    });
    outcome.assert_success();
    Keys::from_output(&outcome.json())
}

#[test]
fn issued_users_can_do_what_their_access_allows_and_nothing_more() {
    let (moto, admin, admin_keys) = enforced_moto();
    // Enforcement is really on: a policy-less identity is refused.
    let nobody = admin.user_with_policy(
        "nobody",
        &json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sns:ListTopics","Resource":"*"}]}),
    );
    assert!(Aws::new(&moto.url, &nobody)
        .get_object("granted-bucket", "existing.txt")
        .is_err());

    let read_only = Aws::new(&moto.url, &create(&moto, &admin_keys, &["--read-only"]));
    assert_eq!(
        read_only
            .get_object("granted-bucket", "existing.txt")
            .unwrap(),
        "data"
    );
    assert!(
        read_only
            .put_object("granted-bucket", "new.txt", "x")
            .is_err(),
        "read-only wrote"
    );
    assert!(
        read_only
            .get_object("other-bucket", "existing.txt")
            .is_err(),
        "read another bucket"
    );

    let write_only = Aws::new(&moto.url, &create(&moto, &admin_keys, &["--write-only"]));
    write_only
        .put_object("granted-bucket", "written.txt", "w")
        .unwrap();
    assert!(
        write_only
            .get_object("granted-bucket", "existing.txt")
            .is_err(),
        "write-only read"
    );
    assert!(
        write_only.put_object("other-bucket", "x.txt", "x").is_err(),
        "wrote another bucket"
    );

    let read_write = Aws::new(&moto.url, &create(&moto, &admin_keys, &[]));
    read_write
        .put_object("granted-bucket", "rw.txt", "rw")
        .unwrap();
    assert_eq!(
        read_write.get_object("granted-bucket", "rw.txt").unwrap(),
        "rw"
    );
    assert!(read_write
        .get_object("other-bucket", "existing.txt")
        .is_err());
    assert!(read_write
        .put_object("other-bucket", "rw.txt", "x")
        .is_err());
}

#[test]
fn a_bucket_we_cannot_access_is_reported_as_forbidden_not_missing() {
    let (moto, admin, _) = enforced_moto();
    // This identity may manage IAM but not see the bucket: HeadBucket answers 403.
    let iam_only = admin.user_with_policy(
        "iam-only",
        &json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["iam:*","sts:*"],"Resource":"*"}]}),
    );
    let before = admin.state();
    let outcome = run({
        let mut c = s3creds(&moto.url, &iam_only);
        c.args(["create", "granted-bucket", "-c"]);
        c
    });
    outcome.assert_failure(
        4,
        "bucket granted-bucket exists but is not yours, or this identity may not access it",
    );
    assert!(!outcome.stderr.contains("does not exist"));
    assert_eq!(admin.state(), before);
}

#[test]
fn a_failure_mid_way_lists_what_was_created() {
    let (moto, admin, _) = enforced_moto();
    // May create buckets and users, but not attach policies: fails at PutUserPolicy.
    let limited = admin.user_with_policy(
        "limited",
        &json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow",
            "Action":["s3:*","iam:GetUser","iam:CreateUser","iam:ListAccessKeys","sts:GetCallerIdentity"],"Resource":"*"}]}),
    );
    let outcome = run({
        let mut c = s3creds(&moto.url, &limited);
        c.args(["create", "fresh-bucket", "-c"]);
        c
    });
    outcome.assert_failure(4, "PutUserPolicy s3.read-write.fresh-bucket");
    assert!(
        outcome.stderr.contains(
            "already created before the failure (not rolled back):\n  - bucket fresh-bucket in us-east-1\n  - IAM user s3.read-write.fresh-bucket"
        ),
        "{}",
        outcome.stderr
    );
    assert!(admin.bucket_names().contains(&"fresh-bucket".to_string()));
    assert!(admin
        .user_names()
        .contains(&"s3.read-write.fresh-bucket".to_string()));
}
