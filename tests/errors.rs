//! Errors are one clear line (`serve`) or an `error:` line and a `hint:` line (`create`), with the
//! documented exit code and no Debug dumps of SDK internals: no credentials at all, an instance
//! metadata service that refuses, an unreachable endpoint, and options given to the wrong command.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::{assert_private_session_keyring, run_std, Outcome};

/// Text that only appears when an SDK error is printed with `{:?}` or `DisplayErrorContext`.
const DEBUG_LOOKING: &[&str] = &[
    "{",
    "ProviderError",
    "DispatchFailure",
    "CredentialsNotLoaded",
    "ConnectorError",
    "Some(",
    "source:",
];

/// A loopback HTTP endpoint answering every request with `status` and an empty body; counts requests.
struct Answering {
    url: String,
    requests: Arc<AtomicUsize>,
}

impl Answering {
    fn start(status: &'static str) -> Answering {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(AtomicUsize::new(0));
        let counter = requests.clone();
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let counter = counter.clone();
                std::thread::spawn(move || {
                    let mut request = Vec::new();
                    let mut buffer = [0u8; 4096];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buffer) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buffer[..n]),
                        }
                    }
                    counter.fetch_add(1, Ordering::SeqCst);
                    let _ = write!(
                        stream,
                        "HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    );
                });
            }
        });
        Answering { url, requests }
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

/// s3creds with no AWS configuration or credentials at all: an empty HOME, no AWS_* or S3CREDS_*
/// variables, every service sent to `endpoint`.
fn without_credentials(home: &std::path::Path, endpoint: &str) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("s3creds"));
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") || name.starts_with("S3CREDS_") {
            command.env_remove(name);
        }
    }
    command
        .env("HOME", home)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("S3CREDS_CACHE_DIR", home.join("cache"))
        .env("S3CREDS_KEYRING", "keyutils")
        .stdin(Stdio::null());
    command
}

/// The error shape of the command: `serve` exactly one line, others `error:` + `hint:`. Returns
/// the whole text.
#[track_caller]
fn assert_clear_error(outcome: &Outcome, code: i32, serve: bool) -> String {
    assert_eq!(
        outcome.code, code,
        "stdout: {}\nstderr: {}",
        outcome.stdout, outcome.stderr
    );
    assert!(outcome.stdout.is_empty(), "stdout: {}", outcome.stdout);
    let lines: Vec<&str> = outcome.stderr.lines().collect();
    if serve {
        assert_eq!(lines.len(), 1, "serve prints one line: {}", outcome.stderr);
        assert!(
            lines[0].starts_with("s3creds: error: "),
            "{}",
            outcome.stderr
        );
        assert!(lines[0].contains("(hint: "), "{}", outcome.stderr);
    } else {
        assert_eq!(lines.len(), 2, "error + hint: {}", outcome.stderr);
        assert!(lines[0].starts_with("error: "), "{}", outcome.stderr);
        assert!(lines[1].starts_with("hint: "), "{}", outcome.stderr);
    }
    for debug_looking in DEBUG_LOOKING {
        assert!(
            !outcome.stderr.contains(debug_looking),
            "Debug text {debug_looking:?} on stderr: {}",
            outcome.stderr
        );
    }
    outcome.stderr.clone()
}

fn aws_commands() -> [(&'static str, Vec<&'static str>); 3] {
    [
        ("create", vec!["create", "some-bucket"]),
        (
            "create --duration",
            vec!["create", "some-bucket", "--duration", "1h"],
        ),
        ("serve", vec!["serve", "some-bucket"]),
    ]
}

#[test]
fn no_credentials_at_all_is_exit_4_with_one_clear_line_and_a_hint() {
    assert_private_session_keyring();
    let endpoint = Answering::start("500 Internal Server Error");
    for (label, args) in aws_commands() {
        let home = tempfile::tempdir().unwrap();
        let outcome = run_std(
            without_credentials(home.path(), &endpoint.url)
                .args(&args)
                .env("AWS_EC2_METADATA_DISABLED", "true"),
        );
        let text = assert_clear_error(&outcome, 4, label == "serve");
        for expected in [
            "no AWS credentials found",
            "environment variables",
            "profile \"default\"",
            "aws configure",
            "--profile",
            "AWS_PROFILE",
        ] {
            assert!(
                text.contains(expected),
                "{label}: {expected:?} missing: {text}"
            );
        }
        // Metadata was disabled, so it is not claimed to have been tried.
        assert!(!text.contains("instance metadata"), "{label}: {text}");
        // The profile named with --profile is the one reported.
        let outcome = run_std(
            without_credentials(home.path(), &endpoint.url)
                .args(&args)
                .args(["--profile", "nowhere"])
                .env("AWS_EC2_METADATA_DISABLED", "true"),
        );
        assert!(
            outcome.code == 4 || outcome.code == 3,
            "{label}: {}",
            outcome.stderr
        );
        assert!(
            outcome.stderr.contains("nowhere"),
            "{label}: {}",
            outcome.stderr
        );
        assert_clear_error(&outcome, outcome.code, label == "serve");
    }
    assert_eq!(
        endpoint.requests(),
        0,
        "a call was sent without credentials"
    );
    // With no usable keyring either, a failing serve still prints only its error.
    let home = tempfile::tempdir().unwrap();
    let outcome = run_std(
        without_credentials(home.path(), &endpoint.url)
            .args(["serve", "some-bucket"])
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("S3CREDS_KEYRING", "none"),
    );
    let text = assert_clear_error(&outcome, 4, true);
    assert!(!text.contains("cache off"), "{text}");
}

#[test]
fn an_instance_metadata_service_that_refuses_is_a_credentials_problem() {
    assert_private_session_keyring();
    let endpoint = Answering::start("500 Internal Server Error");
    let metadata = Answering::start("403 Forbidden");
    for (label, args) in aws_commands() {
        let home = tempfile::tempdir().unwrap();
        let outcome = run_std(
            without_credentials(home.path(), &endpoint.url)
                .args(&args)
                .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", &metadata.url),
        );
        let text = assert_clear_error(&outcome, 4, label == "serve");
        assert!(text.contains("credentials"), "{label}: {text}");
        assert!(text.contains("aws configure"), "{label}: {text}");
        assert!(!text.contains("check the network"), "{label}: {text}");
    }
    assert!(metadata.requests() > 0, "instance metadata was never asked");
    assert_eq!(
        endpoint.requests(),
        0,
        "a call was sent without credentials"
    );
}

#[cfg(unix)] // the port is held with rustix
#[test]
fn an_unreachable_endpoint_is_exit_5_with_one_clear_line() {
    assert_private_session_keyring();
    // A port nobody listens on, held for the whole test by a socket that is bound but never
    // listens: connections are refused, and no other test's server can be handed the port (as it
    // could be if the port were bound and closed again).
    let held = rustix::net::socket(
        rustix::net::AddressFamily::INET,
        rustix::net::SocketType::STREAM,
        None,
    )
    .unwrap();
    rustix::net::bind(
        &held,
        &std::net::SocketAddrV4::new(std::net::Ipv4Addr::LOCALHOST, 0),
    )
    .unwrap();
    let address =
        std::net::SocketAddrV4::try_from(rustix::net::getsockname(&held).unwrap()).unwrap();
    let closed = format!("http://{address}");
    for (label, args) in aws_commands() {
        let home = tempfile::tempdir().unwrap();
        let outcome = run_std(
            without_credentials(home.path(), &closed)
                .args(&args)
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("AWS_ACCESS_KEY_ID", "AKIAUNREACHABLE00001")
                .env(
                    "AWS_SECRET_ACCESS_KEY",
                    "unreachable/Secret+0123456789abcdefghij",
                )
                .env("AWS_MAX_ATTEMPTS", "1"),
        );
        let text = assert_clear_error(&outcome, 5, label == "serve");
        assert!(
            text.contains(&closed),
            "{label}: the endpoint is not named: {text}"
        );
        assert!(text.contains("check the network"), "{label}: {text}");
        outcome.assert_no_secret_on_stderr(&["unreachable/Secret+0123456789abcdefghij"]);
    }
}

#[test]
fn an_option_of_another_command_is_named_as_such() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["policy", "b", "--duration", "1h"],
            "`--duration` is an option of `create`, `serve`, `profile add` and `exec`, not of `policy`",
        ),
        (
            &["policy", "b", "--duration=1h"],
            "`--duration` is an option of `create`, `serve`, `profile add` and `exec`, not of `policy`",
        ),
        (
            &["policy", "b", "--format", "ini"],
            "`--format` is an option of `create` and `rotate`, not of `policy`",
        ),
        (
            &["policy", "b", "--dry-run"],
            "`--dry-run` is an option of `create`, `delete-user`, `put-objects` and `delete-objects`, not of `policy`",
        ),
        (
            &["policy", "b", "--username", "u"],
            "`--username` is an option of `create`, not of `policy`",
        ),
        (
            &["policy", "b", "--no-cache"],
            "`--no-cache` is an option of `serve`, `profile add` and `exec`, not of `policy`",
        ),
        (
            &["--region", "eu-west-1", "cache", "list", "--read-only"],
            "`--read-only` is an option of",
        ),
        (
            &["cache", "clear", "--duration", "1h"],
            "not of `cache clear`",
        ),
        (
            &["profile", "remove", "p", "--duration", "1h"],
            "not of `profile remove`",
        ),
        (
            &["plugin", "list", "--silent"],
            "`--silent` is an option of `create`, `delete-user`, `rotate`, `get-object`, `get-objects`, `put-object`, `put-objects` and `delete-objects`, not of `plugin list`",
        ),
        (
            &["create", "b", "--refresh-window", "5m"],
            "`--refresh-window` is an option of `serve`, `profile add` and `exec`, not of `create`",
        ),
    ];
    for (args, expected) in cases {
        let outcome = run_std(
            Command::new(assert_cmd::cargo::cargo_bin("s3creds"))
                .args(*args)
                .stdin(Stdio::null()),
        );
        let text = assert_clear_error(&outcome, 2, false);
        assert!(text.contains(expected), "{args:?}: {text}");
        assert!(
            !text.contains("--region'"),
            "{args:?}: a misleading suggestion: {text}"
        );
        assert!(text.contains("--help"), "{args:?}: {text}");
    }
}

#[test]
fn serve_usage_errors_are_one_line_too() {
    for (args, expected) in [
        (
            vec!["serve", "b", "--format", "json"],
            "`--format` is an option of `create` and `rotate`, not of `serve`",
        ),
        (vec!["serve"], "required"),
        (vec!["serve", "b", "--no-such-option"], "--no-such-option"),
        (
            vec!["serve", "b", "--read-only", "--write-only"],
            "cannot be used with",
        ),
    ] {
        let outcome = run_std(
            Command::new(assert_cmd::cargo::cargo_bin("s3creds"))
                .args(&args)
                .stdin(Stdio::null()),
        );
        let text = assert_clear_error(&outcome, 2, true);
        assert!(text.contains(expected), "{args:?}: {text}");
    }
}

fn help_of(args: &[&str]) -> String {
    let output = support::bare_s3creds().args(args).output().unwrap();
    assert!(output.status.success(), "{args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap()
}

/// The text of `--help` from one heading (e.g. "AWS options:") to the next blank line.
fn section<'a>(help: &'a str, heading: &str) -> &'a str {
    let start = help
        .find(heading)
        .unwrap_or_else(|| panic!("no {heading:?} in:\n{help}"));
    let rest = &help[start..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

#[test]
fn help_keeps_aws_options_apart_and_shows_examples() {
    let create = help_of(&["create", "--help"]);
    let own = section(&create, "Options:");
    let aws = section(&create, "AWS options:");
    assert!(
        own.contains("--read-only") && !own.contains("--profile"),
        "{create}"
    );
    assert!(
        aws.contains("--profile") && aws.contains("--endpoint-url"),
        "{create}"
    );
    assert!(!aws.contains("--read-only"), "{create}");
    assert!(
        create.contains("Examples:") && create.contains("s3creds create my-bucket --duration 1h")
    );

    // Where the AWS options do nothing, help does not offer them.
    for args in [
        &["cache", "--help"][..],
        &["cache", "list", "--help"],
        &["plugin", "--help"],
        &["plugin", "install", "--help"],
        &["completions", "--help"],
        &["man", "--help"],
    ] {
        let help = help_of(args);
        for option in ["--profile", "--region", "--endpoint-url", "--read-timeout"] {
            assert!(!help.contains(option), "{args:?} offers {option}:\n{help}");
        }
    }

    // `profile add`: the profile written and the identity used are told apart.
    let add = help_of(&["profile", "add", "--help"]);
    assert!(add.contains("<NEW_PROFILE>"), "{add}");
    assert!(add.contains("is a different one: the identity"), "{add}");
}

#[test]
fn aws_options_are_refused_where_they_do_nothing() {
    for args in [
        &["--profile", "x", "cache", "list"][..],
        &["cache", "--region", "eu-west-1", "list"],
        &["plugin", "--endpoint-url", "http://127.0.0.1:1", "list"],
        &["completions", "bash", "--profile", "x"],
        &["man", "--read-timeout", "5s"],
    ] {
        let output = support::bare_s3creds().args(args).output().unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.contains("does nothing for `s3creds "),
            "{args:?}: {stderr}"
        );
        assert!(output.stdout.is_empty(), "{args:?}");
    }
    // After a subcommand of `cache`, the option is simply not one of its options.
    let output = support::bare_s3creds()
        .args(["cache", "list", "--profile", "x"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{output:?}");
}
