//! The credential cache on a real Secret Service: gnome-keyring in a private D-Bus session.
//!
//! `auto` prefers the kernel keyring when the process has a session keyring of its own (as these tests
//! do, under `keyctl session -`), and otherwise uses an unlocked Secret Service collection. A locked
//! collection is never used and never prompts. "No session keyring of its own" is reproduced by joining
//! the user session keyring (`keyctl session _uid_ses.UID`), which is what such a process gets.

mod support;

use std::process::Command;
use support::{assert_private_session_keyring, run_std, Aws, Keys, Moto};

/// Start gnome-keyring with an unlocked login collection, and wait until it is the default collection:
/// gnome-keyring sets that up shortly after `--unlock` returns. Scripts run it with `eval "$UNLOCKED_KEYRING"`.
const UNLOCKED_KEYRING: &str = "printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null
    for i in $(seq 100); do
        dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \\
            org.freedesktop.Secret.Service.ReadAlias string:default 2>/dev/null | grep -q collection/ && break
        sleep 0.1
    done";

/// The user session keyring's name: the session keyring of a process that has none of its own.
fn user_session_keyring() -> String {
    use std::os::unix::fs::MetadataExt;
    format!(
        "_uid_ses.{}",
        std::fs::metadata("/proc/self").unwrap().uid()
    )
}

/// Run `script` in a fresh D-Bus session with a fresh HOME, s3creds on PATH as `$S3CREDS`, with this
/// test's private session keyring.
fn in_dbus_session(moto: &Moto, script: &str) -> support::Outcome {
    in_dbus_session_keyring(moto, script, true)
}

/// The same, as a desktop process without a session keyring of its own.
fn in_dbus_session_without_session_keyring(moto: &Moto, script: &str) -> support::Outcome {
    in_dbus_session_keyring(moto, script, false)
}

fn in_dbus_session_keyring(
    moto: &Moto,
    script: &str,
    own_session_keyring: bool,
) -> support::Outcome {
    let home = tempfile::tempdir().unwrap();
    let mut command = if own_session_keyring {
        Command::new("dbus-run-session")
    } else {
        let mut keyctl = Command::new("keyctl");
        keyctl.args(["session", &user_session_keyring(), "dbus-run-session"]);
        keyctl
    };
    command.env_clear();
    command
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home.path())
        .env("XDG_RUNTIME_DIR", home.path())
        .env("S3CREDS", assert_cmd::cargo::cargo_bin("s3creds"))
        .env("UNLOCKED_KEYRING", UNLOCKED_KEYRING)
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
         eval \"$UNLOCKED_KEYRING\"
         export S3CREDS_KEYRING=secret-service
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

/// The desktop without pam_keyinit: no session keyring of its own (the shared user-session keyring,
/// where a key a process adds can be neither read back nor removed), and an unlocked Secret Service.
/// `auto` caches in the user keyring, which every process of the user reaches, and leaves Secret
/// Service alone: a hit is two system calls instead of a D-Bus exchange with the keyring daemon.
/// The only test that uses the user keyring, which all tests of this user share.
#[test]
fn a_desktop_without_a_session_keyring_caches_in_the_user_keyring_not_secret_service() {
    assert_private_session_keyring();
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket("desktop");
    let outcome = in_dbus_session_without_session_keyring(
        &moto,
        "set -e
         eval \"$UNLOCKED_KEYRING\"
         \"$S3CREDS\" serve desktop
         \"$S3CREDS\" serve desktop
         \"$S3CREDS\" cache list
         echo 'Secret Service:'
         # Another cache folder, so that only what the Secret Service itself holds is listed.
         S3CREDS_KEYRING=secret-service S3CREDS_CACHE_DIR=\"$HOME/no-index\" \"$S3CREDS\" cache list
         \"$S3CREDS\" cache clear
         \"$S3CREDS\" cache list",
    );
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    let ids = key_ids(&outcome.stdout);
    assert_eq!(ids.len(), 2, "{}", outcome.stdout);
    assert_eq!(ids[0], ids[1], "the second serve is a user keyring hit");
    let (kernel, rest) = outcome.stdout.split_once("Secret Service:\n").unwrap();
    assert!(
        kernel.contains("[kernel (keyutils, user keyring)]"),
        "{}",
        outcome.stdout
    );
    let (secret_service, after_clear) = rest.split_once("Removed ").unwrap();
    assert_eq!(
        secret_service, "The credential cache is empty.\n",
        "nothing went to Secret Service: {}",
        outcome.stdout
    );
    assert!(
        after_clear.ends_with("The credential cache is empty.\n"),
        "{}",
        outcome.stdout
    );
    assert!(!outcome.stderr.contains("s3creds"), "{}", outcome.stderr);
}

/// With a session keyring of its own, `auto` does not ask D-Bus at all: the kernel keyring answers a
/// hit in two system calls and keeps short-lived credentials off the disk.
#[test]
fn auto_prefers_the_processes_own_session_keyring_to_secret_service() {
    assert_private_session_keyring();
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket("own-session");
    let outcome = in_dbus_session(
        &moto,
        "set -e
         eval \"$UNLOCKED_KEYRING\"
         \"$S3CREDS\" serve own-session
         \"$S3CREDS\" serve own-session
         \"$S3CREDS\" cache list
         \"$S3CREDS\" cache clear",
    );
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    let ids = key_ids(&outcome.stdout);
    assert_eq!(ids.len(), 2, "{}", outcome.stdout);
    assert_eq!(ids[0], ids[1], "the second serve is a kernel keyring hit");
    assert!(
        outcome.stdout.contains("[kernel (keyutils)]"),
        "{}",
        outcome.stdout
    );
    // D-Bus and gnome-keyring talk on stderr too; s3creds must not have (no "cache off" line).
    assert!(!outcome.stderr.contains("s3creds"), "{}", outcome.stderr);
}

/// A locked collection would prompt to unlock: nothing in it is read and nothing is written to it, so
/// caching is off, said once, and the credentials are still served.
#[test]
fn a_secret_service_without_an_unlocked_collection_is_not_used_and_nothing_prompts() {
    assert_private_session_keyring();
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket("locked-bucket");
    let started = std::time::Instant::now();
    let outcome = in_dbus_session(
        &moto,
        "set -e
         eval \"$UNLOCKED_KEYRING\"
         export S3CREDS_KEYRING=secret-service
         \"$S3CREDS\" serve locked-bucket
         dbus-send --session --print-reply --dest=org.freedesktop.secrets /org/freedesktop/secrets \
             org.freedesktop.Secret.Service.Lock array:objpath:/org/freedesktop/secrets/collection/login \
             >/dev/null
         echo locked >&2
         \"$S3CREDS\" serve locked-bucket </dev/null",
    );
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    let ids = key_ids(&outcome.stdout);
    assert_eq!(ids.len(), 2, "{}", outcome.stdout);
    assert_ne!(ids[0], ids[1], "an entry in a locked collection was read");
    let (before_lock, after_lock) = outcome.stderr.split_once("locked\n").unwrap();
    assert!(
        !before_lock.contains("credential cache off"),
        "the unlocked collection was not used: {before_lock}"
    );
    assert_eq!(
        after_lock.trim(),
        "s3creds: credential cache off: the Secret Service keyring refused the write: the Secret \
         Service collection is locked (unlocking would prompt)",
        "{}",
        outcome.stderr
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
         eval \"$UNLOCKED_KEYRING\"
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

/// A bus that accepts the connection and never answers costs at most about 500 ms: `auto` (with this
/// test's own session keyring) uses the kernel keyring without a word, an explicit `secret-service`
/// says once that caching is off.
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
