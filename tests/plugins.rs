//! Plugins end to end through the real binary: the shipped plugins and the example are built here with
//! cargo, installed into a private data folder per test (`S3CREDS_DATA_DIR`), and used by `create` and
//! `policy` (against moto where credentials are issued). Fixture plugins cover every failure class.

mod support;

use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use support::{bare_s3creds, repo_root, run, s3creds, Aws, Keys, Moto, Outcome};

/// Every plugin crate the tests load, by package name.
const PACKAGES: [&str; 8] = [
    "s3creds-plugin-textract",
    "s3creds-plugin-s3-ocr",
    "s3creds-plugin-shell-exports",
    "s3creds-plugin-rclone",
    "s3creds-fixture-wrong-abi",
    "s3creds-fixture-small-table",
    "s3creds-fixture-no-entry",
    "s3creds-fixture-misbehaving",
];

/// Build every plugin crate once per test process and map package names to their libraries. Paths
/// come from cargo's JSON messages, so any CARGO_TARGET_DIR works. A failed build fails the test.
fn library(package: &str) -> PathBuf {
    static LIBRARIES: OnceLock<HashMap<String, PathBuf>> = OnceLock::new();
    let libraries = LIBRARIES.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut command = Command::new(cargo);
        command.current_dir(repo_root()).args([
            "build",
            "--locked",
            "--message-format=json-render-diagnostics",
        ]);
        for package in PACKAGES {
            command.args(["-p", package]);
        }
        let output = command.output().expect("run cargo to build the plugins");
        assert!(
            output.status.success(),
            "building the plugins failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let mut libraries = HashMap::new();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let Ok(message) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if message["reason"] != "compiler-artifact" {
                continue;
            }
            let target = message["target"]["name"].as_str().unwrap_or_default();
            let Some(package) = PACKAGES.iter().find(|p| p.replace('-', "_") == target) else {
                continue;
            };
            for file in message["filenames"].as_array().into_iter().flatten() {
                let file = file.as_str().unwrap();
                if file.ends_with(std::env::consts::DLL_SUFFIX) {
                    libraries.insert(package.to_string(), PathBuf::from(file));
                }
            }
        }
        libraries
    });
    let path = libraries
        .get(package)
        .unwrap_or_else(|| panic!("cargo reported no library for {package}: {libraries:?}"));
    assert!(path.is_file(), "{} is missing", path.display());
    path.clone()
}

/// A private data folder (0700, like a home directory's) for one test.
fn data_dir() -> tempfile::TempDir {
    tempfile::tempdir().expect("a temporary data folder")
}

fn with_data(mut command: assert_cmd::Command, data: &Path) -> assert_cmd::Command {
    command.env("S3CREDS_DATA_DIR", data);
    command
}

fn s3creds_in(data: &Path, args: &[&str]) -> Outcome {
    let mut command = with_data(bare_s3creds(), data);
    command.args(args);
    run(command)
}

fn install(data: &Path, package: &str) {
    let library = library(package);
    s3creds_in(data, &["plugin", "install", library.to_str().unwrap()]).assert_success();
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn install_list_info_remove_through_the_binary() {
    let data = data_dir();
    let folder = data.path().join("plugins");
    let empty = s3creds_in(data.path(), &["plugin", "list"]);
    empty.assert_success();
    assert!(
        empty.stderr.contains("No plugins installed"),
        "{}",
        empty.stderr
    );

    let textract = library("s3creds-plugin-textract");
    let installed = s3creds_in(
        data.path(),
        &["plugin", "install", textract.to_str().unwrap()],
    );
    installed.assert_success();
    assert!(
        installed
            .stderr
            .contains("Installed plugin textract 0.1.0 (ABI 1), providing preset textract"),
        "{}",
        installed.stderr
    );
    install(data.path(), "s3creds-plugin-s3-ocr");
    install(data.path(), "s3creds-plugin-rclone");

    // The library was copied: the installed file no longer depends on the build output.
    let copy = folder.join(format!("textract{}", std::env::consts::DLL_SUFFIX));
    assert_eq!(
        std::fs::read(&copy).unwrap(),
        std::fs::read(&textract).unwrap()
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&folder), 0o700);
        assert_eq!(mode(&copy), 0o600);
        assert_eq!(mode(&folder.join("manifest.toml")), 0o600);
    }

    let list = s3creds_in(data.path(), &["plugin", "list"]);
    list.assert_success();
    let lines: Vec<Vec<&str>> = list
        .stdout
        .lines()
        .map(|l| {
            l.split("  ")
                .map(str::trim)
                .filter(|c| !c.is_empty())
                .collect()
        })
        .collect();
    assert_eq!(
        lines,
        [
            vec!["NAME", "VERSION", "ABI", "PROVIDES", "STATUS"],
            vec!["rclone", "0.1.0", "1", "format rclone", "ok"],
            vec!["s3-ocr", "0.1.0", "1", "preset s3-ocr", "ok"],
            vec!["textract", "0.1.0", "1", "preset textract", "ok"],
        ],
        "{}",
        list.stdout
    );

    let info = s3creds_in(data.path(), &["plugin", "info", "textract"]);
    info.assert_success();
    assert!(
        info.stdout.contains("name:     textract\n"),
        "{}",
        info.stdout
    );
    assert!(info.stdout.contains("abi:      1\n"));
    assert!(info.stdout.contains("status:   ok\n"));
    assert!(info
        .stdout
        .contains(&format!("source:   {}\n", textract.display())));
    assert!(info
        .stdout
        .contains("preset:   textract  allow every Amazon Textract action"));

    s3creds_in(data.path(), &["plugin", "remove", "textract"]).assert_success();
    assert!(!copy.exists(), "remove must delete the library");
    let list = s3creds_in(data.path(), &["plugin", "list"]);
    assert!(!list.stdout.contains("textract"), "{}", list.stdout);
    s3creds_in(data.path(), &["plugin", "info", "textract"])
        .assert_failure(3, "no installed plugin is called \"textract\"")
        .assert_failure(3, "installed plugins: rclone, s3-ocr");
    s3creds_in(
        data.path(),
        &["policy", "my-bucket", "--preset", "textract"],
    )
    .assert_failure(3, "unknown preset \"textract\"")
    .assert_failure(3, "installed presets: s3-ocr");
}

/// Whether `needle` appears anywhere in the JSON tree (object key order does not matter).
fn contains_value(tree: &Value, needle: &Value) -> bool {
    tree == needle
        || match tree {
            Value::Array(items) => items.iter().any(|v| contains_value(v, needle)),
            Value::Object(map) => map.values().any(|v| contains_value(v, needle)),
            _ => false,
        }
}

#[test]
fn textract_preset_shows_in_dry_run_and_policy() {
    let data = data_dir();
    install(data.path(), "s3creds-plugin-textract");
    let statement = json!({"Effect": "Allow", "Action": "textract:*", "Resource": "*"});

    let dry_run = s3creds_in(
        data.path(),
        &[
            "create",
            "my-bucket",
            "--preset",
            "textract",
            "--dry-run=json",
        ],
    );
    dry_run.assert_success();
    let plan = dry_run.json();
    assert!(
        contains_value(&plan, &statement),
        "the plan lacks the textract statement: {plan:#}"
    );
    let text = s3creds_in(
        data.path(),
        &["create", "my-bucket", "--preset", "textract", "--dry-run"],
    );
    text.assert_success();
    assert!(
        text.stdout.contains("\"Action\": \"textract:*\""),
        "{}",
        text.stdout
    );

    let policy = s3creds_in(
        data.path(),
        &["policy", "my-bucket", "--read-only", "--preset", "textract"],
    );
    policy.assert_success();
    let statements = policy.json()["Statement"].as_array().unwrap().clone();
    assert_eq!(statements.last(), Some(&statement));
    assert_eq!(statements.len(), 3, "read-only statements plus textract");
}

#[test]
fn s3_ocr_preset_is_attached_to_the_user_policy() {
    let data = data_dir();
    install(data.path(), "s3creds-plugin-s3-ocr");
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let outcome = run({
        let mut c = with_data(s3creds(&moto.url, &Keys::dummy()), data.path());
        c.args([
            "create",
            "ocr-docs",
            "-c",
            "--read-only",
            "--preset",
            "s3-ocr",
        ]);
        c
    });
    outcome.assert_success();
    let user = outcome.json()["UserName"].as_str().unwrap().to_string();
    assert_eq!(user, "s3.custom.ocr-docs");
    let policies = admin.inline_policy_names(&user);
    assert_eq!(policies.len(), 1);
    let statements = admin.inline_policy(&user, &policies[0])["Statement"]
        .as_array()
        .unwrap()
        .clone();
    for expected in [
        json!({"Effect": "Allow", "Action": "textract:StartDocumentTextDetection", "Resource": "*"}),
        json!({"Effect": "Allow", "Action": "s3:ListBucket", "Resource": ["arn:aws:s3:::ocr-docs"]}),
        json!({"Effect": "Allow", "Action": "s3:GetObject", "Resource": ["arn:aws:s3:::ocr-docs/*"]}),
        json!({"Effect": "Allow", "Action": "s3:PutObject", "Resource": [
            "arn:aws:s3:::ocr-docs/*.s3-ocr.json",
            "arn:aws:s3:::ocr-docs/textract-output/*"
        ]}),
    ] {
        assert!(
            statements.contains(&expected),
            "{expected} missing from {statements:#?}"
        );
    }
}

/// Issue credentials against moto with a plugin format; returns stdout.
fn issue(data: &Path, moto: &Moto, args: &[&str]) -> String {
    let outcome = run({
        let mut c = with_data(s3creds(&moto.url, &Keys::dummy()), data);
        c.args(args);
        c
    });
    outcome.assert_success();
    outcome.stdout
}

/// Source `text` in a real POSIX shell (with a stale token set first) and read the variables back.
fn sourced(text: &str) -> [String; 3] {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), text).unwrap();
    let output = Command::new("sh")
        .arg("-c")
        .arg(
            "AWS_SESSION_TOKEN=stale; . \"$1\"; \
             printf '%s\\n%s\\n%s' \"$AWS_ACCESS_KEY_ID\" \"$AWS_SECRET_ACCESS_KEY\" \"${AWS_SESSION_TOKEN-unset}\"",
        )
        .arg("sh")
        .arg(file.path())
        .output()
        .expect("sh is needed to test the shell-exports format");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let values: Vec<String> = stdout.split('\n').map(str::to_string).collect();
    values.try_into().expect("three values")
}

#[test]
fn shell_exports_output_sources_in_sh() {
    let data = data_dir();
    install(data.path(), "s3creds-plugin-shell-exports");
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());

    let permanent = issue(
        data.path(),
        &moto,
        &["create", "shell-bucket", "-c", "--format", "shell-exports"],
    );
    let [id, secret, token] = sourced(&permanent);
    assert_eq!(
        admin.access_key_ids("s3.read-write.shell-bucket"),
        std::slice::from_ref(&id),
        "{permanent}"
    );
    assert_eq!(secret.len(), 40, "{permanent}");
    assert_eq!(token, "unset", "permanent keys must drop a stale token");

    let temporary = issue(
        data.path(),
        &moto,
        &[
            "create",
            "shell-bucket",
            "--duration",
            "15m",
            "--format",
            "shell-exports",
        ],
    );
    let [id, secret, token] = sourced(&temporary);
    assert!(id.starts_with("ASIA"), "{temporary}");
    assert!(
        !secret.is_empty() && !token.is_empty() && token != "stale",
        "{temporary}"
    );
    // The sourced values are the real credentials: they authenticate against moto.
    let keys = Keys {
        id,
        secret,
        token: Some(token),
    };
    let aws = Aws::new(&moto.url, &keys);
    let identity = aws
        .block_on(aws.sts.get_caller_identity().send())
        .expect("the sourced credentials authenticate");
    assert!(identity.arn().unwrap_or_default().contains("assumed-role"));
}

#[test]
fn rclone_output_parses_as_an_rclone_remote() {
    let data = data_dir();
    install(data.path(), "s3creds-plugin-rclone");
    let moto = Moto::start();
    let text = issue(
        data.path(),
        &moto,
        &[
            "create",
            "rclone-bucket",
            "-c",
            "--duration",
            "1h",
            "--format",
            "rclone",
        ],
    );
    let config = ini::Ini::load_from_str(&text).expect("rclone config parses as INI");
    let remote = config.section(Some("s3creds")).expect("[s3creds] section");
    assert_eq!(remote.get("type"), Some("s3"));
    assert_eq!(remote.get("provider"), Some("AWS"));
    assert_eq!(remote.get("env_auth"), Some("false"));
    let keys = Keys {
        id: remote.get("access_key_id").unwrap().to_string(),
        secret: remote.get("secret_access_key").unwrap().to_string(),
        token: remote.get("session_token").map(str::to_string),
    };
    assert!(
        keys.id.starts_with("ASIA") && keys.token.is_some(),
        "{text}"
    );
    let aws = Aws::new(&moto.url, &keys);
    aws.block_on(aws.sts.get_caller_identity().send())
        .expect("the configured credentials authenticate");
}

#[test]
fn the_example_plugin_builds_from_its_folder_installs_and_works() {
    let data = data_dir();
    let folder = repo_root().join("examples/plugin-minimal");
    let installed = s3creds_in(
        data.path(),
        &["plugin", "install", folder.to_str().unwrap()],
    );
    installed.assert_success();
    assert!(
        installed.stderr.contains(
            "Installed plugin minimal 0.1.0 (ABI 1), providing preset caller-identity, format env-file"
        ),
        "{}",
        installed.stderr
    );
    let policy = s3creds_in(
        data.path(),
        &["policy", "example-bucket", "--preset", "caller-identity"],
    );
    policy.assert_success();
    assert!(policy.json()["Statement"]
        .as_array()
        .unwrap()
        .contains(&json!({"Effect": "Allow", "Action": "sts:GetCallerIdentity", "Resource": "*"})));
    s3creds_in(data.path(), &["plugin", "remove", "minimal"]).assert_success();
}

/// Every way a library can be wrong at install time: a clear message naming the file, exit code 3
/// (not a signal: the process did not crash), and nothing installed.
#[test]
fn broken_libraries_are_refused_with_clear_errors() {
    let data = data_dir();
    let scratch = data_dir();
    let text_file = scratch.path().join("notes.so");
    std::fs::write(
        &text_file,
        "this is a text file, not a library\n".repeat(10),
    )
    .unwrap();
    let truncated = scratch.path().join("truncated.so");
    let good = std::fs::read(library("s3creds-plugin-textract")).unwrap();
    std::fs::write(&truncated, &good[..good.len() / 2]).unwrap();
    let tiny = scratch.path().join("tiny.so");
    std::fs::write(&tiny, b"\x7fELF").unwrap();

    let cases: Vec<(PathBuf, &str)> = vec![
        (
            library("s3creds-fixture-wrong-abi"),
            "wrong ABI version: expected 1, found 99",
        ),
        (
            library("s3creds-fixture-small-table"),
            "wrong table size: ABI 1 needs at least 32 bytes, found 8",
        ),
        (
            library("s3creds-fixture-no-entry"),
            "no `s3creds_plugin_v1` symbol",
        ),
        (
            text_file.clone(),
            "not a shared library: it does not start with an ELF, Mach-O or PE header",
        ),
        (truncated.clone(), "not a shared library: it is truncated"),
        (tiny.clone(), "too small to be a shared library"),
        (
            scratch.path().to_path_buf(),
            "a folder without a Cargo.toml",
        ),
    ];
    for (path, message) in cases {
        let outcome = s3creds_in(data.path(), &["plugin", "install", path.to_str().unwrap()]);
        outcome.assert_failure(3, message);
        if path.is_file() {
            assert!(
                outcome
                    .stderr
                    .contains(&format!("plugin {}:", path.display())),
                "the error must name the file: {}",
                outcome.stderr
            );
        }
    }
    let list = s3creds_in(data.path(), &["plugin", "list"]);
    assert!(
        list.stderr.contains("No plugins installed"),
        "{}",
        list.stdout
    );
}

#[test]
fn a_misbehaving_plugin_fails_cleanly_at_every_entry_point() {
    let data = data_dir();
    let library = library("s3creds-fixture-misbehaving");
    // A panic while describing itself, at install time.
    run({
        let mut c = with_data(bare_s3creds(), data.path());
        c.env("S3CREDS_FIXTURE_PANIC_IN_DESCRIBE", "1").args([
            "plugin",
            "install",
            library.to_str().unwrap(),
        ]);
        c
    })
    .assert_failure(
        3,
        "the plugin panicked while describing itself: fixture: panicking while describing itself",
    );
    install(data.path(), "s3creds-fixture-misbehaving");

    s3creds_in(data.path(), &["policy", "my-bucket", "--preset", "panic"]).assert_failure(
        3,
        "the plugin panicked while running preset \"panic\": fixture: panicking in preset panic",
    );
    s3creds_in(
        data.path(),
        &["policy", "my-bucket", "--preset", "invalid-statement"],
    )
    .assert_failure(3, "--preset invalid-statement (plugin fixture-misbehaving")
    .assert_failure(3, "it needs \"Resource\" (or \"NotResource\")");
    // Preset statements count toward AWS's size limit like any other statement.
    s3creds_in(
        data.path(),
        &["create", "my-bucket", "--preset", "oversized", "--dry-run"],
    )
    .assert_failure(3, "the user inline policy would be")
    .assert_failure(3, "AWS allows at most 2048");
    s3creds_in(
        data.path(),
        &[
            "create",
            "my-bucket",
            "--duration",
            "1h",
            "--preset",
            "oversized",
            "--dry-run",
        ],
    )
    .assert_failure(3, "AWS allows at most 2048");

    // Formats run after the credentials exist. Whatever the plugin does (panic with the secret in
    // its message, refuse, exit, abort), the credentials still reach stdout as JSON, the failure is
    // one error on stderr (exit 3), and the secret never reaches stderr.
    let moto = Moto::start();
    for (format, temporary, message) in [
        (
            "panic-with-secret",
            false,
            "the plugin panicked while running format \"panic-with-secret\": fixture: panicking with the secret (redacted)",
        ),
        (
            "refuse",
            true,
            "failed while running format \"refuse\": fixture: this format always refuses",
        ),
        ("exit", false, "the plugin ended the process without a result"),
        ("abort", true, "the plugin crashed the formatting process"),
    ] {
        let outcome = run({
            let mut c = with_data(s3creds(&moto.url, &Keys::dummy()), data.path());
            c.args(["create", "fmt-bucket", "-c", "--format", format]);
            if temporary {
                c.args(["--duration", "15m"]);
            }
            c
        });
        assert_eq!(outcome.code, 3, "{format}: {}", outcome.stderr);
        assert!(outcome.stderr.contains(message), "{format}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains("printed above as JSON instead"),
            "{format}: {}",
            outcome.stderr
        );
        let printed = outcome.json();
        let secret = printed["SecretAccessKey"].as_str().unwrap();
        outcome.assert_no_secret_on_stderr(&[secret]);
        // The printed credentials are the issued ones, complete.
        let keys = Keys::from_output(&printed);
        assert!(keys.id.starts_with("AKIA") || keys.id.starts_with("ASIA"), "{}", keys.id);
    }
    // A plugin that writes to stdout itself: only its result is printed.
    let outcome = run({
        let mut c = with_data(s3creds(&moto.url, &Keys::dummy()), data.path());
        c.args([
            "create",
            "fmt-bucket",
            "--duration",
            "15m",
            "--format",
            "print",
        ]);
        c
    });
    outcome.assert_success();
    assert_eq!(outcome.stdout, "formatted\n");
}

#[test]
fn a_tampered_plugin_is_refused() {
    let data = data_dir();
    install(data.path(), "s3creds-plugin-textract");
    let file = data
        .path()
        .join(format!("plugins/textract{}", std::env::consts::DLL_SUFFIX));
    let mut bytes = std::fs::read(&file).unwrap();
    bytes.push(0);
    std::fs::write(&file, bytes).unwrap();

    s3creds_in(
        data.path(),
        &["policy", "my-bucket", "--preset", "textract"],
    )
    .assert_failure(3, "refused: the file changed since it was installed");
    s3creds_in(data.path(), &["plugin", "info", "textract"])
        .assert_failure(3, "refused: the file changed since it was installed");
    let list = s3creds_in(data.path(), &["plugin", "list"]);
    list.assert_success();
    assert!(
        list.stdout.contains("refused: changed since install"),
        "{}",
        list.stdout
    );
}

#[cfg(unix)]
#[test]
fn a_plugin_folder_writable_by_others_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let data = data_dir();
    install(data.path(), "s3creds-plugin-textract");
    let folder = data.path().join("plugins");
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o777)).unwrap();
    s3creds_in(
        data.path(),
        &["policy", "my-bucket", "--preset", "textract"],
    )
    .assert_failure(3, "is writable by other users (mode 777)");
    let library = library("s3creds-plugin-rclone");
    s3creds_in(
        data.path(),
        &["plugin", "install", library.to_str().unwrap()],
    )
    .assert_failure(3, "is writable by other users");
    std::fs::set_permissions(&folder, std::fs::Permissions::from_mode(0o700)).unwrap();
    s3creds_in(
        data.path(),
        &["policy", "my-bucket", "--preset", "textract"],
    )
    .assert_success();
}

/// Without `--preset` and with a built-in format, nothing plugin-related is read: a corrupt manifest
/// goes unnoticed. Naming a plugin reads it (and fails on it).
#[test]
fn the_hot_path_reads_no_manifest() {
    let data = data_dir();
    let folder = data.path().join("plugins");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("manifest.toml"), "this is = not [valid toml").unwrap();
    s3creds_in(data.path(), &["create", "hot-bucket", "--dry-run"]).assert_success();
    s3creds_in(
        data.path(),
        &["create", "hot-bucket", "--format", "ini", "--dry-run"],
    )
    .assert_success();
    s3creds_in(data.path(), &["policy", "hot-bucket"]).assert_success();
    s3creds_in(
        data.path(),
        &["policy", "hot-bucket", "--preset", "textract"],
    )
    .assert_failure(3, "the plugin manifest");
    s3creds_in(
        data.path(),
        &["create", "hot-bucket", "--format", "rclone", "--dry-run"],
    )
    .assert_failure(3, "the plugin manifest");
}

#[test]
fn unknown_formats_list_what_is_available() {
    let data = data_dir();
    s3creds_in(
        data.path(),
        &["create", "fmt-bucket", "--format", "yaml", "--dry-run"],
    )
    .assert_failure(3, "unknown format \"yaml\"")
    .assert_failure(3, "available formats: json, ini");
    install(data.path(), "s3creds-plugin-rclone");
    install(data.path(), "s3creds-plugin-shell-exports");
    s3creds_in(
        data.path(),
        &["create", "fmt-bucket", "--format", "yaml", "--dry-run"],
    )
    .assert_failure(3, "available formats: json, ini, rclone, shell-exports");
}
