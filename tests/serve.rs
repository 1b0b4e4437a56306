//! `s3creds serve` as a credential_process helper: the contract, the kernel keyring cache, single flight
//! across processes, and degrading (never failing) when the keyring cannot be used.

mod support;

use std::process::{Command, Stdio};
use support::{
    assert_private_session_keyring, process_credentials, run_std, serve_command, Aws, Keys, Moto,
    Proxy,
};

/// A refresh with the role remembered: one AssumeRole beside one HeadBucket per bucket (concurrent, so
/// in any order), and nothing else.
#[track_caller]
fn assert_one_refresh(proxy: &Proxy, buckets: &[&str]) {
    let mut actions = proxy.actions();
    actions.sort();
    let mut expected: Vec<String> = buckets.iter().map(|b| format!("HEAD /{b}")).collect();
    expected.push("AssumeRole".to_string());
    expected.sort();
    assert_eq!(actions, expected);
}

fn count(proxy: &Proxy, action: &str) -> usize {
    proxy.actions().iter().filter(|a| *a == action).count()
}

fn setup(bucket: &str) -> (Moto, Proxy, tempfile::TempDir) {
    assert_private_session_keyring();
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket(bucket);
    let proxy = Proxy::start(&moto);
    (moto, proxy, tempfile::tempdir().unwrap())
}

#[test]
fn a_second_serve_is_answered_from_the_keyring_without_calling_aws() {
    let (moto, proxy, cache) = setup("serve-bucket");
    let first = process_credentials(&run_std(
        serve_command(&proxy.url, cache.path()).args(["serve-bucket", "--read-only"]),
    ));
    // Default duration 1 h: comfortably more than botocore's 15-minute refresh margin.
    assert!(proxy.actions().contains(&"AssumeRole".to_string()));
    let calls_after_first = proxy.actions().len();
    let second = process_credentials(&run_std(
        serve_command(&proxy.url, cache.path()).args(["serve-bucket", "--read-only"]),
    ));
    assert_eq!(second["AccessKeyId"], first["AccessKeyId"]);
    assert_eq!(
        proxy.actions().len(),
        calls_after_first,
        "a cache hit called AWS"
    );

    // Another policy is another entry; the role is remembered, so the refresh is one AssumeRole.
    proxy.reset();
    let other = process_credentials(&run_std(
        serve_command(&proxy.url, cache.path()).args(["serve-bucket", "--write-only"]),
    ));
    assert_ne!(other["AccessKeyId"], first["AccessKeyId"]);
    assert_one_refresh(&proxy, &["serve-bucket"]);
    let calls = proxy.calls();
    let assume = calls
        .iter()
        .find(|c| c["action"] == "AssumeRole")
        .expect("an AssumeRole call");
    assert!(assume["params"]["Policy"]
        .as_str()
        .unwrap()
        .contains("s3:PutObject"));
    assert_eq!(assume["params"]["DurationSeconds"], "3600");

    // The credentials work.
    let session = Aws::new(&moto.url, &Keys::from_output(&first));
    Aws::new(&moto.url, &Keys::dummy())
        .put_object("serve-bucket", "k", "v")
        .unwrap();
    assert_eq!(session.get_object("serve-bucket", "k").unwrap(), "v");

    // `cache list` shows both entries, never a secret. (`cache clear` removes every s3creds entry of
    // the session keyring, those of tests running beside this one too: tests/keyring.rs tests it in a
    // keyring of its own.)
    let cache_command = serve_command(&proxy.url, cache.path());
    let listing = run_std(&mut reset_args(&cache_command, &["cache", "list"]));
    listing.assert_success();
    assert_eq!(listing.stdout.lines().count(), 2, "{}", listing.stdout);
    assert!(listing.stdout.contains("serve-bucket") && listing.stdout.contains("read-only"));
    for value in [&first, &other] {
        assert!(!listing
            .stdout
            .contains(value["SecretAccessKey"].as_str().unwrap()));
        assert!(!listing
            .stdout
            .contains(value["SessionToken"].as_str().unwrap()));
    }
}

/// The serve command with its arguments replaced (serve_command starts with `serve`).
fn reset_args(command: &Command, args: &[&str]) -> Command {
    let mut fresh = Command::new(command.get_program());
    for (key, value) in command.get_envs() {
        match value {
            Some(value) => fresh.env(key, value),
            None => fresh.env_remove(key),
        };
    }
    fresh.args(args);
    fresh
}

#[test]
fn credentials_inside_the_refresh_window_are_replaced() {
    let (_moto, proxy, cache) = setup("window-bucket");
    let serve = |window: &str| {
        process_credentials(&run_std(serve_command(&proxy.url, cache.path()).args([
            "window-bucket",
            "--duration",
            "15m",
            "--refresh-window",
            window,
        ])))
    };
    let first = serve("1m");
    assert_eq!(serve("1m")["AccessKeyId"], first["AccessKeyId"]);
    std::thread::sleep(std::time::Duration::from_secs(2));
    // 899 s window: the cached credentials (< 899 s left) must not be served.
    proxy.reset();
    let renewed = serve("899");
    assert_ne!(renewed["AccessKeyId"], first["AccessKeyId"]);
    assert_one_refresh(&proxy, &["window-bucket"]);
}

#[test]
fn a_corrupted_record_is_a_miss_and_is_replaced() {
    let (_moto, proxy, cache) = setup("corrupt-bucket");
    let first = process_credentials(&run_std(
        serve_command(&proxy.url, cache.path()).arg("corrupt-bucket"),
    ));
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cache.path().join("index.json")).unwrap())
            .unwrap();
    let key = index["entries"][0]["key"].as_str().unwrap().to_string();
    // Overwrite the keyring entry with garbage, as a crash or another version might leave it.
    let status = Command::new("keyctl")
        .args([
            "add",
            "user",
            &format!("keyring:{key}@s3creds"),
            "{not a record",
            "@s",
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    proxy.reset();
    let second = process_credentials(&run_std(
        serve_command(&proxy.url, cache.path()).arg("corrupt-bucket"),
    ));
    assert_ne!(second["AccessKeyId"], first["AccessKeyId"]);
    assert_one_refresh(&proxy, &["corrupt-bucket"]);
    let third = process_credentials(&run_std(
        serve_command(&proxy.url, cache.path()).arg("corrupt-bucket"),
    ));
    assert_eq!(
        third["AccessKeyId"], second["AccessKeyId"],
        "the replacement is cached"
    );
}

#[test]
fn thirty_two_concurrent_helpers_on_a_cold_cache_make_one_assume_role() {
    let (_moto, proxy, cache) = setup("burst-bucket");
    let children: Vec<_> = (0..32)
        .map(|_| {
            serve_command(&proxy.url, cache.path())
                .arg("burst-bucket")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut key_ids = std::collections::BTreeSet::new();
    for child in children {
        let outcome = support::Outcome::from(child.wait_with_output().unwrap());
        key_ids.insert(
            process_credentials(&outcome)["AccessKeyId"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    assert_eq!(count(&proxy, "AssumeRole"), 1, "{:?}", proxy.actions());
    assert_eq!(key_ids.len(), 1);
}

#[test]
fn without_a_usable_keyring_serve_still_answers() {
    let (_moto, proxy, cache) = setup("degrade-bucket");
    // Secret Service asked for, but no D-Bus session: caching is off, said once, credentials still come.
    let outcome = run_std(
        serve_command(&proxy.url, cache.path())
            .arg("degrade-bucket")
            .env("S3CREDS_KEYRING", "secret-service")
            .env_remove("DBUS_SESSION_BUS_ADDRESS"),
    );
    process_credentials(&outcome);
    assert_eq!(
        outcome.stderr.trim(),
        "s3creds: credential cache off: Secret Service needs a D-Bus session (DBUS_SESSION_BUS_ADDRESS is not set)"
    );

    // --no-cache: silent, and every call fetches.
    proxy.reset();
    for _ in 0..2 {
        let outcome =
            run_std(serve_command(&proxy.url, cache.path()).args(["degrade-bucket", "--no-cache"]));
        process_credentials(&outcome);
        assert!(outcome.stderr.is_empty(), "{}", outcome.stderr);
    }
    assert_eq!(count(&proxy, "AssumeRole"), 2);

    // A process on the shared user-session keyring (no session keyring of its own) caches in the
    // user keyring: tests/secret_service.rs, the one test that uses it (it is shared by every test).
}

#[test]
fn bad_input_and_aws_failures_are_one_clear_line() {
    let (_moto, proxy, cache) = setup("fail-bucket");
    let outcome =
        run_std(serve_command(&proxy.url, cache.path()).args(["fail-bucket", "--duration", "5m"]));
    assert_eq!(outcome.code, 3);
    assert!(outcome.stdout.is_empty());
    assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .starts_with("s3creds: error: invalid --duration"),
        "{}",
        outcome.stderr
    );

    let outcome = run_std(serve_command(&proxy.url, cache.path()).args(["missing-bucket-xyz"]));
    assert_eq!(outcome.code, 5);
    assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("bucket missing-bucket-xyz does not exist"),
        "{}",
        outcome.stderr
    );

    let outcome = run_std(serve_command(&proxy.url, cache.path()).args([
        "fail-bucket",
        "--refresh-window",
        "2h",
    ]));
    assert_eq!(outcome.code, 3);
    assert!(
        outcome.stderr.contains("--refresh-window"),
        "{}",
        outcome.stderr
    );
}

/// A full kernel keyring quota: serve still answers, says once why nothing was cached, exits 0. Runs as
/// `nobody` (when root) so the filled quota is not the one other tests use.
#[test]
fn a_full_keyring_quota_degrades_to_no_cache() {
    let (_moto, proxy, cache) = setup("quota-bucket");
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fill-and-serve.sh");
    std::fs::write(
        &script,
        r#"head -c 3000 /dev/zero | tr '\0' x > "$HOME/big"
head -c 50 /dev/zero | tr '\0' x > "$HOME/small"
i=0
while keyctl padd user "big$i" @s < "$HOME/big" >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 10000 ] && exit 90; done
while keyctl padd user "small$i" @s < "$HOME/small" >/dev/null 2>&1; do i=$((i+1)); [ $i -gt 20000 ] && exit 91; done
exec "$S3CREDS" serve quota-bucket
"#,
    )
    .unwrap();
    let is_root = String::from_utf8(Command::new("id").arg("-u").output().unwrap().stdout)
        .unwrap()
        .trim()
        == "0";
    set_mode(dir.path(), 0o777);
    let mut command = Command::new(if is_root { "setpriv" } else { "env" });
    if is_root {
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups", "env"]);
    }
    let template = serve_command(&proxy.url, cache.path());
    for (key, value) in template.get_envs() {
        if let Some(value) = value {
            command.arg(format!(
                "{}={}",
                key.to_string_lossy(),
                value.to_string_lossy()
            ));
        }
    }
    command
        .arg(format!("HOME={}", dir.path().display()))
        .arg(format!(
            "S3CREDS_CACHE_DIR={}",
            dir.path().join("cache").display()
        ))
        .arg(format!(
            "S3CREDS={}",
            assert_cmd::cargo::cargo_bin("s3creds").display()
        ))
        .args(["keyctl", "session", "-", "sh"])
        .arg(&script);
    let outcome = run_std(&mut command);
    let lines: Vec<&str> = outcome
        .stderr
        .lines()
        .filter(|l| !l.starts_with("Joined session keyring"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", outcome.stderr);
    assert!(
        lines[0].starts_with(
            "s3creds: credential cache off: the kernel (keyutils) keyring refused the write"
        ),
        "{}",
        outcome.stderr
    );
    let outcome = support::Outcome {
        stderr: String::new(),
        ..outcome
    };
    process_credentials(&outcome);
}

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// The hot path stays cold: without --preset, serve does not even read the plugin manifest.
#[test]
fn serve_loads_no_plugin_without_a_preset() {
    let (_moto, proxy, cache) = setup("cold-bucket");
    let data = tempfile::tempdir().unwrap();
    std::fs::create_dir(data.path().join("plugins")).unwrap();
    std::fs::write(
        data.path().join("plugins/manifest.toml"),
        "this is = not [valid toml",
    )
    .unwrap();
    let outcome = run_std(
        serve_command(&proxy.url, cache.path())
            .arg("cold-bucket")
            .env("S3CREDS_DATA_DIR", data.path()),
    );
    process_credentials(&outcome);
    let outcome = run_std(
        serve_command(&proxy.url, cache.path())
            .args(["cold-bucket", "--preset", "textract"])
            .env("S3CREDS_DATA_DIR", data.path()),
    );
    assert_eq!(outcome.code, 3, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("the plugin manifest"),
        "{}",
        outcome.stderr
    );
}

/// A source profile whose own credentials come from s3creds would recurse; the nested serve stops.
#[test]
fn a_nested_serve_refuses_to_recurse() {
    let (_moto, proxy, cache) = setup("nested-bucket");
    let outcome = run_std(
        serve_command(&proxy.url, cache.path())
            .arg("nested-bucket")
            .env("S3CREDS_SERVING", "1"),
    );
    assert_eq!(outcome.code, 3);
    assert_eq!(outcome.stderr.lines().count(), 1);
    assert!(
        outcome.stderr.contains("started by s3creds serve"),
        "{}",
        outcome.stderr
    );
}

/// With a remembered role, a refresh is one AssumeRole; when that fails (role deleted, trust changed),
/// serve re-validates the role (recreating it if needed) and retries once.
#[test]
fn a_failed_refresh_revalidates_the_role_and_retries_once() {
    let (_moto, proxy, cache) = setup("retry-bucket");
    process_credentials(&run_std(
        serve_command(&proxy.url, cache.path()).arg("retry-bucket"),
    ));
    proxy.reset();
    proxy.fail_next("AssumeRole", 1, 403, "AccessDenied");
    let outcome =
        run_std(serve_command(&proxy.url, cache.path()).args(["retry-bucket", "--read-only"]));
    process_credentials(&outcome);
    assert!(outcome.stderr.is_empty(), "{}", outcome.stderr);
    // The refresh (AssumeRole beside HeadBucket) fails; then the cold path: the role and the bucket
    // are checked again, and AssumeRole is retried once.
    let actions = proxy.actions();
    let mut refresh = actions[..2].to_vec();
    refresh.sort();
    assert_eq!(refresh, ["AssumeRole", "HEAD /retry-bucket"], "{actions:?}");
    let mut revalidation = actions[2..4].to_vec();
    revalidation.sort();
    assert_eq!(
        revalidation,
        ["GetRole", "HEAD /retry-bucket"],
        "{actions:?}"
    );
    assert_eq!(actions[4..], ["AssumeRole"], "{actions:?}");

    // Two failures in a row: one clear line, non-zero exit, no retry storm.
    proxy.reset();
    proxy.fail_next("AssumeRole", 2, 403, "AccessDenied");
    let outcome =
        run_std(serve_command(&proxy.url, cache.path()).args(["retry-bucket", "--write-only"]));
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert!(outcome.stdout.is_empty());
    assert_eq!(outcome.stderr.lines().count(), 1, "{}", outcome.stderr);
    assert!(
        outcome.stderr.starts_with("s3creds: error: AssumeRole"),
        "{}",
        outcome.stderr
    );
    assert_eq!(count(&proxy, "AssumeRole"), 2);
}

/// Another s3creds command in exactly the environment `serve_command` sets up.
fn other_command(endpoint: &str, cache: &std::path::Path, args: &[&str]) -> Command {
    let template = serve_command(endpoint, cache);
    let mut command = Command::new(template.get_program());
    for (name, value) in template.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command.args(args).stdin(Stdio::null());
    command
}

/// Replace the keyring record of the only cached entry with `payload`.
fn overwrite_record(cache: &std::path::Path, payload: &str) {
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cache.join("index.json")).unwrap()).unwrap();
    let key = index["entries"][0]["key"].as_str().unwrap().to_string();
    let status = Command::new("keyctl")
        .args([
            "add",
            "user",
            &format!("keyring:{key}@s3creds"),
            payload,
            "@s",
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

#[test]
fn records_with_absurd_negative_or_truncated_expiry_are_misses_and_are_replaced() {
    let (_moto, proxy, cache) = setup("absurd-bucket");
    let first = process_credentials(&run_std(
        serve_command(&proxy.url, cache.path()).arg("absurd-bucket"),
    ));
    let key = first["AccessKeyId"].as_str().unwrap();
    for payload in [
        // Beyond year 9999: used to pass the freshness check and then panic when formatted.
        format!(r#"{{"v":1,"k":"{key}","s":"x","t":"y","e":253402300800}}"#),
        // 2^63 seconds: used to overflow when added to the epoch.
        format!(
            r#"{{"v":1,"k":"{key}","s":"x","t":"y","e":{}}}"#,
            1u64 << 63
        ),
        // Far beyond anything STS issues.
        format!(r#"{{"v":1,"k":"{key}","s":"x","t":"y","e":4000000000}}"#),
        format!(r#"{{"v":1,"k":"{key}","s":"x","t":"y","e":-1}}"#),
        format!(r#"{{"v":1,"k":"{key}","s":"x","t":"y","e":17"#),
        "chunks:999999".to_string(),
    ] {
        overwrite_record(cache.path(), &payload);
        proxy.reset();
        let outcome = run_std(serve_command(&proxy.url, cache.path()).arg("absurd-bucket"));
        let replaced = process_credentials(&outcome);
        assert_ne!(replaced["SecretAccessKey"], "x", "{payload}");
        assert_eq!(
            proxy
                .actions()
                .iter()
                .filter(|a| *a == "AssumeRole")
                .count(),
            1,
            "{payload}: a bad record is a miss"
        );
        proxy.reset();
        let again = process_credentials(&run_std(
            serve_command(&proxy.url, cache.path()).arg("absurd-bucket"),
        ));
        assert_eq!(again["AccessKeyId"], replaced["AccessKeyId"], "{payload}");
        assert!(
            proxy.actions().is_empty(),
            "{payload}: the replacement is cached"
        );
    }
}

#[test]
fn a_bucket_named_twice_is_refused_the_same_way_by_every_command_cold_or_warm() {
    let (_moto, proxy, cache) = setup("twice-bucket");
    let message = "error: bucket \"twice-bucket\" is named twice";
    let one_line = "s3creds: error: bucket \"twice-bucket\" is named twice";
    let check = |outcome: support::Outcome, expected: &str| {
        assert_eq!(outcome.code, 3, "{}", outcome.stderr);
        assert!(outcome.stdout.is_empty(), "{}", outcome.stdout);
        assert!(outcome.stderr.contains(expected), "{}", outcome.stderr);
    };
    let twice = ["twice-bucket", "twice-bucket"];
    // Cold.
    check(
        run_std(serve_command(&proxy.url, cache.path()).args(twice)),
        one_line,
    );
    // Warm: the role is remembered and credentials for the bucket are cached.
    process_credentials(&run_std(
        serve_command(&proxy.url, cache.path()).arg("twice-bucket"),
    ));
    proxy.reset();
    check(
        run_std(serve_command(&proxy.url, cache.path()).args(twice)),
        one_line,
    );
    for command in [
        vec!["policy"],
        vec!["create"],
        vec!["create", "--duration", "1h"],
    ] {
        let mut args = command.clone();
        args.extend(twice);
        check(
            run_std(&mut other_command(&proxy.url, cache.path(), &args)),
            message,
        );
    }
    assert!(proxy.actions().is_empty(), "refused before any AWS call");
}

#[test]
fn a_missing_bucket_gets_the_same_verdict_cold_or_warm_and_no_create_hint() {
    let (_moto, proxy, cache) = setup("here-bucket");
    let cold = run_std(serve_command(&proxy.url, cache.path()).arg("nope-bucket"));
    assert_eq!(cold.code, 5, "{}", cold.stderr);
    // Warm: remember the role through a bucket that exists.
    process_credentials(&run_std(
        serve_command(&proxy.url, cache.path()).arg("here-bucket"),
    ));
    let warm = run_std(serve_command(&proxy.url, cache.path()).arg("nope-bucket"));
    assert_eq!(warm.code, 5, "{}", warm.stderr);
    assert!(
        warm.stdout.is_empty(),
        "no credentials for a missing bucket"
    );
    assert_eq!(cold.stderr, warm.stderr);
    assert_eq!(warm.stderr.lines().count(), 1, "{}", warm.stderr);
    assert!(
        warm.stderr.contains("bucket nope-bucket does not exist"),
        "{}",
        warm.stderr
    );
    assert!(!warm.stderr.contains("--create-bucket") && !warm.stderr.contains("pass -c"));
}
