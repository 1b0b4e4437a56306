//! The object commands against moto: bytes and content types checked after each transfer, a 64 MiB
//! upload in parts, keys that would escape the output folder, the delete guards, a failed file among
//! good ones, credentials from `create` through -a (JSON and INI, permission enforcement on), and the
//! progress bar only on a terminal.

mod support;

use serde_json::json;
use std::path::Path;
use support::{run, s3creds, Aws, Keys, Moto, Proxy};

fn s3c(endpoint: &str, args: &[&str]) -> support::Outcome {
    run({
        let mut c = s3creds(endpoint, &Keys::dummy());
        c.args(args);
        c
    })
}

fn head(aws: &Aws, bucket: &str, key: &str) -> Option<(String, i64)> {
    let answer = aws
        .block_on(aws.s3.head_object().bucket(bucket).key(key).send())
        .ok()?;
    Some((
        answer.content_type().unwrap_or_default().to_string(),
        answer.content_length().unwrap_or(-1),
    ))
}

fn keys(aws: &Aws, bucket: &str) -> Vec<String> {
    let answer = aws
        .block_on(aws.s3.list_objects_v2().bucket(bucket).send())
        .expect("list objects");
    answer
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_string))
        .collect()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

/// Every file under `dir`, relative, sorted.
fn tree(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                walk(base, &path, out);
            } else {
                out.push(path.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn put_objects_and_get_objects_round_trip() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("files");
    let local = tempfile::tempdir().unwrap();
    let site = local.path().join("site");
    write(&site.join("index.html"), b"<h1>hi</h1>");
    write(&site.join("js/app.js"), b"let a = 1;");
    write(&site.join("js/deep/data.json"), b"{}");
    write(&local.path().join("notes.txt"), b"plain notes");
    let site_arg = site.to_str().unwrap();
    let notes_arg = local.path().join("notes.txt");
    let notes_arg = notes_arg.to_str().unwrap();

    let dry = s3c(
        &moto.url,
        &[
            "put-objects",
            "files",
            site_arg,
            notes_arg,
            "--prefix",
            "up",
            "--dry-run",
        ],
    );
    dry.assert_success();
    assert!(
        dry.stdout
            .contains(&format!("{notes_arg} => s3://files/up/notes.txt")),
        "{}",
        dry.stdout
    );
    assert!(
        dry.stdout
            .contains("=> s3://files/up/site/js/deep/data.json"),
        "{}",
        dry.stdout
    );
    assert!(keys(&aws, "files").is_empty(), "--dry-run uploaded");

    let put = s3c(
        &moto.url,
        &[
            "put-objects",
            "files",
            site_arg,
            notes_arg,
            "--prefix",
            "up",
        ],
    );
    put.assert_success();
    assert!(
        put.stderr.contains("uploaded 4 of 4 files"),
        "{}",
        put.stderr
    );
    assert!(
        !put.stderr.contains('['),
        "a progress bar when not on a terminal: {}",
        put.stderr
    );
    let mut uploaded = keys(&aws, "files");
    uploaded.sort();
    assert_eq!(
        uploaded,
        [
            "up/notes.txt",
            "up/site/index.html",
            "up/site/js/app.js",
            "up/site/js/deep/data.json"
        ]
    );
    assert_eq!(
        head(&aws, "files", "up/site/index.html").unwrap(),
        ("text/html".into(), 11)
    );
    assert_eq!(
        head(&aws, "files", "up/site/js/deep/data.json").unwrap().0,
        "application/json"
    );
    assert_eq!(head(&aws, "files", "up/notes.txt").unwrap().0, "text/plain");
    assert_eq!(
        aws.get_object("files", "up/site/js/app.js").unwrap(),
        "let a = 1;"
    );

    // Everything, into a new folder.
    let out = tempfile::tempdir().unwrap();
    let all = out.path().join("all");
    let get = s3c(
        &moto.url,
        &["get-objects", "files", "-o", all.to_str().unwrap()],
    );
    get.assert_success();
    assert_eq!(
        tree(&all),
        [
            "up/notes.txt",
            "up/site/index.html",
            "up/site/js/app.js",
            "up/site/js/deep/data.json"
        ]
    );
    assert_eq!(
        std::fs::read(all.join("up/site/index.html")).unwrap(),
        b"<h1>hi</h1>"
    );
    // Only a pattern's matches (fnmatch: `*` crosses `/`), and named keys.
    let some = out.path().join("some");
    s3c(
        &moto.url,
        &[
            "get-objects",
            "files",
            "-o",
            some.to_str().unwrap(),
            "--pattern",
            "*.js*",
            "--concurrency",
            "2",
        ],
    )
    .assert_success();
    assert_eq!(
        tree(&some),
        ["up/site/js/app.js", "up/site/js/deep/data.json"]
    );
    let named = out.path().join("named");
    s3c(
        &moto.url,
        &[
            "get-objects",
            "files",
            "up/notes.txt",
            "-o",
            named.to_str().unwrap(),
        ],
    )
    .assert_success();
    assert_eq!(tree(&named), ["up/notes.txt"]);
}

#[test]
fn put_object_and_get_object() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("single");
    let local = tempfile::tempdir().unwrap();
    let page = local.path().join("page.html");
    write(&page, b"<p>page</p>");
    s3c(
        &moto.url,
        &["put-object", "single", "a/page", page.to_str().unwrap()],
    )
    .assert_success();
    assert_eq!(
        head(&aws, "single", "a/page").unwrap(),
        ("text/html".into(), 11)
    );
    s3c(
        &moto.url,
        &[
            "put-object",
            "single",
            "typed",
            page.to_str().unwrap(),
            "--content-type",
            "text/x-custom",
        ],
    )
    .assert_success();
    assert_eq!(head(&aws, "single", "typed").unwrap().0, "text/x-custom");
    let piped = run({
        let mut c = s3creds(&moto.url, &Keys::dummy());
        c.args(["put-object", "single", "from-stdin.json", "-"])
            .write_stdin("{\"piped\": true}");
        c
    });
    piped.assert_success();
    assert_eq!(
        head(&aws, "single", "from-stdin.json").unwrap(),
        ("application/json".into(), 15)
    );

    let to_stdout = s3c(&moto.url, &["get-object", "single", "from-stdin.json"]);
    to_stdout.assert_success();
    assert_eq!(to_stdout.stdout, "{\"piped\": true}");
    let saved = local.path().join("saved.html");
    s3c(
        &moto.url,
        &[
            "get-object",
            "single",
            "a/page",
            "-o",
            saved.to_str().unwrap(),
        ],
    )
    .assert_success();
    assert_eq!(std::fs::read(&saved).unwrap(), b"<p>page</p>");

    // Missing things: one error line, the right exit code, no file left behind.
    let missing = local.path().join("missing.txt");
    s3c(
        &moto.url,
        &[
            "get-object",
            "single",
            "no-such-key",
            "-o",
            missing.to_str().unwrap(),
        ],
    )
    .assert_failure(5, "NoSuchKey");
    assert!(!missing.exists());
    assert_eq!(
        tree(local.path()),
        ["page.html", "saved.html"],
        "a temporary file was left behind"
    );
    // A folder as -o (existing, or a new name ending in /) is refused before anything is fetched.
    let new_folder = format!("{}/new-folder/", local.path().display());
    for folder in [local.path().to_str().unwrap(), new_folder.as_str()] {
        s3c(
            &moto.url,
            &["get-object", "single", "page.html", "-o", folder],
        )
        .assert_failure(3, "is a folder");
    }
    assert_eq!(tree(local.path()), ["page.html", "saved.html"]);
    s3c(
        &moto.url,
        &["put-object", "single", "k", "/nonexistent/file.txt"],
    )
    .assert_failure(3, "/nonexistent/file.txt: cannot read");
    s3c(
        &moto.url,
        &["put-object", "single", "k", local.path().to_str().unwrap()],
    )
    .assert_failure(3, "not a regular file");
    s3c(
        &moto.url,
        &["put-object", "no-such-bucket", "k", page.to_str().unwrap()],
    )
    .assert_failure(5, "NoSuchBucket");
    s3c(
        &moto.url,
        &[
            "put-objects",
            "single",
            page.to_str().unwrap(),
            "/nonexistent/dir",
        ],
    )
    .assert_failure(3, "/nonexistent/dir: cannot read");
    let missing_bucket = s3c(
        &moto.url,
        &[
            "put-objects",
            "no-such-bucket",
            page.to_str().unwrap(),
            saved.to_str().unwrap(),
        ],
    );
    missing_bucket.assert_failure(5, "NoSuchBucket");
    assert_eq!(
        missing_bucket.stderr.matches("NoSuchBucket").count(),
        1,
        "{}",
        missing_bucket.stderr
    );
    assert_eq!(
        keys(&aws, "single").len(),
        3,
        "a refused put-objects uploaded something"
    );
}

/// 64 MiB of pseudo-random bytes (xorshift), so a part mixed up or dropped cannot go unnoticed.
fn generated(size: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut bytes = Vec::with_capacity(size);
    while bytes.len() < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(size);
    bytes
}

#[test]
fn a_large_upload_goes_up_in_parts_from_standard_input_and_comes_back_identical() {
    let moto = Moto::start();
    let proxy = Proxy::start(&moto);
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("large");
    let data = generated(64 * 1024 * 1024 + 12_345);
    let put = run({
        let mut c = s3creds(&proxy.url, &Keys::dummy());
        // 64 MiB through the Python proxy into moto is slow on a loaded machine: allow a minute of
        // silence rather than the 10 s default, which is about stuck endpoints, not throughput.
        c.args([
            "put-object",
            "large",
            "big.bin",
            "-",
            "--read-timeout",
            "60s",
        ])
        .write_stdin(data.clone());
        c
    });
    put.assert_success();
    let actions = proxy.actions();
    let parts = actions
        .iter()
        .filter(|a| a.starts_with("PUT /large/big.bin?partNumber&uploadId"))
        .count();
    assert_eq!(parts, 9, "8 parts of 8 MiB and the rest: {actions:?}");
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "POST /large/big.bin?uploads")
            .count(),
        1,
        "{actions:?}"
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| *a == "POST /large/big.bin?uploadId")
            .count(),
        1,
        "{actions:?}"
    );
    // The upload carried CRC32 checksums, which S3 checked and keeps with the object.
    let checked = aws
        .block_on(
            aws.s3
                .head_object()
                .bucket("large")
                .key("big.bin")
                .checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled)
                .send(),
        )
        .expect("head object");
    assert!(checked.checksum_crc32().is_some(), "{checked:?}");

    let local = tempfile::tempdir().unwrap();
    let back = local.path().join("back.bin");
    s3c(
        &moto.url,
        &[
            "get-object",
            "large",
            "big.bin",
            "-o",
            back.to_str().unwrap(),
        ],
    )
    .assert_success();
    let returned = std::fs::read(&back).unwrap();
    assert_eq!(returned.len(), data.len());
    assert!(returned == data, "the bytes differ");
}

#[test]
fn keys_that_would_escape_the_folder_write_nothing_outside_it() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("hostile");
    for key in [
        "../../x",
        "a/../../y",
        "/abs",
        "back\\slash",
        "ok.txt",
        "link/z",
        "dir/",
    ] {
        aws.put_object("hostile", key, "payload").unwrap();
    }
    let stored = keys(&aws, "hostile");
    assert!(
        stored.iter().any(|k| k == "../../x"),
        "moto did not keep the key: {stored:?}"
    );
    let top = tempfile::tempdir().unwrap();
    let out = top.path().join("a/b/out");
    std::fs::create_dir_all(&out).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    // A link inside the folder to another one: writing through it would leave the folder.
    std::os::unix::fs::symlink(elsewhere.path(), out.join("link")).unwrap();

    let outcome = s3c(
        &moto.url,
        &["get-objects", "hostile", "-o", out.to_str().unwrap()],
    );
    assert_eq!(outcome.code, 3, "{}", outcome.stderr);
    // `dir/` is a folder marker: the folder is made, and it is no failure.
    assert!(
        outcome.stderr.contains("downloaded 2 of 7 files"),
        "{}",
        outcome.stderr
    );
    assert!(out.join("dir").is_dir());
    for key in ["../../x", "a/../../y", "/abs", "back\\slash", "link/z"] {
        assert!(
            outcome.stderr.contains(&format!("{key:?}")),
            "{key} not named: {}",
            outcome.stderr
        );
    }
    assert_eq!(
        tree(out.parent().unwrap().parent().unwrap().parent().unwrap()),
        ["a/b/out/link", "a/b/out/ok.txt"]
    );
    assert!(tree(elsewhere.path()).is_empty(), "wrote through the link");
    assert_eq!(std::fs::read(out.join("ok.txt")).unwrap(), b"payload");
}

#[test]
fn delete_objects_is_guarded() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("deletions");
    for key in ["keep.txt", "logs/1", "logs/2", "logs/3", "tmp/a", "tmp/b"] {
        aws.put_object("deletions", key, "x").unwrap();
    }
    let all = keys(&aws, "deletions");
    s3c(&moto.url, &["delete-objects", "deletions"])
        .assert_failure(3, "needs the keys to delete or --prefix");
    s3c(&moto.url, &["delete-objects", "deletions", "--prefix", ""])
        .assert_failure(3, "--prefix '' would delete every object")
        .stderr
        .contains("--all")
        .then_some(())
        .expect("the hint names --all");
    s3c(
        &moto.url,
        &[
            "delete-objects",
            "deletions",
            "keep.txt",
            "--prefix",
            "logs/",
        ],
    )
    .assert_failure(3, "not both");
    s3c(&moto.url, &["delete-objects", "deletions", "--all"]).assert_failure(2, "--prefix");
    assert_eq!(keys(&aws, "deletions"), all, "a refused delete deleted");

    let dry = s3c(
        &moto.url,
        &[
            "delete-objects",
            "deletions",
            "--prefix",
            "",
            "--all",
            "--dry-run",
        ],
    );
    dry.assert_success();
    assert_eq!(
        dry.stdout,
        format!("The following keys would be deleted:\n{}\n", all.join("\n"))
    );
    assert!(
        dry.stderr.contains("Deleting 6 objects from deletions"),
        "{}",
        dry.stderr
    );
    assert_eq!(keys(&aws, "deletions"), all, "--dry-run deleted");

    s3c(
        &moto.url,
        &["delete-objects", "deletions", "--prefix", "logs/"],
    )
    .assert_success();
    assert_eq!(keys(&aws, "deletions"), ["keep.txt", "tmp/a", "tmp/b"]);
    s3c(&moto.url, &["delete-objects", "deletions", "tmp/a", "-s"]).assert_success();
    assert_eq!(keys(&aws, "deletions"), ["keep.txt", "tmp/b"]);
    s3c(
        &moto.url,
        &["delete-objects", "deletions", "--prefix", "", "--all"],
    )
    .assert_success();
    assert!(keys(&aws, "deletions").is_empty());
}

#[test]
fn a_failed_file_is_named_and_the_others_complete() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("partial");
    for key in ["one", "two", "three"] {
        aws.put_object("partial", key, key).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let outcome = s3c(
        &moto.url,
        &[
            "get-objects",
            "partial",
            "one",
            "missing",
            "three",
            "-o",
            out.path().to_str().unwrap(),
        ],
    );
    assert_eq!(outcome.code, 5, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains("error: missing: GetObject: NoSuchKey"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("1 file failed, each named above"),
        "{}",
        outcome.stderr
    );
    assert_eq!(tree(out.path()), ["one", "three"]);
}

/// Read-only credentials issued by `create`, in both formats, used through -a: reads work, writes are
/// refused with exit code 4, and no secret reaches stderr.
#[test]
fn read_only_credentials_from_create_through_auth() {
    let moto = Moto::start();
    let bootstrap = Aws::new(&moto.url, &Keys::dummy());
    let admin_keys = bootstrap.user_with_policy(
        "admin",
        &json!({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["s3:*","iam:*","sts:*"],"Resource":"*"}]}),
    );
    bootstrap.create_bucket("granted-bucket");
    bootstrap
        .put_object("granted-bucket", "existing.txt", "data")
        .unwrap();
    moto.enforce_permissions();

    let dir = tempfile::tempdir().unwrap();
    for format in ["json", "ini"] {
        let issued = run({
            let mut c = s3creds(&moto.url, &admin_keys);
            c.args([
                "create",
                "granted-bucket",
                "--read-only",
                "--silent",
                "--format",
                format,
            ]);
            c
        });
        issued.assert_success();
        let file = dir.path().join(format!("creds.{format}"));
        std::fs::write(&file, &issued.stdout).unwrap();
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        let secret = issued
            .stdout
            .lines()
            .find_map(|l| {
                l.split_once("aws_secret_access_key")
                    .map(|(_, v)| v.trim_start_matches([' ', '=']).trim().to_string())
            })
            .unwrap_or_else(|| {
                issued.json()["SecretAccessKey"]
                    .as_str()
                    .unwrap()
                    .to_string()
            });
        let auth = file.to_str().unwrap();
        // No usable identity in the environment: only -a can make these work.
        let with_auth = |args: &[&str]| {
            run({
                let mut c = s3creds(
                    &moto.url,
                    &Keys {
                        id: "AKIANOBODY".into(),
                        secret: "nothing".into(),
                        token: None,
                    },
                );
                c.args(args).args(["-a", auth]);
                c
            })
        };
        let read = with_auth(&["get-object", "granted-bucket", "existing.txt"]);
        read.assert_success();
        assert_eq!(read.stdout, "data");
        assert!(read.stderr.is_empty(), "{format}: {}", read.stderr);
        let listed = with_auth(&["list-bucket", "granted-bucket"]);
        listed.assert_success();
        assert_eq!(listed.json()[0]["Key"], "existing.txt");
        let local = dir.path().join("up.txt");
        std::fs::write(&local, "new").unwrap();
        for args in [
            vec![
                "put-object",
                "granted-bucket",
                "new.txt",
                local.to_str().unwrap(),
            ],
            vec!["put-objects", "granted-bucket", local.to_str().unwrap()],
            vec!["delete-objects", "granted-bucket", "existing.txt"],
            vec!["set-bucket-policy", "granted-bucket", "--allow-all-get"],
        ] {
            let refused = with_auth(&args);
            assert_eq!(refused.code, 4, "{format} {args:?}: {}", refused.stderr);
            refused.assert_no_secret_on_stderr(&[&secret]);
        }
        // A file others can read gets a warning (never the secret).
        std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o644))
            .unwrap();
        let warned = with_auth(&["get-object", "granted-bucket", "existing.txt"]);
        warned.assert_success();
        assert!(
            warned.stderr.contains("is readable by other users"),
            "{}",
            warned.stderr
        );
        warned.assert_no_secret_on_stderr(&[&secret]);
    }

    // --access-key/--secret-key work, with a warning that names the risk and not the value.
    let issued = run({
        let mut c = s3creds(&moto.url, &admin_keys);
        c.args([
            "create",
            "granted-bucket",
            "--read-only",
            "--silent",
            "--username",
            "cli-keys",
        ]);
        c
    });
    let keys = Keys::from_output(&issued.json());
    let outcome = run({
        let mut c = s3creds(
            &moto.url,
            &Keys {
                id: "AKIANOBODY".into(),
                secret: "nothing".into(),
                token: None,
            },
        );
        c.args([
            "get-object",
            "granted-bucket",
            "existing.txt",
            "--access-key",
            &keys.id,
            "--secret-key",
            &keys.secret,
        ]);
        c
    });
    outcome.assert_success();
    assert_eq!(outcome.stdout, "data");
    assert!(
        outcome
            .stderr
            .contains("warning: a secret passed with --secret-key is visible"),
        "{}",
        outcome.stderr
    );
    outcome.assert_no_secret_on_stderr(&[&keys.secret]);
    let bad = s3c(
        &moto.url,
        &[
            "get-object",
            "granted-bucket",
            "existing.txt",
            "-a",
            "/nonexistent/creds.json",
        ],
    );
    bad.assert_failure(3, "cannot read the credentials file");
}

/// `script` gives the command a pseudo-terminal: the bar is drawn there, and not when stderr is a pipe.
#[test]
fn the_progress_bar_appears_only_on_a_terminal() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("progress");
    let local = tempfile::tempdir().unwrap();
    for name in ["a.txt", "b.txt", "c.txt"] {
        write(&local.path().join("d").join(name), &[b'x'; 4096]);
    }
    let folder = local.path().join("d");
    let binary = assert_cmd::cargo::cargo_bin("s3creds");
    let command_line = format!(
        "{} put-objects progress {} --endpoint-url {}",
        binary.display(),
        folder.display(),
        moto.url
    );
    let on_terminal = std::process::Command::new("script")
        .args(["-qfec", &command_line, "/dev/null"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .env("TERM", "xterm")
        .output()
        .expect("script (util-linux/bsdutils) is needed: run scripts/setup-test-env.sh");
    let text = String::from_utf8_lossy(&on_terminal.stdout);
    assert!(on_terminal.status.success(), "{text}");
    assert!(text.contains("3/3 files"), "no bar on a terminal: {text:?}");
    assert!(text.contains("Uploading 12.0 KB (3 files) ["), "{text:?}");
    assert!(text.contains("uploaded 3 of 3 files"), "{text:?}");

    let piped = s3c(
        &moto.url,
        &["put-objects", "progress", folder.to_str().unwrap()],
    );
    piped.assert_success();
    assert_eq!(
        piped.stderr,
        "uploaded 3 of 3 files (12.0 KB) to s3://progress/\n"
    );
    let silent = std::process::Command::new("script")
        .args(["-qfec", &format!("{command_line} --silent"), "/dev/null"])
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", "/nonexistent/config")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/credentials")
        .output()
        .expect("script");
    let text = String::from_utf8_lossy(&silent.stdout);
    assert!(silent.status.success(), "{text}");
    assert!(!text.contains("files) ["), "a bar with --silent: {text:?}");
    assert!(text.contains("uploaded 3 of 3 files"), "{text:?}");
    assert_eq!(keys(&aws, "progress").len(), 3);
}

/// A symbolic link inside the folder is checked before anything is made below it (no folder appears
/// outside), keys that would be written to one file are downloaded once (the others named), and
/// folder markers become folders.
#[test]
fn get_objects_makes_nothing_outside_the_folder_and_no_file_twice() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("shared");
    for (key, body) in [
        ("sub/link/made/by/x", "outside?"),
        ("a/./b", "one"),
        ("a//b", "two"),
        ("a/b", "three"),
        ("dir/", ""),
        ("dir/inner.txt", "inner"),
    ] {
        aws.put_object("shared", key, body).unwrap();
    }
    let out = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir(out.path().join("sub")).unwrap();
    std::os::unix::fs::symlink(outside.path(), out.path().join("sub/link")).unwrap();

    let outcome = s3c(
        &moto.url,
        &["get-objects", "shared", "-o", out.path().to_str().unwrap()],
    );
    assert_eq!(outcome.code, 3, "{}", outcome.stderr);
    assert!(
        std::fs::read_dir(outside.path()).unwrap().next().is_none(),
        "a folder was made outside through the link"
    );
    assert!(
        outcome.stderr.contains("\"sub/link/made/by/x\"")
            && outcome.stderr.contains("symbolic link"),
        "{}",
        outcome.stderr
    );
    // Listed in key order, `a/./b` comes first and is the one written.
    assert_eq!(std::fs::read(out.path().join("a/b")).unwrap(), b"one");
    for other in ["a//b", "a/b"] {
        assert!(
            outcome.stderr.contains(&format!(
                "skipped key {other:?}: it would be written to the same file as \"a/./b\""
            )),
            "{other}: {}",
            outcome.stderr
        );
    }
    assert_eq!(
        std::fs::read(out.path().join("dir/inner.txt")).unwrap(),
        b"inner"
    );
    assert!(
        outcome.stderr.contains("downloaded 3 of 6 files"),
        "{}",
        outcome.stderr
    );
    assert_eq!(tree(out.path()), ["a/b", "dir/inner.txt", "sub/link"]);
}

/// SIGTERM or Ctrl+C during a download removes its temporary file: nothing partial is left.
#[test]
fn an_interrupted_download_leaves_no_partial_file() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("slow");
    aws.put_object("slow", "big.bin", "payload").unwrap();
    let proxy = Proxy::start(&moto);
    // The answer is held back: the download has begun (its file exists) and does not end.
    proxy.delay("GET /slow/big.bin", 30.0);
    let out = tempfile::tempdir().unwrap();
    for (signal, code) in [("-TERM", 143), ("-INT", 130)] {
        let target = out.path().join("big.bin");
        let mut command = support::s3creds_std(&proxy.url, &Keys::dummy());
        command
            .args([
                "get-object",
                "slow",
                "big.bin",
                "-o",
                target.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        let child = command.spawn().unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        while std::fs::read_dir(out.path()).unwrap().next().is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "the download never began"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let partial = tree(out.path());
        assert!(partial[0].starts_with(".s3creds-download"), "{partial:?}");
        std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{signal}: {stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(
            tree(out.path()).is_empty(),
            "{signal}: {:?}",
            tree(out.path())
        );
    }
}

/// put-objects keys a folder by its name as given, as the Python tool does: a link keeps its own
/// name and `.` adds no part; a leftover temporary file of an interrupted download is not uploaded.
#[test]
fn put_objects_keys_folders_by_the_name_given() {
    let moto = Moto::start();
    let aws = Aws::new(&moto.url, &Keys::dummy());
    aws.create_bucket("named");
    let local = tempfile::tempdir().unwrap();
    let real = local.path().join("tree");
    write(&real.join("a.txt"), b"a");
    write(&real.join(".s3creds-download-1-2-3"), b"partial");
    std::os::unix::fs::symlink(&real, local.path().join("site")).unwrap();
    let dry_run = |cwd: &Path, folder: &str| {
        let mut command = s3creds(&moto.url, &Keys::dummy());
        command
            .current_dir(cwd)
            .args(["put-objects", "named", folder, "--dry-run"]);
        let outcome = run(command);
        outcome.assert_success();
        outcome
    };
    let via_link = dry_run(local.path(), "site");
    assert_eq!(via_link.stdout, "site/a.txt => s3://named/site/a.txt\n");
    assert!(
        via_link
            .stderr
            .contains("a leftover of an interrupted s3creds download, not uploaded"),
        "{}",
        via_link.stderr
    );
    let here = dry_run(&real, ".");
    assert_eq!(here.stdout, "./a.txt => s3://named/a.txt\n");
}
