//! Regression tests for the defect classes of the hardening issue that live in the request, the plan,
//! the credential cache and `profile add`: numeric ranges checked before any change (class 1), a cache
//! key that covers the source identity (9), single flight that waits for a slow holder (10), and
//! profiles that work elsewhere (14). Everything runs the real binary against moto.

mod support;

use std::process::{Command, Stdio};
use support::{
    assert_private_session_keyring, process_credentials, run_std, serve_command, Aws, Keys, Moto,
    Outcome, Proxy,
};

fn setup(bucket: &str) -> (Moto, Proxy, tempfile::TempDir) {
    assert_private_session_keyring();
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket(bucket);
    let proxy = Proxy::start(&moto);
    (moto, proxy, tempfile::tempdir().unwrap())
}

/// s3creds in a clean environment: no AWS variables of the test process, a private home.
fn s3creds(home: &std::path::Path, endpoint: &str) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("s3creds"));
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") || name.starts_with("S3CREDS_") {
            command.env_remove(name);
        }
    }
    command
        .env("HOME", home)
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("S3CREDS_CACHE_DIR", home.join("cache"))
        .env("S3CREDS_KEYRING", "keyutils")
        .stdin(Stdio::null());
    command
}

/// Class 1: an absurd number is refused before anything is created, for every numeric option.
#[test]
fn absurd_numbers_are_refused_before_any_aws_call() {
    let (_moto, proxy, home) = setup("wait-b1");
    let huge = "18446744073709551615";
    let cases: Vec<Vec<&str>> = vec![
        vec![
            "create",
            "wait-b1",
            "--username",
            "u",
            "--wait-timeout",
            huge,
        ],
        vec![
            "create",
            "wait-b1",
            "--wait-timeout",
            "99999999999999999999h",
        ],
        vec!["create", "wait-b1", "--wait-timeout", "2h"],
        vec!["create", "wait-b1", "--duration", huge],
        vec!["create", "wait-b1", "--duration", "99999999999999999999h"],
        vec!["serve", "wait-b1", "--duration", huge],
        vec!["serve", "wait-b1", "--refresh-window", huge],
        vec![
            "serve",
            "wait-b1",
            "--refresh-window",
            "99999999999999999999h",
        ],
        vec!["profile", "add", "p", "wait-b1", "--refresh-window", huge],
    ];
    for args in cases {
        let outcome = run_std(
            s3creds(home.path(), &proxy.url)
                .env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing")
                .args(&args),
        );
        assert_eq!(outcome.code, 3, "{args:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.starts_with("error: ") || outcome.stderr.starts_with("s3creds: error: "),
            "{args:?}: {}",
            outcome.stderr
        );
        assert!(!outcome.stderr.contains("panicked"), "{}", outcome.stderr);
        assert!(
            proxy.actions().is_empty(),
            "{args:?} called AWS: {:?}",
            proxy.actions()
        );
    }
}

/// Class 9: two credentials files with two identities and no keys in the environment: switching
/// AWS_SHARED_CREDENTIALS_FILE must not serve the first identity's cached credentials.
/// The access key that signed each AssumeRole the proxy saw.
fn assume_role_signers(proxy: &support::Proxy) -> Vec<String> {
    proxy
        .calls()
        .iter()
        .filter(|c| c["action"] == "AssumeRole")
        .map(|c| c["access_key_id"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn switching_the_credentials_file_switches_the_cache_entry() {
    let (_moto, proxy, home) = setup("ident-bucket");
    let first = home.path().join("first");
    let second = home.path().join("second");
    std::fs::write(
        &first,
        "[default]\naws_access_key_id = AKIAFIRSTIDENTITY01\naws_secret_access_key = one\n",
    )
    .unwrap();
    std::fs::write(
        &second,
        "[default]\naws_access_key_id = AKIASECONDIDENTITY2\naws_secret_access_key = two\n",
    )
    .unwrap();
    let serve = |file: &std::path::Path| {
        let mut command = s3creds(home.path(), &proxy.url);
        // `~/...` is the home folder, as the SDKs read the variable.
        command
            .env("AWS_SHARED_CREDENTIALS_FILE", file)
            .env("AWS_REGION", "us-east-1")
            .args(["serve", "ident-bucket"]);
        process_credentials(&run_std(&mut command))
    };
    let a = serve(&first);
    proxy.reset();
    let b = serve(&second);
    assert_ne!(
        a["AccessKeyId"], b["AccessKeyId"],
        "served the first identity's credentials"
    );
    assert_eq!(assume_role_signers(&proxy), ["AKIASECONDIDENTITY2"]);
    // Back to the first file: its entry is still cached.
    proxy.reset();
    let again = serve(&first);
    assert_eq!(again["AccessKeyId"], a["AccessKeyId"]);
    assert!(proxy.actions().is_empty(), "{:?}", proxy.actions());
    // Editing the file in place (another identity under the same name) is a new entry too.
    std::fs::write(
        &first,
        "[default]\naws_access_key_id = AKIATHIRDIDENTITY03\naws_secret_access_key = three\n",
    )
    .unwrap();
    proxy.reset();
    let edited = serve(&first);
    assert_ne!(edited["AccessKeyId"], a["AccessKeyId"]);
    // Named as `~/first`, as the SDKs read it: cached while the file is unchanged, a new entry once
    // it is edited (the fingerprint is the real file's, not that of a path that does not exist).
    let tilde = std::path::Path::new("~/first");
    let cached = serve(tilde);
    proxy.reset();
    assert_eq!(serve(tilde)["AccessKeyId"], cached["AccessKeyId"]);
    assert!(proxy.actions().is_empty(), "{:?}", proxy.actions());
    std::fs::write(
        &first,
        "[default]\naws_access_key_id = AKIAFOURTHIDENTITY4\naws_secret_access_key = four\n",
    )
    .unwrap();
    proxy.reset();
    let fourth = serve(tilde);
    assert_ne!(fourth["AccessKeyId"], cached["AccessKeyId"]);
    assert_eq!(assume_role_signers(&proxy), ["AKIAFOURTHIDENTITY4"]);
}

/// Class 10: helpers waiting for a slow fetch keep waiting while its holder is alive.
#[test]
fn helpers_behind_a_slow_endpoint_make_one_assume_role() {
    let (_moto, proxy, cache) = setup("slow-bucket");
    // Remember the role, then make every AssumeRole take 6 s (longer than the old 4 s wait).
    process_credentials(&run_std(
        serve_command(&proxy.url, cache.path()).arg("slow-bucket"),
    ));
    proxy.reset();
    proxy.delay("AssumeRole", 6.0);
    let children: Vec<_> = (0..16)
        .map(|_| {
            serve_command(&proxy.url, cache.path())
                .args(["slow-bucket", "--read-only"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut keys = std::collections::BTreeSet::new();
    for child in children {
        let outcome = Outcome::from(child.wait_with_output().unwrap());
        keys.insert(process_credentials(&outcome)["AccessKeyId"].to_string());
    }
    let assume_roles = proxy
        .actions()
        .iter()
        .filter(|a| *a == "AssumeRole")
        .count();
    assert_eq!(assume_roles, 1, "{:?}", proxy.actions());
    assert_eq!(keys.len(), 1);
}

fn profile_home(proxy: &Proxy, home: &std::path::Path, args: &[&str]) -> Outcome {
    let mut command = s3creds(home, &proxy.url);
    command.args(args);
    run_std(&mut command)
}

/// Class 14: `profile add` writes profiles that work elsewhere.
#[test]
fn profile_add_names_a_real_source_profile_and_a_region_and_checks_the_buckets() {
    let (_moto, proxy, home) = setup("profile-bucket");
    let config = home.path().join("config");
    // No --profile, no AWS_PROFILE, no default profile (keys only in the environment): refused.
    let mut command = s3creds(home.path(), &proxy.url);
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .args(["profile", "add", "scoped", "profile-bucket"]);
    let refused = run_std(&mut command);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("no source profile"),
        "{}",
        refused.stderr
    );
    assert!(!config.exists(), "nothing is written");

    // AWS_PROFILE names the source, as the help says; its region is written into the new profile.
    std::fs::write(&config, "[profile src]\nregion = eu-west-2\n").unwrap();
    std::fs::write(
        home.path().join("credentials"),
        "[src]\naws_access_key_id = testing\naws_secret_access_key = testing\n",
    )
    .unwrap();
    let mut command = s3creds(home.path(), &proxy.url);
    command
        .env("AWS_PROFILE", "src")
        .args(["profile", "add", "scoped", "profile-bucket"]);
    run_std(&mut command).assert_success();
    let text = std::fs::read_to_string(&config).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("credential_process = "))
        .unwrap();
    assert!(line.contains(" serve --profile src "), "{line}");
    assert!(
        text.contains("[profile scoped]\ncredential_process = "),
        "{text}"
    );
    assert!(text.contains("\nregion = eu-west-2\n"), "{text}");

    // A bucket that does not exist: refused (exit 5), nothing written.
    let before = std::fs::read_to_string(&config).unwrap();
    let missing = profile_home(
        &proxy,
        home.path(),
        &["--profile", "src", "profile", "add", "other", "nope-bucket"],
    );
    assert_eq!(missing.code, 5, "{}", missing.stderr);
    assert!(
        missing.stderr.contains("nope-bucket does not exist"),
        "{}",
        missing.stderr
    );
    assert_eq!(std::fs::read_to_string(&config).unwrap(), before);

    // The written profile works through credential_process (aws-config's own reading).
    let mut command = s3creds(home.path(), &proxy.url);
    command
        .env("AWS_PROFILE", "src")
        .args(["serve", "--profile", "src", "profile-bucket"]);
    process_credentials(&run_std(&mut command));
}
