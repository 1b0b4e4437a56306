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

/// `cache clear` lists the collection: an item whose index went away with its folder is removed too,
/// and the next `serve` fetches anew.
#[test]
fn cache_clear_removes_secret_service_items_no_index_knows() {
    assert_private_session_keyring();
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket("ss-clear");
    let outcome = in_dbus_session(
        &moto,
        "set -e
         printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
         export S3CREDS_KEYRING=secret-service
         \"$S3CREDS\" serve ss-clear
         \"$S3CREDS\" serve ss-clear
         S3CREDS_CACHE_DIR=\"$HOME/other\" \"$S3CREDS\" serve ss-clear --read-only
         rm -rf \"$HOME/other\"
         \"$S3CREDS\" cache clear
         \"$S3CREDS\" serve ss-clear
         \"$S3CREDS\" cache list",
    );
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    let ids = key_ids(&outcome.stdout);
    assert_eq!(ids.len(), 4, "{}", outcome.stdout);
    assert!(
        !outcome.stderr.contains("credential cache off"),
        "{}",
        outcome.stderr
    );
    assert_eq!(ids[0], ids[1], "the second serve is a Secret Service hit");
    assert!(
        outcome.stdout.contains("Removed 2 cached credential(s)."),
        "{}",
        outcome.stdout
    );
    assert_ne!(ids[3], ids[0], "served from a cleared cache");
    assert!(
        outcome.stdout.contains("[Secret Service]"),
        "{}",
        outcome.stdout
    );
}

/// A bus that accepts the connection and never answers costs at most about 500 ms: `auto` falls back
/// to the kernel keyring without a word, an explicit `secret-service` says once that caching is off.
#[test]
fn a_bus_that_never_answers_costs_at_most_half_a_second() {
    use std::time::{Duration, Instant};
    use support::{process_credentials, serve_command, Proxy};
    assert_private_session_keyring();
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket("silent-bus");
    let proxy = Proxy::start(&moto);
    let cache = tempfile::tempdir().unwrap();
    let socket = cache.path().join("bus");
    // Listening, never accepting: the connection succeeds and the authentication never gets a reply.
    let _silent_bus = std::os::unix::net::UnixListener::bind(&socket).unwrap();
    let address = format!("unix:path={}", socket.display());
    let serve = |keyring: &str| {
        let started = Instant::now();
        let outcome = run_std(
            serve_command(&proxy.url, cache.path())
                .arg("silent-bus")
                .env("DBUS_SESSION_BUS_ADDRESS", &address)
                .env("S3CREDS_KEYRING", keyring),
        );
        (outcome, started.elapsed())
    };
    let (first, _) = serve("auto");
    let first = process_credentials(&first);
    let (hit, elapsed) = serve("auto");
    assert!(hit.stderr.is_empty(), "{}", hit.stderr);
    assert_eq!(
        process_credentials(&hit)["AccessKeyId"],
        first["AccessKeyId"]
    );
    assert!(
        elapsed < Duration::from_millis(1500),
        "a silent bus held serve for {elapsed:?}"
    );
    let (explicit, elapsed) = serve("secret-service");
    assert_eq!(
        explicit.stderr.trim(),
        "s3creds: credential cache off: Secret Service did not answer within 500 ms"
    );
    assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
    process_credentials(&support::Outcome {
        stderr: String::new(),
        ..explicit
    });
}
