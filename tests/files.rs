//! The files and folders s3creds writes, through the real binary: concurrent writers lose nothing
//! (the AWS config file, the cache index), folders of other users or writable by others are refused,
//! links planted at the names s3creds uses are never followed, a symlinked config is written through,
//! and backups are never overwritten.

#![cfg(unix)]

mod support;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::{
    assert_private_session_keyring, process_credentials, run_std, serve_command, Aws, Keys, Moto,
    Outcome, Proxy,
};

/// The uid of `nobody`: folders "owned by another user" (the suite runs as root).
const NOBODY: u32 = 65534;

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A user's shell for `profile` commands: a private home with the AWS config inside, keys in the
/// environment, moto as the endpoint (with the bucket, should `profile add` ever look at it).
struct Home {
    moto: Moto,
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Home {
        let moto = Moto::start();
        Aws::new(&moto.url, &Keys::dummy()).create_bucket("files-bucket");
        Home {
            moto,
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("aws/config")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(assert_cmd::cargo::cargo_bin("s3creds"));
        for (name, _) in std::env::vars() {
            if name.starts_with("AWS_") || name.starts_with("S3CREDS_") {
                command.env_remove(name);
            }
        }
        command
            .args(args)
            .env("HOME", self.dir.path())
            .env("AWS_CONFIG_FILE", self.config())
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.path().join("aws/credentials"),
            )
            .env("AWS_ENDPOINT_URL", &self.moto.url)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            // The source profile `profile add` writes (its keys come from the environment).
            .env("AWS_PROFILE", "default")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("S3CREDS_CACHE_DIR", self.dir.path().join("cache"))
            .env("S3CREDS_DATA_DIR", self.dir.path().join("data"))
            .stdin(Stdio::null());
        command
    }

    fn s3creds(&self, args: &[&str]) -> Outcome {
        run_std(&mut self.command(args))
    }

    /// Run every command at once and return their outcomes in order.
    fn concurrently(&self, commands: Vec<Vec<String>>) -> Vec<Outcome> {
        let children: Vec<_> = commands
            .iter()
            .map(|args| {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                self.command(&args)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("start s3creds")
            })
            .collect();
        children
            .into_iter()
            .map(|child| Outcome::from(child.wait_with_output().expect("wait for s3creds")))
            .collect()
    }

    fn backups(&self, folder: &Path) -> Vec<PathBuf> {
        let mut backups: Vec<PathBuf> = std::fs::read_dir(folder)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .contains(".s3creds-backup-")
            })
            .collect();
        backups.sort();
        backups
    }
}

fn add_args(name: &str) -> Vec<String> {
    ["profile", "add", name, "files-bucket", "--read-only"]
        .map(String::from)
        .to_vec()
}

#[test]
fn concurrent_profile_adds_and_removes_lose_nothing() {
    let home = Home::new();
    // 12 at once into a file that does not exist yet.
    let first: Vec<String> = (0..12).map(|i| format!("first-{i}")).collect();
    let outcomes = home.concurrently(first.iter().map(|n| add_args(n)).collect());
    for (name, outcome) in first.iter().zip(&outcomes) {
        outcome.assert_success();
        assert!(
            outcome.stderr.contains("Wrote [profile "),
            "{name}: {}",
            outcome.stderr
        );
    }
    let text = std::fs::read_to_string(home.config()).unwrap();
    for name in &first {
        assert!(
            text.contains(&format!("[profile {name}]\n")),
            "{name} lost:\n{text}"
        );
    }
    assert_eq!(mode(&home.config()), 0o600);

    // 10 removals and 10 additions at once, on the same file.
    let second: Vec<String> = (0..10).map(|i| format!("second-{i}")).collect();
    let mut commands: Vec<Vec<String>> = first[..10]
        .iter()
        .map(|n| ["profile", "remove", n].map(String::from).to_vec())
        .collect();
    commands.extend(second.iter().map(|n| add_args(n)));
    for outcome in home.concurrently(commands) {
        outcome.assert_success();
    }
    let text = std::fs::read_to_string(home.config()).unwrap();
    for name in &first[..10] {
        assert!(
            !text.contains(&format!("[profile {name}]")),
            "{name} kept:\n{text}"
        );
    }
    for name in first[10..].iter().chain(&second) {
        assert!(
            text.contains(&format!("[profile {name}]\n")),
            "{name} lost:\n{text}"
        );
    }
    // Every removal backed the file up; backups made in the same second all survive.
    let backups = home.backups(&home.dir.path().join("aws"));
    assert_eq!(backups.len(), 10, "{backups:?}");
    for backup in &backups {
        assert_eq!(mode(backup), 0o600);
    }
    // No temporary file is left behind; only the file, its backups and the lock file remain.
    let leftovers: Vec<String> = std::fs::read_dir(home.dir.path().join("aws"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "config" && !n.contains(".s3creds-backup-") && n != ".config.s3creds-lock")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn backups_are_named_readably_and_never_overwritten() {
    let home = Home::new();
    let folder = home.dir.path().join("aws");
    std::fs::create_dir(&folder).unwrap();
    let versions = [
        "[profile p]\noutput = json\n",
        "[profile p]\noutput = text\n",
    ];
    let mut expected = Vec::new();
    for version in versions {
        std::fs::write(home.config(), version).unwrap();
        expected.push(version.to_string());
        home.s3creds(&["profile", "add", "p", "files-bucket", "--force"])
            .assert_success();
    }
    let backups = home.backups(&folder);
    assert_eq!(backups.len(), 2, "{backups:?}");
    let mut contents: Vec<String> = backups
        .iter()
        .map(|b| std::fs::read_to_string(b).unwrap())
        .collect();
    contents.sort();
    expected.sort();
    assert_eq!(contents, expected);
    // config.s3creds-backup-2026-11-28T15-52-44Z, then -2 for a second one in the same second.
    for backup in &backups {
        let name = backup.file_name().unwrap().to_string_lossy().into_owned();
        let rest = name.strip_prefix("config.s3creds-backup-").unwrap();
        let (stamp, suffix) = rest.split_at(20);
        let shape: String = stamp
            .chars()
            .map(|c| if c.is_ascii_digit() { '0' } else { c })
            .collect();
        assert_eq!(shape, "0000-00-00T00-00-00Z", "{name}");
        assert!(suffix.is_empty() || suffix == "-2", "{name}");
    }

    // A link planted at the backup names of now and the next seconds is not followed: the backup
    // takes the next free name and the link's target is untouched.
    let victim = home.dir.path().join("victim");
    std::fs::write(&victim, "untouched").unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for second in now..now + 3 {
        let name = folder.join(format!("config.s3creds-backup-{}", utc_stamp(second)));
        if std::fs::symlink_metadata(&name).is_err() {
            std::os::unix::fs::symlink(&victim, name).unwrap();
        }
    }
    let before = home.backups(&folder);
    let current = std::fs::read_to_string(home.config()).unwrap();
    home.s3creds(&["profile", "add", "p", "files-bucket", "--force"])
        .assert_success();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    let after = home.backups(&folder);
    assert_eq!(after.len(), before.len() + 1, "{after:?}");
    let new = after.iter().find(|b| !before.contains(b)).unwrap();
    assert_eq!(std::fs::read_to_string(new).unwrap(), current);
    assert_eq!(mode(new), 0o600);
}

/// `2026-11-28T15-52-44Z` for `seconds` since the epoch (civil calendar, UTC).
fn utc_stamp(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let time = seconds % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}-{:02}-{:02}Z",
        time / 3600,
        time % 3600 / 60,
        time % 60
    )
}

fn mkfifo(path: &Path) {
    let status = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A pipe (or a device) where s3creds reads a file of its own is refused or ignored at once, never
/// waited on: the AWS config for `profile add`, the cache index for `serve`.
#[test]
fn a_fifo_where_s3creds_reads_its_own_file_is_not_waited_on() {
    let home = Home::new();
    std::fs::create_dir_all(home.dir.path().join("aws")).unwrap();
    mkfifo(&home.config());
    let outcome = home.s3creds(&["profile", "add", "piped", "files-bucket"]);
    outcome.assert_failure(3, "not a regular file (a pipe or a device?)");
    assert!(
        outcome
            .stderr
            .contains(&home.config().display().to_string()),
        "{}",
        outcome.stderr
    );
    std::fs::remove_file(home.config()).unwrap();

    // The cache index is state s3creds can rebuild: a pipe there is as good as no index.
    let cache = home.dir.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    chmod(&cache, 0o700);
    mkfifo(&cache.join("index.json"));
    let outcome = home.s3creds(&["cache", "list"]);
    outcome.assert_success();
    assert_eq!(outcome.stdout, "The credential cache is empty.\n");
    let outcome = home.s3creds(&["serve", "files-bucket"]);
    outcome.assert_success();
    assert_eq!(outcome.stderr, "");
    let listed = home.s3creds(&["cache", "list"]).stdout;
    assert!(listed.contains("files-bucket"), "{listed}");
}

#[test]
fn a_symlinked_config_is_written_through_and_stays_a_link() {
    let home = Home::new();
    let dotfiles = home.dir.path().join("dotfiles/aws");
    std::fs::create_dir_all(&dotfiles).unwrap();
    let real = dotfiles.join("config");
    std::fs::write(&real, "[default]\nregion = eu-west-1\n").unwrap();
    chmod(&real, 0o644);
    std::fs::create_dir(home.dir.path().join("aws")).unwrap();
    // Relative, as dotfile managers write them.
    std::os::unix::fs::symlink("../dotfiles/aws/config", home.config()).unwrap();

    home.s3creds(&["profile", "add", "linked", "files-bucket"])
        .assert_success();
    assert!(std::fs::symlink_metadata(home.config())
        .unwrap()
        .file_type()
        .is_symlink());
    let text = std::fs::read_to_string(&real).unwrap();
    assert!(
        text.starts_with("[default]\nregion = eu-west-1\n"),
        "{text}"
    );
    assert!(
        text.contains("[profile linked]\ncredential_process = "),
        "{text}"
    );
    // The file keeps its mode.
    assert_eq!(mode(&real), 0o644);

    home.s3creds(&["profile", "remove", "linked"])
        .assert_success();
    assert!(std::fs::symlink_metadata(home.config())
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        "[default]\nregion = eu-west-1\n"
    );
}

#[test]
fn a_config_folder_of_another_user_or_writable_by_others_is_refused() {
    let home = Home::new();
    let folder = home.dir.path().join("aws");
    std::fs::create_dir(&folder).unwrap();
    chmod(&folder, 0o777);
    home.s3creds(&["profile", "add", "p", "files-bucket"])
        .assert_failure(3, "is writable by other users (mode 777)")
        .assert_failure(3, &format!("hint: chmod 700 {}", folder.display()));
    assert!(!home.config().exists());

    chmod(&folder, 0o700);
    std::os::unix::fs::chown(&folder, Some(NOBODY), None).unwrap();
    home.s3creds(&["profile", "add", "p", "files-bucket"])
        .assert_failure(3, &format!("belongs to uid {NOBODY}, not to you (uid 0)"));
    assert!(!home.config().exists());
}

#[test]
fn links_planted_at_the_names_s3creds_uses_are_not_followed() {
    let home = Home::new();
    let folder = home.dir.path().join("aws");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(home.config(), "[default]\n").unwrap();
    let victim = home.dir.path().join("victim");
    std::fs::write(&victim, "untouched").unwrap();
    // The fixed temporary names older versions used, and the names of this version's temporary
    // files for the pids around ours (the pid is part of them; the rest is not guessable).
    let mut planted = vec![
        folder.join("config.s3creds-tmp"),
        home.dir.path().join("cache/index.json.tmp"),
    ];
    std::fs::create_dir(home.dir.path().join("cache")).unwrap();
    chmod(&home.dir.path().join("cache"), 0o700);
    for name in &planted {
        std::os::unix::fs::symlink(&victim, name).unwrap();
    }
    home.s3creds(&["profile", "add", "p", "files-bucket"])
        .assert_success();
    home.s3creds(&["cache", "clear"]).assert_success();
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    assert!(std::fs::read_to_string(home.config())
        .unwrap()
        .contains("[profile p]"));
    assert_eq!(mode(&home.dir.path().join("cache/index.json")), 0o600);

    // A link at the lock file's name: refused, not followed.
    let lock = folder.join(".config.s3creds-lock");
    std::fs::remove_file(&lock).unwrap();
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    planted.push(lock);
    let outcome = home.s3creds(&["profile", "add", "q", "files-bucket"]);
    assert_eq!(outcome.code, 3, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("cannot write"),
        "{}",
        outcome.stderr
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
    for name in &planted {
        assert!(std::fs::symlink_metadata(name)
            .unwrap()
            .file_type()
            .is_symlink());
    }
}

#[test]
fn an_unsafe_cache_folder_is_an_error_for_cache_commands() {
    let home = Home::new();
    let cache = home.dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    chmod(&cache, 0o777);
    for command in ["list", "clear"] {
        home.s3creds(&["cache", command])
            .assert_failure(3, "is writable by other users (mode 777)")
            .assert_failure(3, &format!("hint: chmod 700 {}", cache.display()));
    }
    chmod(&cache, 0o700);
    std::os::unix::fs::chown(&cache, Some(NOBODY), None).unwrap();
    home.s3creds(&["cache", "list"])
        .assert_failure(3, &format!("belongs to uid {NOBODY}"));
    assert!(!cache.join("index.json").exists());
}

/// `serve` never fails the SDK call over its cache folder: fresh credentials, one line on stderr,
/// and nothing written into the refused folder.
#[test]
fn serve_with_an_unsafe_cache_folder_degrades_to_fresh_credentials() {
    assert_private_session_keyring();
    let moto = Moto::start();
    Aws::new(&moto.url, &Keys::dummy()).create_bucket("unsafe-cache-bucket");
    let proxy = Proxy::start(&moto);
    let scratch = tempfile::tempdir().unwrap();
    let writable = scratch.path().join("writable");
    std::fs::create_dir(&writable).unwrap();
    chmod(&writable, 0o777);
    let foreign = scratch.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    chmod(&foreign, 0o700);
    std::os::unix::fs::chown(&foreign, Some(NOBODY), None).unwrap();

    for (cache, problem) in [
        (
            &writable,
            "is writable by other users (mode 777)".to_string(),
        ),
        (&foreign, format!("belongs to uid {NOBODY}")),
    ] {
        proxy.reset();
        for _ in 0..2 {
            let outcome = run_std(
                serve_command(&proxy.url, cache).args(["unsafe-cache-bucket", "--read-only"]),
            );
            process_credentials(&outcome);
            let lines: Vec<&str> = outcome.stderr.lines().collect();
            assert_eq!(lines.len(), 1, "{}", outcome.stderr);
            assert!(
                lines[0].starts_with("s3creds: credential cache off: ")
                    && lines[0].contains(&problem),
                "{}",
                outcome.stderr
            );
        }
        // Both were fetched fresh.
        let assumed = proxy
            .actions()
            .iter()
            .filter(|a| *a == "AssumeRole")
            .count();
        assert_eq!(assumed, 2, "{:?}", proxy.actions());
        assert_eq!(std::fs::read_dir(cache).unwrap().count(), 0);
    }
}

/// Ten `serve`s for ten different buckets at once: every one is in the cache index.
#[test]
fn concurrent_serves_all_reach_the_cache_index() {
    assert_private_session_keyring();
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    let buckets: Vec<String> = (0..10).map(|i| format!("index-bucket-{i}")).collect();
    for bucket in &buckets {
        aws.create_bucket(bucket);
    }
    let cache = tempfile::tempdir().unwrap();
    // The role exists first, so the ten differ only in what they write to the index.
    process_credentials(&run_std(
        serve_command(&moto.url, cache.path()).arg(&buckets[0]),
    ));
    let children: Vec<_> = buckets
        .iter()
        .map(|bucket| {
            serve_command(&moto.url, cache.path())
                .args([bucket.as_str(), "--read-only"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for child in children {
        let outcome = Outcome::from(child.wait_with_output().unwrap());
        process_credentials(&outcome);
        assert!(outcome.stderr.is_empty(), "{}", outcome.stderr);
    }
    let index: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(cache.path().join("index.json")).unwrap())
            .unwrap();
    let entries = index["entries"].as_array().unwrap();
    for bucket in &buckets {
        assert!(
            entries
                .iter()
                .any(|e| e["access"] == "read-only" && e["buckets"][0] == bucket.as_str()),
            "{bucket} missing from {index:#}"
        );
    }
    assert_eq!(mode(&cache.path().join("index.json")), 0o600);
    // No temporary file left behind.
    let names: Vec<String> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("tmp"))
        .collect();
    assert!(names.is_empty(), "{names:?}");
}

/// `cache clear` that cannot open the keyring the entries are in removes nothing and says so,
/// instead of forgetting the index and reporting entries removed that are still there.
#[test]
fn cache_clear_without_its_keyring_is_an_error_and_keeps_the_index() {
    let home = Home::new();
    let cache = home.dir.path().join("cache");
    std::fs::create_dir(&cache).unwrap();
    chmod(&cache, 0o700);
    let index = r#"{"entries":[{"key":"v1-abc","buckets":["b"],"access":"read-only","expiration":"2099-01-01T00:00:00Z","backend":"kernel (keyutils)"}],"roles":{}}"#;
    std::fs::write(cache.join("index.json"), index).unwrap();
    run_std(
        home.command(&["cache", "clear"])
            .env("S3CREDS_KEYRING", "no-such-keyring"),
    )
    .assert_failure(3, "cannot open the keyring the cache is in")
    .assert_failure(3, "nothing was removed");
    assert_eq!(
        std::fs::read_to_string(cache.join("index.json")).unwrap(),
        index
    );
}

/// A config file its owner made read-only is left as it is, not replaced by a rename.
#[test]
fn a_read_only_config_is_refused_and_left_as_it_is() {
    let home = Home::new();
    let config = home.config();
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(&config, "[default]\nregion = us-east-1\n").unwrap();
    chmod(&config, 0o400);
    run_std(&mut home.command(&["profile", "add", "ro", "files-bucket"]))
        .assert_failure(3, "is read-only (mode 400)");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        "[default]\nregion = us-east-1\n"
    );
    assert_eq!(mode(&config), 0o400);
}
