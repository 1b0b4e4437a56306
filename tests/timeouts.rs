//! Every AWS call is time-bounded: an endpoint that accepts connections and then never answers (or
//! answers only in part) makes `create`, `create --duration` and `serve` exit 5 with one clear line
//! within the bound, and the bounds are options / S3CREDS_* variables that are range-checked.

mod support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::{assert_private_session_keyring, run_std, Outcome};

/// Source keys the endpoint never checks; distinctive so a leak would be found.
const KEY_ID: &str = "AKIATIMEOUTTEST00001";
const SECRET: &str = "tImeOut/Test+Secret0123456789abcdefghij";

/// How long the process may take beyond the bound: starting it and printing.
const MARGIN: Duration = Duration::from_secs(3);

/// What a stuck endpoint sends after reading a request.
#[derive(Debug, Clone, Copy)]
enum Stuck {
    /// Nothing at all.
    Silent,
    /// A status line and half a header.
    PartialHeaders,
    /// Complete headers announcing a body, then a few bytes of it.
    PartialBody,
}

/// A loopback endpoint that accepts every connection, reads the request, sends `stuck`'s part of an
/// answer and then holds the connection open without another byte. Counts the connections.
struct StuckEndpoint {
    url: String,
    connections: Arc<AtomicUsize>,
}

impl StuckEndpoint {
    fn start(stuck: Stuck) -> StuckEndpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        let url = format!("http://{}", listener.local_addr().unwrap());
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                counter.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || hold(stream, stuck));
            }
        });
        StuckEndpoint { url, connections }
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

fn hold(mut stream: TcpStream, stuck: Stuck) {
    let mut request = Vec::new();
    let mut buffer = [0u8; 4096];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buffer[..n]),
        }
    }
    let partial: &[u8] = match stuck {
        Stuck::Silent => b"",
        Stuck::PartialHeaders => b"HTTP/1.1 200 OK\r\nContent-Ty",
        Stuck::PartialBody => {
            b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 4096\r\n\r\n<Resp"
        }
    };
    let _ = stream.write_all(partial).and_then(|()| stream.flush());
    // Keep the connection open, silent, until the client gives up and closes it.
    while matches!(stream.read(&mut buffer), Ok(n) if n > 0) {}
}

/// The s3creds binary with source keys in the environment and `endpoint` for every service; no
/// timeout variables from the developer's environment, and the SDK's default retries (3 attempts),
/// so the bound is shown to cover retries.
fn s3creds_at(endpoint: &str, cache: &std::path::Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("s3creds"));
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") || name.starts_with("S3CREDS_") {
            command.env_remove(name);
        }
    }
    command
        .env("AWS_CONFIG_FILE", "/nonexistent/s3creds-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/s3creds-test/credentials",
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env("S3CREDS_CACHE_DIR", cache)
        .env("S3CREDS_KEYRING", "keyutils")
        .stdin(Stdio::null());
    command
}

/// Run and time `command`.
fn timed(command: &mut Command) -> (Outcome, Duration) {
    let started = Instant::now();
    let outcome = run_std(command);
    (outcome, started.elapsed())
}

/// Exit 5 within `bound` (+ margin), nothing on stdout, no secret, and the error in the shape of the
/// command: `serve` exactly one line, `create` one `error:` line and one `hint:` line. Returns the
/// error line.
#[track_caller]
fn assert_bounded_failure(
    outcome: &Outcome,
    elapsed: Duration,
    bound: Duration,
    serve: bool,
) -> String {
    assert_eq!(
        outcome.code, 5,
        "after {elapsed:?}\nstdout: {}\nstderr: {}",
        outcome.stdout, outcome.stderr
    );
    assert!(
        elapsed < bound + MARGIN,
        "took {elapsed:?}, bound {bound:?}: {}",
        outcome.stderr
    );
    assert!(outcome.stdout.is_empty(), "stdout: {}", outcome.stdout);
    outcome.assert_no_secret_on_stderr(&[SECRET]);
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
    for debug_looking in [
        "{",
        "DispatchFailure",
        "TimeoutError",
        "ConnectorError",
        "Some(",
    ] {
        assert!(
            !outcome.stderr.contains(debug_looking),
            "Debug text {debug_looking:?} on stderr: {}",
            outcome.stderr
        );
    }
    lines[0].to_string()
}

/// The three commands that call AWS, each with a 2 s operation timeout.
fn commands() -> [(&'static str, Vec<&'static str>); 3] {
    [
        ("create", vec!["create", "stuck-bucket"]),
        (
            "create --duration",
            vec!["create", "stuck-bucket", "--duration", "1h"],
        ),
        ("serve", vec!["serve", "stuck-bucket"]),
    ]
}

#[test]
fn a_silent_or_half_answering_endpoint_ends_every_command_with_exit_5_within_the_bound() {
    assert_private_session_keyring();
    let bound = Duration::from_secs(2);
    for stuck in [Stuck::Silent, Stuck::PartialHeaders, Stuck::PartialBody] {
        let endpoint = StuckEndpoint::start(stuck);
        for (label, args) in commands() {
            let cache = tempfile::tempdir().unwrap();
            let mut command = s3creds_at(&endpoint.url, cache.path());
            command.args(&args).args(["--operation-timeout", "2s"]);
            let (outcome, elapsed) = timed(&mut command);
            let line = assert_bounded_failure(&outcome, elapsed, bound, label == "serve");
            // The operation, the endpoint, the bound and the option to change it.
            assert!(
                ["HeadBucket stuck-bucket: ", "GetUser ", "GetRole "]
                    .iter()
                    .any(|operation| line.contains(operation)),
                "{label} / {stuck:?}: no operation named: {line}"
            );
            for expected in [endpoint.url.as_str(), "within 2s", "--operation-timeout"] {
                assert!(
                    line.contains(expected) || outcome.stderr.contains(expected),
                    "{label} / {stuck:?}: {expected:?} missing: {}",
                    outcome.stderr
                );
            }
        }
        assert!(
            endpoint.connections() > 0,
            "{stuck:?}: no call reached the endpoint"
        );
    }
}

#[test]
fn the_bound_comes_from_s3creds_variables_as_an_sdk_running_serve_would_pass_them() {
    assert_private_session_keyring();
    let endpoint = StuckEndpoint::start(Stuck::Silent);
    let cache = tempfile::tempdir().unwrap();
    let (outcome, elapsed) = timed(
        s3creds_at(&endpoint.url, cache.path())
            .args(["serve", "stuck-bucket"])
            .env("S3CREDS_OPERATION_TIMEOUT", "2"),
    );
    let line = assert_bounded_failure(&outcome, elapsed, Duration::from_secs(2), true);
    assert!(line.contains("within 2s"), "{line}");

    // An option beats the variable.
    let (outcome, elapsed) = timed(
        s3creds_at(&endpoint.url, cache.path())
            .args(["create", "stuck-bucket", "--operation-timeout", "2s"])
            .env("S3CREDS_OPERATION_TIMEOUT", "1h"),
    );
    assert_bounded_failure(&outcome, elapsed, Duration::from_secs(2), false);
}

#[test]
fn a_read_timeout_is_named_as_such_with_its_option() {
    assert_private_session_keyring();
    for (stuck, expected) in [
        (Stuck::Silent, "sent no answer for 1s"),
        (Stuck::PartialHeaders, "sent no answer for 1s"),
        (
            Stuck::PartialBody,
            "stopped sending in the middle of its answer for 1s",
        ),
    ] {
        read_timeout_case(stuck, expected);
    }
}

fn read_timeout_case(stuck: Stuck, expected_text: &str) {
    let endpoint = StuckEndpoint::start(stuck);
    for (label, args) in commands() {
        let cache = tempfile::tempdir().unwrap();
        let (outcome, elapsed) = timed(
            s3creds_at(&endpoint.url, cache.path())
                .args(&args)
                .args(["--read-timeout", "1s", "--operation-timeout", "1m"])
                // One attempt: the read timeout alone must end it.
                .env("AWS_MAX_ATTEMPTS", "1"),
        );
        assert_bounded_failure(&outcome, elapsed, Duration::from_secs(1), label == "serve");
        for expected in [expected_text, "--read-timeout", &endpoint.url] {
            assert!(
                outcome.stderr.contains(expected),
                "{label} / {stuck:?}: {expected:?} missing: {}",
                outcome.stderr
            );
        }
    }
}

#[test]
fn a_credential_process_that_never_answers_is_bounded_too() {
    assert_private_session_keyring();
    let endpoint = StuckEndpoint::start(Stuck::Silent);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    // Its stderr goes to /dev/null so the orphaned sleep does not hold the test's pipe open.
    std::fs::write(
        &config,
        "[profile hung]\ncredential_process = sh -c 'sleep 20' 2>/dev/null\n",
    )
    .unwrap();
    for (label, args) in commands() {
        let cache = tempfile::tempdir().unwrap();
        let (outcome, elapsed) = timed(
            s3creds_at(&endpoint.url, cache.path())
                .args(&args)
                .args(["--profile", "hung", "--operation-timeout", "2s"])
                .env("AWS_CONFIG_FILE", &config)
                .env_remove("AWS_ACCESS_KEY_ID")
                .env_remove("AWS_SECRET_ACCESS_KEY"),
        );
        assert!(
            elapsed < Duration::from_secs(2) + MARGIN,
            "{label} took {elapsed:?}: {}",
            outcome.stderr
        );
        // A credential source that does not answer is a credentials problem.
        assert_eq!(outcome.code, 4, "{label}: {}", outcome.stderr);
        assert!(
            outcome.stderr.contains("credential") && outcome.stderr.contains("--profile"),
            "{label}: {}",
            outcome.stderr
        );
        let lines = outcome.stderr.lines().count();
        assert_eq!(
            lines,
            if label == "serve" { 1 } else { 2 },
            "{}",
            outcome.stderr
        );
    }
    assert_eq!(
        endpoint.connections(),
        0,
        "a call was sent without credentials"
    );
}

#[test]
fn zero_huge_or_malformed_timeouts_are_refused_before_any_call() {
    let endpoint = StuckEndpoint::start(Stuck::Silent);
    let cache = tempfile::tempdir().unwrap();
    // (options, an environment variable to set, what the error must name)
    type Case<'a> = (&'a [&'a str], Option<(&'a str, &'a str)>, &'a str);
    let cases: [Case<'_>; 7] = [
        (&["--operation-timeout", "0"], None, "--operation-timeout"),
        (
            &["--read-timeout", "18446744073709551615"],
            None,
            "--read-timeout",
        ),
        (
            &["--connect-timeout", "99999999999999999999h"],
            None,
            "--connect-timeout",
        ),
        (&["--operation-timeout", "2h"], None, "--operation-timeout"),
        (&["--read-timeout", "soon"], None, "--read-timeout"),
        (
            &[],
            Some(("S3CREDS_CONNECT_TIMEOUT", "0")),
            "S3CREDS_CONNECT_TIMEOUT",
        ),
        (
            &[],
            Some(("S3CREDS_OPERATION_TIMEOUT", "-5s")),
            "S3CREDS_OPERATION_TIMEOUT",
        ),
    ];
    for (label, args) in commands() {
        for (options, variable, named) in cases {
            let mut command = s3creds_at(&endpoint.url, cache.path());
            command.args(&args).args(options);
            if let Some((name, value)) = variable {
                command.env(name, value);
            }
            let outcome = run_std(&mut command);
            outcome.assert_failure(3, named);
            assert!(
                outcome.stderr.contains("from 1s to 1h"),
                "{label} {options:?}: {}",
                outcome.stderr
            );
            let lines = outcome.stderr.lines().count();
            assert_eq!(
                lines,
                if label == "serve" { 1 } else { 2 },
                "{}",
                outcome.stderr
            );
        }
    }
    // `policy` makes no AWS call but refuses a bad global option all the same.
    let mut command = s3creds_at(&endpoint.url, cache.path());
    command.args(["policy", "b", "--read-timeout", "0"]);
    run_std(&mut command).assert_failure(3, "--read-timeout");
    assert_eq!(endpoint.connections(), 0, "a refused request reached AWS");
}

#[test]
fn profile_add_passes_the_timeouts_on_to_the_serve_it_writes() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config");
    let mut command = s3creds_at("http://127.0.0.1:9", dir.path());
    command
        .env("AWS_CONFIG_FILE", &config)
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            dir.path().join("credentials"),
        )
        .env("S3CREDS_READ_TIMEOUT", "7s")
        .args([
            "--profile",
            "src",
            "profile",
            "add",
            "quick",
            "some-bucket",
            "--operation-timeout",
            "20s",
            "--connect-timeout",
            "2s",
        ]);
    run_std(&mut command).assert_success();
    let written = std::fs::read_to_string(&config).unwrap();
    let line = written
        .lines()
        .find(|l| l.starts_with("credential_process"))
        .expect("a credential_process line");
    assert!(line.contains("--operation-timeout 20s"), "{line}");
    assert!(line.contains("--connect-timeout 2s"), "{line}");
    // The environment of `profile add` is not baked into the profile.
    assert!(!line.contains("--read-timeout"), "{line}");
}
