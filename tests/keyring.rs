//! The kernel keyring entries of the cache: each carries a kernel timeout at the expiry of its
//! credentials, and `cache clear` removes every s3creds entry of the keyring in use, including those
//! no index knows (an index deleted with its folder, as the demo's was). Each test runs its commands
//! in a session keyring of its own, so its `cache clear` cannot touch the entries of tests running
//! beside it.

mod support;

use std::process::Command;
use support::{assert_private_session_keyring, run_std, serve_command, Aws, Keys, Moto, Proxy};

/// Run `script` with `sh` inside a new session keyring (`keyctl session -`), with the environment of
/// `serve_command` and `$S3CREDS` naming the binary.
fn in_private_session(proxy: &Proxy, cache: &std::path::Path, script: &str) -> support::Outcome {
    let template = serve_command(&proxy.url, cache);
    let mut command = Command::new("keyctl");
    command.args(["session", "-", "sh", "-c", script]);
    for (key, value) in template.get_envs() {
        match value {
            Some(value) => command.env(key, value),
            None => command.env_remove(key),
        };
    }
    command.env("S3CREDS", assert_cmd::cargo::cargo_bin("s3creds"));
    let outcome = run_std(&mut command);
    // keyctl announces the keyring it created on stderr; nothing else may be there.
    let stderr: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|l| !l.starts_with("Joined session keyring"))
        .collect();
    assert!(stderr.is_empty(), "{}", outcome.stderr);
    assert_eq!(outcome.code, 0, "{}\n{}", outcome.stdout, outcome.stderr);
    outcome
}

fn setup(bucket: &str) -> (Moto, Proxy, tempfile::TempDir) {
    assert_private_session_keyring();
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket(bucket);
    let proxy = Proxy::start(&moto);
    (moto, proxy, tempfile::tempdir().unwrap())
}

fn documents(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Seconds from the kernel's /proc/keys timeout column (`perm`, `45s`, `14m`, `2h`, `3d`, `1w`).
fn timeout_seconds(column: &str) -> Option<u64> {
    let (number, unit) = column.split_at(column.len().checked_sub(1)?);
    let number: u64 = number.parse().ok()?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        "w" => 604800,
        _ => return None,
    };
    Some(number * unit)
}

#[test]
fn kernel_keyring_entries_expire_with_their_credentials() {
    let (_moto, proxy, cache) = setup("timeout-bucket");
    // Every key linked in the private session keyring, as /proc/keys shows it (with its timeout).
    let outcome = in_private_session(
        &proxy,
        cache.path(),
        r#"set -e
        "$S3CREDS" serve timeout-bucket --duration 15m --refresh-window 5m
        for id in $(keyctl rlist @s); do grep "^$(printf %08x "$id") " /proc/keys; done
        "$S3CREDS" serve timeout-bucket --duration 15m --refresh-window 5m"#,
    );
    let documents = documents(&outcome.stdout);
    assert_eq!(documents.len(), 2, "{}", outcome.stdout);
    assert_eq!(
        documents[0]["AccessKeyId"], documents[1]["AccessKeyId"],
        "an entry with a timeout is still a cache hit"
    );
    let entries: Vec<&str> = outcome
        .stdout
        .lines()
        .filter(|l| l.contains("@s3creds"))
        .collect();
    assert_eq!(entries.len(), 1, "{}", outcome.stdout);
    let columns: Vec<&str> = entries[0].split_whitespace().collect();
    // Rights for the owning user only: not for whoever else possesses the session keyring.
    assert_eq!(columns[4], "003f0000", "{}", entries[0]);
    let timeout = timeout_seconds(columns[3])
        .unwrap_or_else(|| panic!("the entry has no timeout: {}", entries[0]));
    let expiration = documents[0]["Expiration"].as_str().unwrap();
    let left = chrono_free_seconds_until(expiration);
    // /proc/keys rounds down to whole minutes above 60 s.
    assert!(
        timeout <= left && timeout + 120 >= left,
        "timeout {timeout} s, credentials expire in {left} s: {}",
        entries[0]
    );
}

/// Seconds from now until an RFC 3339 `YYYY-MM-DDTHH:MM:SSZ` time, with the shell's `date`.
fn chrono_free_seconds_until(time: &str) -> u64 {
    let output = Command::new("date")
        .args(["-u", "-d", time, "+%s"])
        .output()
        .unwrap();
    let at: u64 = String::from_utf8(output.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    at.saturating_sub(now)
}

#[test]
fn cache_clear_removes_every_entry_even_those_no_index_knows() {
    let (_moto, proxy, cache) = setup("clear-bucket");
    let other = tempfile::tempdir().unwrap();
    let outcome = in_private_session(
        &proxy,
        cache.path(),
        &format!(
            r#"set -e
            "$S3CREDS" serve clear-bucket
            "$S3CREDS" serve clear-bucket
            # An entry whose index goes away with its folder, as the demo's temporary folder did.
            S3CREDS_CACHE_DIR="{other}/cache" "$S3CREDS" serve clear-bucket --read-only
            rm -rf "{other}/cache"
            keyctl add user another-application keep @s >/dev/null
            "$S3CREDS" cache clear
            left=0
            for id in $(keyctl rlist @s); do
                case "$(keyctl rdescribe "$id")" in *@s3creds) left=$((left+1));; esac
            done
            echo "s3creds entries left: $left"
            keyctl search @s user another-application >/dev/null && echo "other entries kept"
            curl -sf -X POST "$AWS_ENDPOINT_URL/__proxy/reset" >/dev/null
            "$S3CREDS" serve clear-bucket
            "$S3CREDS" cache list"#,
            other = other.path().display()
        ),
    );
    let stdout = &outcome.stdout;
    let documents = documents(stdout);
    assert_eq!(documents.len(), 4, "{stdout}");
    assert_eq!(documents[0]["AccessKeyId"], documents[1]["AccessKeyId"]);
    assert!(
        stdout.contains("Removed 2 cached credential(s)."),
        "{stdout}"
    );
    assert!(stdout.contains("s3creds entries left: 0"), "{stdout}");
    assert!(stdout.contains("other entries kept"), "{stdout}");
    assert_ne!(
        documents[3]["AccessKeyId"], documents[0]["AccessKeyId"],
        "served from a cleared cache"
    );
    let actions = proxy.actions();
    assert!(
        actions.contains(&"GetRole".to_string()) && actions.contains(&"AssumeRole".to_string()),
        "clear forgets the remembered role too: {actions:?}"
    );
    // The new entry is listed again, with no secret.
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("v1-") && l.contains("clear-bucket"))
            .count(),
        1,
        "{stdout}"
    );
    for document in &documents {
        for secret in ["SecretAccessKey", "SessionToken"] {
            let value = document[secret].as_str().unwrap();
            assert!(
                !stdout
                    .lines()
                    .any(|l| !l.starts_with('{') && l.contains(value)),
                "a secret outside the credential documents"
            );
        }
    }
}
