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

/// Rewrite the installed manifest so that plugin `name`'s file is `file`, as a hand edit would.
fn set_manifest_file(data: &Path, name: &str, file: &str) {
    let path = data.join("plugins/manifest.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let current = format!("file = \"{name}{}\"", std::env::consts::DLL_SUFFIX);
    assert!(text.contains(&current), "{text}");
    // A JSON string is also a valid TOML basic string.
    let edited = text.replace(
        &current,
        &format!("file = {}", serde_json::to_string(file).unwrap()),
    );
    std::fs::write(&path, edited).unwrap();
}

#[test]
fn a_manifest_naming_files_outside_the_folder_is_refused_by_every_command() {
    let data = data_dir();
    install(data.path(), "s3creds-plugin-textract");
    // A library outside the plugins folder that a hand-edited manifest points at.
    let victim = data.path().join("victim.so");
    std::fs::copy(library("s3creds-plugin-textract"), &victim).unwrap();
    let original = std::fs::read_to_string(data.path().join("plugins/manifest.toml")).unwrap();
    for file in [
        "../victim.so".to_string(),
        victim.display().to_string(),
        "sub/../../victim.so".to_string(),
        "..\\victim.so".to_string(),
        "..".to_string(),
        ".manifest.toml.s3creds-lock".to_string(),
    ] {
        std::fs::write(data.path().join("plugins/manifest.toml"), &original).unwrap();
        set_manifest_file(data.path(), "textract", &file);
        for args in [
            vec!["plugin", "list"],
            vec!["plugin", "info", "textract"],
            vec!["plugin", "remove", "textract"],
            vec!["policy", "my-bucket", "--preset", "textract"],
        ] {
            s3creds_in(data.path(), &args)
                .assert_failure(3, "only a plain file name inside")
                .assert_failure(3, "hint: the manifest was edited by hand");
        }
        assert!(
            victim.exists(),
            "{file}: a file outside the folder was deleted"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_plugin_folder_or_file_of_another_user_is_refused() {
    const NOBODY: u32 = 65534;
    let data = data_dir();
    install(data.path(), "s3creds-plugin-textract");
    let folder = data.path().join("plugins");
    let file = folder.join(format!("textract{}", std::env::consts::DLL_SUFFIX));
    let problem = format!("belongs to uid {NOBODY}, not to you (uid 0)");

    std::os::unix::fs::chown(&folder, Some(NOBODY), None).unwrap();
    for args in [
        vec!["policy", "my-bucket", "--preset", "textract"],
        vec!["plugin", "list"],
        vec!["plugin", "info", "textract"],
    ] {
        s3creds_in(data.path(), &args)
            .assert_failure(3, "refusing to load plugins: the folder")
            .assert_failure(3, &problem);
    }
    let rclone = library("s3creds-plugin-rclone");
    s3creds_in(
        data.path(),
        &["plugin", "install", rclone.to_str().unwrap()],
    )
    .assert_failure(3, &problem);
    std::os::unix::fs::chown(&folder, Some(0), None).unwrap();

    // The data folder above it counts too: whoever owns it can replace the plugins folder.
    std::os::unix::fs::chown(data.path(), Some(NOBODY), None).unwrap();
    s3creds_in(
        data.path(),
        &["policy", "my-bucket", "--preset", "textract"],
    )
    .assert_failure(3, &problem);
    std::os::unix::fs::chown(data.path(), Some(0), None).unwrap();

    std::os::unix::fs::chown(&file, Some(NOBODY), None).unwrap();
    s3creds_in(
        data.path(),
        &["policy", "my-bucket", "--preset", "textract"],
    )
    .assert_failure(3, "refusing to load plugins: the file")
    .assert_failure(3, &problem);
    let list = s3creds_in(data.path(), &["plugin", "list"]);
    list.assert_success();
    assert!(list.stdout.contains(&problem), "{}", list.stdout);
    std::os::unix::fs::chown(&file, Some(0), None).unwrap();
    s3creds_in(
        data.path(),
        &["policy", "my-bucket", "--preset", "textract"],
    )
    .assert_success();
}

/// Ten installs at once (five plugins, twice each) into one manifest: every plugin is recorded.
#[test]
fn concurrent_installs_all_reach_the_manifest() {
    let data = data_dir();
    let packages = [
        "s3creds-plugin-textract",
        "s3creds-plugin-s3-ocr",
        "s3creds-plugin-shell-exports",
        "s3creds-plugin-rclone",
        "s3creds-fixture-misbehaving",
    ];
    let binary = assert_cmd::cargo::cargo_bin("s3creds");
    let children: Vec<_> = packages
        .iter()
        .chain(&packages)
        .map(|package| {
            Command::new(&binary)
                .args(["plugin", "install"])
                .arg(library(package))
                .env("S3CREDS_DATA_DIR", data.path())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        Outcome::from(child.wait_with_output().unwrap()).assert_success();
    }
    let list = s3creds_in(data.path(), &["plugin", "list"]);
    list.assert_success();
    for name in [
        "textract",
        "s3-ocr",
        "shell-exports",
        "rclone",
        "fixture-misbehaving",
    ] {
        assert!(
            list.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{name} ")) && l.ends_with("ok")),
            "{name} missing:\n{}",
            list.stdout
        );
    }
    // Only the libraries, the manifest and its lock file: no temporary file left behind.
    let mut names: Vec<String> = std::fs::read_dir(data.path().join("plugins"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 7, "{names:?}");
}

/// The code that runs is the bytes that were hashed: on Linux they are loaded from a sealed memory
/// file, never from the installed file again, so swapping that file after the check cannot matter.
/// Seen from outside: while a `create --preset` waits on AWS (a listener that never answers), its
/// memory maps show the plugin as `memfd:s3creds-plugin` and nothing from the plugins folder.
#[cfg(target_os = "linux")]
#[test]
fn the_loaded_plugin_is_the_hashed_bytes_in_memory_not_the_file() {
    let data = data_dir();
    install(data.path(), "s3creds-plugin-textract");
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", silent.local_addr().unwrap());
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("s3creds"))
        .args(["create", "hang-bucket", "--preset", "textract"])
        .env("S3CREDS_DATA_DIR", data.path())
        .env("AWS_CONFIG_FILE", "/nonexistent/s3creds-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/s3creds-test/credentials",
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", &url)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let maps_path = format!("/proc/{}/maps", child.id());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let maps = loop {
        let maps = std::fs::read_to_string(&maps_path).unwrap_or_default();
        // The plugin is resolved before the first AWS call; once the request reached the listener
        // (its backlog), the library has long been loaded.
        if maps.contains("memfd:s3creds-plugin") {
            break maps;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "s3creds exited before it was seen waiting on AWS"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "no plugin mapping:\n{maps}"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let _ = child.kill();
    let _ = child.wait();
    let folder = data.path().join("plugins");
    assert!(
        !maps.contains(folder.to_str().unwrap()),
        "a file of the plugins folder is mapped:\n{maps}"
    );
}

/// `rotate` prints the new key through a plugin format too, and only then deactivates the old key.
#[test]
fn rotate_prints_the_new_key_with_a_plugin_format() {
    let data = data_dir();
    install(data.path(), "s3creds-plugin-shell-exports");
    let moto = Moto::start();
    let admin = Aws::new(&moto.url, &Keys::dummy());
    let created = issue(data.path(), &moto, &["create", "rotate-bucket", "-c"]);
    let old: Value = serde_json::from_str(&created).unwrap();
    let user = "s3.read-write.rotate-bucket";
    let rotated = issue(
        data.path(),
        &moto,
        &["rotate", user, "--format", "shell-exports"],
    );
    let [id, secret, token] = sourced(&rotated);
    assert_eq!(token, "unset", "{rotated}");
    assert_ne!(id, old["AccessKeyId"].as_str().unwrap());
    let keys = Keys {
        id: id.clone(),
        secret,
        token: None,
    };
    let aws = Aws::new(&moto.url, &keys);
    aws.block_on(aws.sts.get_caller_identity().send())
        .expect("the rotated key authenticates");
    let listed = admin
        .block_on(admin.iam.list_access_keys().user_name(user).send())
        .unwrap();
    for key in listed.access_key_metadata() {
        let expected = if key.access_key_id() == Some(id.as_str()) {
            "Active"
        } else {
            "Inactive"
        };
        assert_eq!(key.status().unwrap().as_str(), expected);
    }
    assert_eq!(listed.access_key_metadata().len(), 2);
}
