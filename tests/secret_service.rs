//! The credential cache on a real Secret Service: gnome-keyring in a private D-Bus session. An unlocked
//! collection is used; a session without an unlocked collection falls back to the kernel keyring
//! instead of prompting.

mod support;

use std::process::Command;
use support::{assert_private_session_keyring, run_std, Aws, Keys, Moto};

/// Run `script` in a fresh D-Bus session with a fresh HOME, s3creds on PATH as `$S3CREDS`.
fn in_dbus_session(moto: &Moto, script: &str) -> support::Outcome {
    let home = tempfile::tempdir().unwrap();
    let mut command = Command::new("dbus-run-session");
    command.env_clear();
    command
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", home.path())
        .env("S3CREDS", assert_cmd::cargo::cargo_bin("s3creds"))
        .env("S3CREDS_CACHE_DIR", home.path().join("cache"))
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", &moto.url)
        .args(["--", "sh", "-c", script]);
    let outcome = run_std(&mut command);
    drop(home);
    outcome
}

fn key_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["AccessKeyId"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn an_unlocked_secret_service_caches_the_credentials() {
    assert_private_session_keyring();
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket("ss-bucket");
    let outcome = in_dbus_session(
        &moto,
        "set -e
         printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
         \"$S3CREDS\" serve ss-bucket
         \"$S3CREDS\" serve ss-bucket
         \"$S3CREDS\" cache list",
    );
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    let ids = key_ids(&outcome.stdout);
    assert_eq!(ids.len(), 2, "{}", outcome.stdout);
    assert_eq!(
        ids[0], ids[1],
        "the second serve must come from the Secret Service cache"
    );
    assert!(
        outcome.stdout.contains("[Secret Service]"),
        "{}",
        outcome.stdout
    );
    assert!(
        !outcome.stderr.contains("credential cache off"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_secret_service_without_an_unlocked_collection_is_not_used_and_nothing_prompts() {
    assert_private_session_keyring();
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket("locked-bucket");
    let started = std::time::Instant::now();
    let outcome = in_dbus_session(
        &moto,
        "set -e
         gnome-keyring-daemon --start --components=secrets >/dev/null 2>&1
         \"$S3CREDS\" serve locked-bucket </dev/null
         \"$S3CREDS\" cache list",
    );
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    assert_eq!(key_ids(&outcome.stdout).len(), 1);
    assert!(
        outcome.stdout.contains("[kernel (keyutils)]"),
        "{}",
        outcome.stdout
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "something waited"
    );
}
