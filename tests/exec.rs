//! `s3creds exec`: real consumers through the credentials endpoint (and --env), the environment the
//! command gets, exit status and signals, refresh past the refresh point, --role-arn, bad input.

mod endpoint_support;
mod support;

use endpoint_support::{consumers, expected_body, rust_consumer_body, Fixture};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::run_std;

const BUCKET: &str = "exec-bucket";
const ROLE: &str = "arn:aws:iam::123456789012:role/team/GivenRole";

/// Run by the `aws-config` consumer as a child of `s3creds exec` / with `serve --http`'s variables.
#[test]
#[ignore = "a child process of exec_gives_every_consumer_working_credentials"]
fn rust_consumer() {
    rust_consumer_body();
}

fn error_lines(stderr: &str) -> usize {
    stderr.lines().filter(|l| l.starts_with("error:")).count()
}

#[test]
fn exec_gives_every_consumer_working_credentials() {
    let f = Fixture::new(BUCKET);
    for consumer in consumers(BUCKET) {
        let mut command = f.s3creds(&["exec", BUCKET, "--"]);
        command
            .args(&consumer.argv)
            .env("S3CREDS_TEST_BUCKET", BUCKET);
        let outcome = run_std(&mut command);
        assert_eq!(outcome.code, 0, "{}: {}", consumer.name, outcome.stderr);
        if consumer.name != "aws-config" {
            assert_eq!(
                outcome.stdout,
                expected_body(&consumer),
                "{}",
                consumer.name
            );
        }
        assert_eq!(
            f.object(BUCKET, &format!("{}.txt", consumer.name)),
            expected_body(&consumer)
        );
        assert!(
            outcome.stderr.contains(
                "removed from the command's environment (they would override the scoped \
                 credentials): AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY"
            ),
            "{}",
            outcome.stderr
        );
        assert!(!outcome.stderr.contains("testing"), "{}", outcome.stderr);
    }
    // Four commands, one AssumeRole: the keyring cache of `serve` served the other three.
    assert_eq!(f.assumed(), 1, "{:?}", f.proxy.actions());
    // Every object call was signed with the temporary key, never the source identity's.
    for call in f.proxy.calls() {
        let action = call["action"].as_str().unwrap();
        if action.starts_with("PUT /exec-bucket/") || action.starts_with("GET /exec-bucket/") {
            assert!(
                call["access_key_id"].as_str().unwrap().starts_with("ASIA"),
                "{call}"
            );
        }
    }
}

#[test]
fn env_mode_gives_plain_variables_and_removes_overriding_ones() {
    let f = Fixture::new(BUCKET);
    // `--region` is given and AWS_REGION is not set: the command gets AWS_REGION from s3creds.
    let mut command = f.s3creds(&[
        "--region",
        "us-east-1",
        "exec",
        BUCKET,
        "--env",
        "--",
        "sh",
        "-c",
        "echo \"$AWS_ACCESS_KEY_ID|$AWS_CREDENTIAL_EXPIRATION|${AWS_ROLE_SESSION_NAME-unset}|\
         ${AWS_CONTAINER_CREDENTIALS_RELATIVE_URI-unset}|${S3CREDS_SERVING-unset}|$AWS_REGION|\
         ${#AWS_SECRET_ACCESS_KEY}|${#AWS_SESSION_TOKEN}\"",
    ]);
    command
        .env("AWS_ROLE_SESSION_NAME", "elsewhere")
        .env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/other")
        .env_remove("AWS_REGION");
    let outcome = run_std(&mut command);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let fields: Vec<&str> = outcome.stdout.trim().split('|').collect();
    assert!(fields[0].starts_with("ASIA"), "{}", outcome.stdout);
    assert!(
        fields[1].ends_with('Z') && fields[1].contains('T'),
        "{}",
        outcome.stdout
    );
    assert_eq!(&fields[2..6], ["unset", "unset", "unset", "us-east-1"]);
    assert!(fields[6].parse::<usize>().unwrap() > 0 && fields[7].parse::<usize>().unwrap() > 0);
    assert!(
        outcome.stderr.contains(
            "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, \
         AWS_ROLE_SESSION_NAME"
        ),
        "{}",
        outcome.stderr
    );

    // And a real consumer works with them.
    let aws = support::repo_root().join(".venv/bin/aws");
    let mut put = f.s3creds(&["exec", BUCKET, "--env", "--", "sh", "-c"]);
    put.arg(format!(
        "printf %s plain | {aws} s3 cp - s3://{BUCKET}/env.txt",
        aws = aws.display()
    ));
    let outcome = run_std(&mut put);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(f.object(BUCKET, "env.txt"), "plain");

    // The command takes s3creds's place: the same process, its own exit status.
    let child = f
        .s3creds(&["exec", BUCKET, "--env", "--", "sh", "-c", "echo $$; exit 7"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(7), "{output:?}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        pid.to_string()
    );
    let missing = run_std(&mut f.s3creds(&["exec", BUCKET, "--env", "--", "/nonexistent/command"]));
    assert_eq!(missing.code, 127, "{}", missing.stderr);
    assert!(
        missing
            .stderr
            .contains("error: cannot run \"/nonexistent/command\""),
        "{}",
        missing.stderr
    );
}

#[test]
fn the_exit_status_is_the_commands_and_signals_reach_it() {
    let f = Fixture::new(BUCKET);
    let outcome = run_std(&mut f.s3creds(&["exec", BUCKET, "--", "sh", "-c", "exit 7"]));
    assert_eq!(outcome.code, 7, "{}", outcome.stderr);
    let missing = run_std(&mut f.s3creds(&["exec", BUCKET, "--", "/nonexistent/command"]));
    assert_eq!(missing.code, 127, "{}", missing.stderr);

    // SIGTERM to s3creds ends the command; then no process and no port are left.
    let pid_file = f.home.path().join("child.pid");
    let uri_file = f.home.path().join("uri");
    let token_file = f.home.path().join("token");
    let script = format!(
        "echo \"$AWS_CONTAINER_CREDENTIALS_FULL_URI\" > {uri}; \
         echo \"$AWS_CONTAINER_AUTHORIZATION_TOKEN\" > {token}; \
         echo $$ > {pid}.tmp; mv {pid}.tmp {pid}; exec sleep 60",
        uri = uri_file.display(),
        token = token_file.display(),
        pid = pid_file.display()
    );
    let mut exec = f
        .s3creds(&["exec", BUCKET, "--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !pid_file.exists() {
        assert!(Instant::now() < deadline, "the command never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let child_pid: u32 = std::fs::read_to_string(&pid_file)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let uri = std::fs::read_to_string(&uri_file).unwrap();
    let address = uri
        .trim()
        .strip_prefix("http://")
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    assert!(address.starts_with("127.0.0.1:"), "{address}");
    assert!(
        std::net::TcpStream::connect(&address).is_ok(),
        "the endpoint is not listening"
    );
    assert!(std::path::Path::new(&format!("/proc/{child_pid}")).exists());
    // The command took s3creds's place; its endpoint is the one process started for it.
    assert_eq!(child_pid.to_string(), exec.id().to_string());
    let endpoints = processes_started_for(&exec.id().to_string());
    assert_eq!(endpoints.len(), 1);
    // The endpoint was handed its token through a pipe: its environment (readable in /proc by the
    // same user) does not hold it.
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert_eq!(token.trim().len(), 64, "{token}");
    let environ = std::fs::read(format!("/proc/{}/environ", endpoints[0])).unwrap();
    assert!(
        !environ.windows(64).any(|w| w == token.trim().as_bytes()),
        "the token is in the endpoint process's environment"
    );
    // It learns that the command ended through a pidfd of it (at once, not by polling).
    let fds = format!("/proc/{}/fd", endpoints[0]);
    let holds_pidfd = || {
        std::fs::read_dir(&fds).unwrap().flatten().any(|fd| {
            std::fs::read_link(fd.path()).is_ok_and(|l| l.to_string_lossy() == "anon_inode:[pidfd]")
        })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !holds_pidfd() {
        assert!(Instant::now() < deadline, "the endpoint holds no pidfd");
        std::thread::sleep(Duration::from_millis(20));
    }

    let status = Command::new("kill")
        .args(["-TERM", &exec.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let started = Instant::now();
    let exit = exec.wait().unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    // The command is this process now: it ends by the signal itself, as a shell sees it (143).
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&exit),
        Some(15),
        "{exit:?}"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{child_pid}")).exists(),
        "the command is still running"
    );
    // The endpoint process goes with the command: no process started for this exec is left, and the
    // port is closed.
    let exec_pid = exec.id().to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = processes_started_for(&exec_pid);
        let open = std::net::TcpStream::connect(&address).is_ok();
        if left.is_empty() && !open {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "left behind: processes {left:?}, port open: {open}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The processes whose environment names `pid` as the exec they serve (the endpoint process), other
/// than zombies (which hold no port and are reaped by whoever adopted them).
fn processes_started_for(pid: &str) -> Vec<String> {
    let marker = format!("S3CREDS_EXEC_ENDPOINT={pid}");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let path = entry.path();
        let Ok(environ) = std::fs::read(path.join("environ")) else {
            continue;
        };
        let state = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
        let zombie = state
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z');
        if !zombie && environ.split(|b| *b == 0).any(|v| v == marker.as_bytes()) {
            found.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    found
}

#[test]
fn without_a_cache_the_endpoint_answers_with_the_credentials_exec_fetched() {
    let f = Fixture::new(BUCKET);
    let aws = support::repo_root().join(".venv/bin/aws");
    // Two AWS CLI runs, each asking the endpoint: both answered from what `exec` fetched before the
    // command started, with no keyring to share it through.
    let script = format!(
        "printf %s one | {aws} s3 cp - s3://{BUCKET}/n.txt && {aws} s3 cp s3://{BUCKET}/n.txt -",
        aws = aws.display()
    );
    for (flag, keyring) in [("--no-cache", None), ("--duration=30m", Some("none"))] {
        f.proxy.reset();
        let mut command = f.s3creds(&["exec", BUCKET, flag, "--", "sh", "-c", &script]);
        if let Some(keyring) = keyring {
            command.env("S3CREDS_KEYRING", keyring);
        }
        let outcome = run_std(&mut command);
        assert_eq!(outcome.code, 0, "{flag}: {}", outcome.stderr);
        assert_eq!(outcome.stdout, "one", "{flag}");
        assert_eq!(f.assumed(), 1, "{flag}: {:?}", f.proxy.actions());
    }
}

#[test]
fn credentials_are_refreshed_past_the_refresh_point() {
    let f = Fixture::new(BUCKET);
    let aws = support::repo_root().join(".venv/bin/aws");
    // 900 s credentials refreshed when less than 895 s are left: after 5 s. The command's second
    // AWS CLI run (a new process, asking the endpoint again) comes after that.
    let script = format!(
        "printf %s one | {aws} s3 cp - s3://{BUCKET}/r1.txt && sleep 7 && \
         printf %s two | {aws} s3 cp - s3://{BUCKET}/r2.txt",
        aws = aws.display()
    );
    let outcome = run_std(&mut f.s3creds(&[
        "exec",
        BUCKET,
        "--duration",
        "15m",
        "--refresh-window",
        "895s",
        "--",
        "sh",
        "-c",
        &script,
    ]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(f.object(BUCKET, "r1.txt"), "one");
    assert_eq!(f.object(BUCKET, "r2.txt"), "two");
    assert_eq!(f.assumed(), 2, "{:?}", f.proxy.actions());
    let keys: Vec<String> = f
        .proxy
        .calls()
        .into_iter()
        .filter(|c| {
            c["action"]
                .as_str()
                .unwrap()
                .starts_with("PUT /exec-bucket/")
        })
        .map(|c| c["access_key_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(
        keys[0], keys[1],
        "the second run got the refreshed credentials"
    );
}

#[test]
fn a_given_role_is_assumed_directly_with_the_session_policy() {
    let f = Fixture::new(BUCKET);
    let aws = support::repo_root().join(".venv/bin/aws");
    let outcome = run_std(&mut f.s3creds(&[
        "exec",
        BUCKET,
        "--read-only",
        "--role-arn",
        ROLE,
        "--external-id",
        "ext-42",
        "--",
        aws.to_str().unwrap(),
        "s3",
        "ls",
        &format!("s3://{BUCKET}/"),
    ]));
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let actions = f.proxy.actions();
    assert!(
        !actions
            .iter()
            .any(|a| a == "GetRole" || a == "CreateRole" || a == "AttachRolePolicy"),
        "{actions:?}"
    );
    let assume = f
        .proxy
        .calls()
        .into_iter()
        .find(|c| c["action"] == "AssumeRole")
        .expect("an AssumeRole");
    assert_eq!(assume["params"]["RoleArn"], ROLE);
    assert_eq!(assume["params"]["ExternalId"], "ext-42");
    let policy: serde_json::Value =
        serde_json::from_str(assume["params"]["Policy"].as_str().unwrap()).unwrap();
    assert!(
        policy.to_string().contains("arn:aws:s3:::exec-bucket"),
        "{policy}"
    );
    assert!(
        !policy.to_string().contains("s3:PutObject"),
        "read-only: {policy}"
    );

    // `create --duration` takes it too, and `--dry-run` shows the plan without the role steps.
    f.proxy.reset();
    let created =
        run_std(&mut f.s3creds(&["create", BUCKET, "--duration", "1h", "--role-arn", ROLE]));
    assert_eq!(created.code, 0, "{}", created.stderr);
    assert!(created.stdout.contains("SessionToken"));
    let actions = f.proxy.actions();
    assert!(
        !actions.iter().any(|a| a == "GetRole" || a == "CreateRole"),
        "{actions:?}"
    );
    assert_eq!(actions.iter().filter(|a| *a == "AssumeRole").count(), 1);
    let plan = run_std(&mut f.s3creds(&[
        "create",
        BUCKET,
        "--duration",
        "1h",
        "--role-arn",
        ROLE,
        "--dry-run",
    ]));
    assert_eq!(plan.code, 0, "{}", plan.stderr);
    assert!(
        plan.stdout.contains(&format!("AssumeRole {ROLE}")),
        "{}",
        plan.stdout
    );
    assert!(!plan.stdout.contains("GetRole"), "{}", plan.stdout);

    // Without --duration: refused, nothing called.
    f.proxy.reset();
    let refused = run_std(&mut f.s3creds(&["create", BUCKET, "--role-arn", ROLE]));
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused
        .stderr
        .contains("--role-arn and --external-id need --duration"));
    assert!(f.proxy.actions().is_empty());
}

#[test]
fn a_role_that_cannot_be_assumed_is_one_clear_error_and_no_command() {
    let f = Fixture::new(BUCKET);
    let marker = f.home.path().join("marker");
    f.proxy.fail_next("AssumeRole", 1, 403, "AccessDenied");
    let outcome = run_std(&mut f.s3creds(&[
        "exec",
        BUCKET,
        "--role-arn",
        ROLE,
        "--",
        "touch",
        marker.to_str().unwrap(),
    ]));
    assert_eq!(outcome.code, 4, "{}", outcome.stderr);
    assert_eq!(error_lines(&outcome.stderr), 1, "{}", outcome.stderr);
    assert!(
        outcome
            .stderr
            .contains(&format!("error: cannot assume role {ROLE}: AccessDenied")),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stderr.contains("hint: check that the role exists"));
    assert!(!marker.exists(), "the command ran");
}

#[test]
fn bad_input_of_every_class_starts_no_command() {
    let f = Fixture::new(BUCKET);
    let marker = f.home.path().join("marker");
    let touch = ["--", "touch", marker.to_str().unwrap()];
    let cases: Vec<(Vec<&str>, i32, &str)> = vec![
        (vec!["Bad_Bucket"], 3, "invalid bucket name"),
        (vec![BUCKET, BUCKET], 3, "named twice"),
        (vec!["missing-bucket"], 5, "missing-bucket"),
        (vec![BUCKET, "--duration", "10m"], 3, "duration"),
        (
            vec![BUCKET, "--duration", "1h", "--refresh-window", "2h"],
            3,
            "refresh-window",
        ),
        (vec![BUCKET, "--prefix", "a*b"], 3, "prefix"),
        (vec![BUCKET, "--statement", "{not json"], 3, "--statement"),
        (
            vec![BUCKET, "--role-arn", "arn:aws:iam::1:role/x"],
            3,
            "invalid --role-arn",
        ),
        (
            vec![BUCKET, "--role-arn", ROLE, "--external-id", "a b"],
            3,
            "invalid --external-id",
        ),
        (
            vec![BUCKET, "--external-id", "abc"],
            3,
            "--external-id needs --role-arn",
        ),
        (vec![BUCKET, "--no-such-option"], 2, "--no-such-option"),
    ];
    for (args, code, message) in cases {
        let mut words = vec!["exec"];
        words.extend(&args);
        words.extend(touch);
        let outcome = run_std(&mut f.s3creds(&words));
        assert_eq!(outcome.code, code, "{args:?}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains(message),
            "{args:?}: {}",
            outcome.stderr
        );
        assert_eq!(
            error_lines(&outcome.stderr),
            1,
            "{args:?}: {}",
            outcome.stderr
        );
        assert!(
            outcome.stderr.lines().count() <= 2 || code == 2,
            "{args:?}: {}",
            outcome.stderr
        );
        assert!(!marker.exists(), "{args:?} started the command");
    }
    // No command at all: a usage error.
    let outcome = run_std(&mut f.s3creds(&["exec", BUCKET]));
    assert_eq!(outcome.code, 2, "{}", outcome.stderr);
}

/// Every SDK looks in the shared credentials and config files before it asks a container endpoint:
/// keys or a credential_process in `[default]` would win over the scoped credentials. The command
/// gets no credentials file and a private copy of the config file without its credential
/// settings, removed when the command ends; other settings stay.
#[test]
fn the_command_finds_no_credentials_in_the_users_files() {
    let f = Fixture::new(BUCKET);
    let runtime = tempfile::tempdir().unwrap();
    std::fs::write(
        f.home.path().join("credentials"),
        "[default]\naws_access_key_id = AKIADEFAULTADMINKEY1\n\
         aws_secret_access_key = default/admin/secret\n",
    )
    .unwrap();
    let config = f.home.path().join("config");
    std::fs::write(
        &config,
        "[default]\nregion = us-east-1\ncredential_process = /bin/false\ns3 =\n  \
         addressing_style = path\n[profile other]\nrole_arn = arn:aws:iam::123456789012:role/other\n\
         source_profile = default\n",
    )
    .unwrap();
    let aws = support::repo_root().join(".venv/bin/aws");
    let script = format!(
        "cat \"$AWS_CONFIG_FILE\"; echo \"mode=$(stat -c %a \"$AWS_CONFIG_FILE\")\"; \
         echo \"credentials-file=$AWS_SHARED_CREDENTIALS_FILE\"; \
         echo \"config-file=$AWS_CONFIG_FILE\"; \
         {aws} sts get-caller-identity --query Arn --output text",
        aws = aws.display()
    );
    let run = || {
        let mut command = f.s3creds(&["exec", BUCKET, "--", "sh", "-c", &script]);
        command.env("XDG_RUNTIME_DIR", runtime.path());
        run_std(&mut command)
    };
    let outcome = run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    let out = &outcome.stdout;
    for kept in [
        "region = us-east-1",
        "  addressing_style = path",
        "[profile other]",
    ] {
        assert!(out.contains(kept), "{kept:?} missing: {out}");
    }
    for removed in ["credential_process", "role_arn", "source_profile"] {
        assert!(!out.contains(removed), "{removed:?} still there: {out}");
    }
    assert!(out.contains("mode=600"), "{out}");
    assert!(out.contains("credentials-file=/dev/null"), "{out}");
    assert!(
        out.contains(&format!("config-file={}", runtime.path().display())),
        "{out}"
    );
    assert!(
        out.contains(":assumed-role/"),
        "the command did not use the scoped credentials: {out}"
    );
    let err = &outcome.stderr;
    assert!(
        err.contains(&format!(
            "the command does not see the credentials file {}",
            f.home.path().join("credentials").display()
        )),
        "{err}"
    );
    assert!(
        err.contains(
            "without its credential settings (default: credential_process, profile other: \
             role_arn, profile other: source_profile)"
        ),
        "{err}"
    );
    for secret in ["AKIADEFAULTADMINKEY1", "default/admin/secret", "/bin/false"] {
        assert!(!err.contains(secret), "{err}");
    }
    // The endpoint removes the copy once the command has ended.
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::fs::read_dir(runtime.path()).unwrap().next().is_some() {
        assert!(Instant::now() < deadline, "the config copy was left behind");
        std::thread::sleep(Duration::from_millis(20));
    }

    // A config file without credential settings is given as it is.
    std::fs::write(&config, "[default]\nregion = us-east-1\n").unwrap();
    let outcome = run();
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert!(
        outcome
            .stdout
            .contains(&format!("config-file={}", config.display())),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains(":assumed-role/"),
        "{}",
        outcome.stdout
    );
    assert!(
        !outcome.stderr.contains("credential settings"),
        "{}",
        outcome.stderr
    );

    // `AWS_CONFIG_FILE=/dev/null` (no config file) is given on as it is; a FIFO is refused, since
    // what it holds cannot be looked at without taking it from the command.
    let mut command = f.s3creds(&[
        "exec",
        BUCKET,
        "--",
        "sh",
        "-c",
        "echo \"$AWS_CONFIG_FILE\"",
    ]);
    command.env("AWS_CONFIG_FILE", "/dev/null");
    let outcome = run_std(&mut command);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(outcome.stdout, "/dev/null\n");
    let fifo = f.home.path().join("config.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let mut command = f.s3creds(&["exec", BUCKET, "--", "true"]);
    command.env("AWS_CONFIG_FILE", &fifo);
    let outcome = run_std(&mut command);
    assert_eq!(outcome.code, 3, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("cannot read the AWS config file"),
        "{}",
        outcome.stderr
    );
}

/// `--statement -` and a statement from a pipe are read once, by `exec`: the endpoint process (whose
/// standard input is its socket, and for which the pipe is drained) is handed what was read, and its
/// refreshes ask for the same session policy as the first fetch.
#[test]
fn inputs_read_from_stdin_or_a_pipe_shape_every_refresh() {
    use std::io::Write;
    let f = Fixture::new(BUCKET);
    let aws = support::repo_root().join(".venv/bin/aws");
    // Credentials due for a refresh after a second: the second AWS CLI run gets refreshed ones.
    let script = format!(
        "{aws} sts get-caller-identity --region us-east-1 --output text >/dev/null && sleep 1.5 && \
         {aws} sts get-caller-identity --region us-east-1 --query Arn --output text",
        aws = aws.display()
    );
    let exec_words = |statement: &str| {
        vec![
            "exec".to_string(),
            BUCKET.to_string(),
            "--no-cache".to_string(),
            "--duration".to_string(),
            "15m".to_string(),
            "--refresh-window".to_string(),
            "899s".to_string(),
            "--statement".to_string(),
            statement.to_string(),
            "--".to_string(),
            "sh".to_string(),
            "-c".to_string(),
            script.clone(),
        ]
    };
    let statement = |sid: &str| {
        format!(
            r#"{{"Sid":"{sid}","Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::other-bucket/*"}}"#
        )
    };
    let check = |sid: &str, outcome: &support::Outcome| {
        assert_eq!(
            outcome.code, 0,
            "{sid}: {} / {}",
            outcome.stderr, outcome.stdout
        );
        assert!(
            outcome.stdout.contains(":assumed-role/"),
            "{}",
            outcome.stdout
        );
        let policies: Vec<String> = f
            .proxy
            .calls()
            .into_iter()
            .filter(|c| c["action"] == "AssumeRole")
            .map(|c| c["params"]["Policy"].as_str().unwrap().to_string())
            .collect();
        assert!(
            policies.len() >= 2,
            "{sid}: no refresh: {:?}",
            f.proxy.actions()
        );
        assert!(policies[0].contains(sid), "{sid}: {}", policies[0]);
        assert!(
            policies.iter().all(|p| *p == policies[0]),
            "{sid}: a refresh asked for another policy: {policies:?}"
        );
    };

    // From standard input.
    let words = exec_words("-");
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let mut child = f
        .s3creds(&words)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(statement("FromStdin").as_bytes())
        .unwrap();
    let outcome = support::Outcome::from(child.wait_with_output().unwrap());
    check("FromStdin", &outcome);

    // From a pipe, as `--statement <(...)` gives it.
    f.proxy.reset();
    let fifo = f.home.path().join("statement.fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let writer = {
        let fifo = fifo.clone();
        let text = statement("FromPipe");
        std::thread::spawn(move || std::fs::write(fifo, text).unwrap())
    };
    let words = exec_words(fifo.to_str().unwrap());
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    let outcome = run_std(&mut f.s3creds(&words));
    writer.join().unwrap();
    check("FromPipe", &outcome);
}

/// A command that cannot start is reported before anything else: no AWS call, no endpoint.
#[test]
fn a_command_that_cannot_start_starts_nothing_else() {
    let f = Fixture::new(BUCKET);
    let not_runnable = f.home.path().join("not-runnable");
    std::fs::write(&not_runnable, "#!/bin/sh\n").unwrap();
    let cases = [
        ("/nonexistent/command", 127),
        ("no-such-command-for-s3creds", 127),
        (not_runnable.to_str().unwrap(), 126),
        (f.home.path().to_str().unwrap(), 126),
    ];
    for (program, code) in cases {
        for mode in [&[][..], &["--env"][..]] {
            let mut words = vec!["exec", BUCKET];
            words.extend(mode);
            words.extend(["--", program]);
            let outcome = run_std(&mut f.s3creds(&words));
            assert_eq!(outcome.code, code, "{program} {mode:?}: {}", outcome.stderr);
            assert_eq!(
                outcome.stderr.trim_end().lines().count(),
                1,
                "{program}: {}",
                outcome.stderr
            );
            assert!(
                outcome.stderr.contains(&format!("cannot run {program:?}")),
                "{}",
                outcome.stderr
            );
        }
    }
    assert_eq!(f.proxy.actions(), Vec::<String>::new());
}
