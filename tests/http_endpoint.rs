//! `s3creds serve --http`: the printed environment feeds the four real consumers; the token is
//! required and checked; refusals carry no credentials; bounded requests; loopback only unless asked;
//! the token file; SIGTERM closes the port.

mod endpoint_support;
mod support;

use endpoint_support::{consumers, expected_body, rust_consumer_body, Fixture};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;
use support::run_std;

const BUCKET: &str = "http-bucket";

/// Run by the `aws-config` consumer with the printed variables.
#[test]
#[ignore = "a child process of serve_http_feeds_every_consumer"]
fn rust_consumer() {
    rust_consumer_body();
}

/// A running `serve --http` and the lines it printed.
struct Server {
    child: Child,
    vars: Vec<(String, String)>,
}

impl Server {
    fn start(f: &Fixture, extra: &[&str]) -> Server {
        let mut args = vec!["serve", BUCKET, "--http"];
        args.extend(extra);
        Server::spawn(f.s3creds(&args))
    }

    fn spawn(mut command: Command) -> Server {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut vars = Vec::new();
        for _ in 0..2 {
            let mut line = String::new();
            stdout.read_line(&mut line).unwrap();
            let (name, value) = line
                .trim_end()
                .split_once('=')
                .unwrap_or_else(|| panic!("not NAME=VALUE: {line:?}"));
            vars.push((name.to_string(), value.to_string()));
        }
        Server { child, vars }
    }

    fn var(&self, name: &str) -> &str {
        &self.vars.iter().find(|(n, _)| n == name).unwrap().1
    }

    fn address(&self) -> String {
        let uri = self.var("AWS_CONTAINER_CREDENTIALS_FULL_URI");
        uri.strip_prefix("http://")
            .unwrap()
            .split('/')
            .next()
            .unwrap()
            .to_string()
    }

    fn stop(mut self) -> (Option<i32>, String) {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        (status.code(), stderr)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One raw HTTP/1.1 request; returns the status code, the headers and the body.
fn request(address: &str, head: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = headers
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status: {text:?}"));
    (status, headers.to_lowercase(), body.to_string())
}

fn get(address: &str, path: &str, extra_headers: &str) -> (u16, String, String) {
    request(
        address,
        &format!(
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n{extra_headers}\r\n"
        ),
    )
}

#[test]
fn serve_http_feeds_every_consumer() {
    let f = Fixture::new(BUCKET);
    let server = Server::start(&f, &[]);
    assert!(server
        .var("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .starts_with("http://127.0.0.1:"));
    assert_eq!(server.var("AWS_CONTAINER_AUTHORIZATION_TOKEN").len(), 64);
    for consumer in consumers(BUCKET) {
        let (program, args) = consumer.argv.split_first().unwrap();
        let mut command = Command::new(program);
        command.args(args);
        f.base_env(&mut command);
        command.envs(server.vars.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        command.env("S3CREDS_TEST_BUCKET", BUCKET);
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
    }
    // Every consumer asked; one AssumeRole answered them all (from memory after the first).
    assert_eq!(f.assumed(), 1, "{:?}", f.proxy.actions());
    let address = server.address();
    let (code, stderr) = server.stop();
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        TcpStream::connect(&address).is_err(),
        "the port is still open"
    );
}

#[test]
fn only_the_token_gets_credentials_and_requests_are_bounded() {
    let f = Fixture::new(BUCKET);
    let server = Server::start(&f, &[]);
    let address = server.address();
    let token = server.var("AWS_CONTAINER_AUTHORIZATION_TOKEN").to_string();

    let (status, headers, body) = get(
        &address,
        "/credentials",
        &format!("Authorization: {token}\r\n"),
    );
    assert_eq!(status, 200, "{body}");
    assert!(
        headers.contains("content-type: application/json"),
        "{headers}"
    );
    let credentials: serde_json::Value = serde_json::from_str(&body).unwrap();
    let key_id = credentials["AccessKeyId"].as_str().unwrap().to_string();
    let secret = credentials["SecretAccessKey"].as_str().unwrap().to_string();
    let session_token = credentials["Token"].as_str().unwrap().to_string();
    assert!(key_id.starts_with("ASIA"));
    assert!(credentials["Expiration"].as_str().unwrap().ends_with('Z'));

    let mut wrong = token.clone().into_bytes();
    wrong[63] = if wrong[63] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).unwrap();
    let big = format!("X-Padding: {}\r\n", "a".repeat(9000));
    let refusals: Vec<(String, u16)> = vec![
        ("GET /credentials HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_string(), 401),
        (format!("GET /credentials HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {wrong}\r\n\r\n"), 403),
        (format!("GET /credentials HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\n\r\n"), 403),
        (format!("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {token}\r\n\r\n"), 404),
        (format!("GET /credentials/../x HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {token}\r\n\r\n"), 404),
        (format!("POST /credentials HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {token}\r\nContent-Length: 0\r\n\r\n"), 405),
        (format!("GET /credentials HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {token}\r\nContent-Length: 4\r\n\r\nbody"), 400),
        (format!("GET /credentials HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: {token}\r\n{big}\r\n"), 431),
    ];
    for (head, expected) in refusals {
        let (status, _, body) = request(&address, &head);
        assert_eq!(status, expected, "{}", head.lines().next().unwrap());
        for secret_part in [&key_id, &secret, &session_token, &token] {
            assert!(
                !body.contains(secret_part.as_str()),
                "a refusal leaked: {body}"
            );
        }
    }
    let (code, stderr) = server.stop();
    assert_eq!(code, Some(0));
    for secret_part in [&secret, &session_token, &token] {
        assert!(
            !stderr.contains(secret_part.as_str()),
            "stderr leaked: {stderr}"
        );
    }
}

#[test]
fn the_token_file_is_private_and_replaces_the_token_line() {
    use std::os::unix::fs::PermissionsExt;
    let f = Fixture::new(BUCKET);
    let file = f.home.path().join("token");
    // An existing, readable file is narrowed before the token is written.
    std::fs::write(&file, "old").unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let server = Server::start(&f, &["--token-file", file.to_str().unwrap()]);
    assert_eq!(
        server.var("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
        file.to_str().unwrap()
    );
    assert!(!server
        .vars
        .iter()
        .any(|(n, _)| n == "AWS_CONTAINER_AUTHORIZATION_TOKEN"));
    let token = std::fs::read_to_string(&file).unwrap();
    assert_eq!(token.len(), 64);
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let (status, _, _) = get(
        &server.address(),
        "/credentials",
        &format!("Authorization: {token}\r\n"),
    );
    assert_eq!(status, 200);
    // boto3 reads the token from the file.
    let python = support::repo_root().join(".venv/bin/python");
    let mut boto = Command::new(python);
    f.base_env(&mut boto);
    boto.envs(server.vars.iter().map(|(n, v)| (n.as_str(), v.as_str())));
    boto.arg("-c").arg(
        "import boto3, os\n\
         c = boto3.client('s3', endpoint_url=os.environ['AWS_ENDPOINT_URL'])\n\
         c.put_object(Bucket='http-bucket', Key='file.txt', Body=b'via-file')",
    );
    let outcome = run_std(&mut boto);
    assert_eq!(outcome.code, 0, "{}", outcome.stderr);
    assert_eq!(f.object(BUCKET, "file.txt"), "via-file");
}

/// An IPv4 address of this machine that is not loopback: one the kernel lists as local
/// (`/proc/net/fib_trie`: an address line, then `/32 host LOCAL`), so no route is needed.
fn non_loopback_address() -> std::net::IpAddr {
    let trie = std::fs::read_to_string("/proc/net/fib_trie").unwrap();
    let lines: Vec<&str> = trie.lines().collect();
    lines
        .windows(2)
        .filter(|pair| pair[1].contains("/32 host LOCAL"))
        .filter_map(|pair| pair[0].trim().trim_start_matches("|-- ").parse().ok())
        .find(|ip: &std::net::IpAddr| !ip.is_loopback() && !ip.is_unspecified())
        .expect("this test needs an IPv4 address of the machine that is not loopback")
}

#[test]
fn a_non_loopback_listen_needs_the_flag() {
    let f = Fixture::new(BUCKET);
    let ip = non_loopback_address();
    let refused =
        run_std(&mut f.s3creds(&["serve", BUCKET, "--http", "--listen", &format!("{ip}:0")]));
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("is not a loopback address"),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.stderr.lines().count(), 1, "{}", refused.stderr);
    assert!(refused.stdout.is_empty());
    // Every interface at once is refused even with the flag: it is no address a client can use.
    for everywhere in ["0.0.0.0:0", "[::]:0"] {
        let refused = run_std(&mut f.s3creds(&[
            "serve",
            BUCKET,
            "--http",
            "--listen",
            everywhere,
            "--allow-non-loopback",
        ]));
        assert_eq!(refused.code, 3, "{}", refused.stderr);
        assert!(
            refused.stderr.contains("every interface"),
            "{}",
            refused.stderr
        );
    }
    let malformed = run_std(&mut f.s3creds(&["serve", BUCKET, "--http", "--listen", "localhost"]));
    assert_eq!(malformed.code, 3, "{}", malformed.stderr);
    let without_http = run_std(&mut f.s3creds(&["serve", BUCKET, "--listen", "127.0.0.1:0"]));
    assert_eq!(without_http.code, 2, "{}", without_http.stderr);
    assert_eq!(f.assumed(), 0);

    let server = Server::start(
        &f,
        &["--listen", &format!("{ip}:0"), "--allow-non-loopback"],
    );
    assert!(server
        .var("AWS_CONTAINER_CREDENTIALS_FULL_URI")
        .starts_with(&format!("http://{ip}:")));
    let token = server.var("AWS_CONTAINER_AUTHORIZATION_TOKEN").to_string();
    let (status, _, _) = get(
        &server.address(),
        "/credentials",
        &format!("Authorization: {token}\r\n"),
    );
    assert_eq!(status, 200);
    let (_, stderr) = server.stop();
    assert!(
        stderr.contains(&format!("warning: listening on {ip}")),
        "{stderr}"
    );
    // The warning says which hosts the SDKs accept over plain HTTP.
    assert!(stderr.contains("169.254.170.2"), "{stderr}");
}

/// A port in use is reported before any AWS call.
#[test]
fn a_port_in_use_is_refused_before_any_aws_call() {
    let f = Fixture::new(BUCKET);
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let outcome = run_std(&mut f.s3creds(&["serve", BUCKET, "--http", "--listen", &address]));
    assert_eq!(outcome.code, 3, "{}", outcome.stderr);
    assert!(
        outcome.stderr.contains("cannot listen on"),
        "{}",
        outcome.stderr
    );
    assert!(outcome.stdout.is_empty());
    assert_eq!(f.proxy.actions(), Vec::<String>::new());
}

fn access_key_of(body: &str) -> String {
    let credentials: serde_json::Value = serde_json::from_str(body).unwrap();
    credentials["AccessKeyId"].as_str().unwrap().to_string()
}

/// Past the refresh point, a refresh that fails or hangs does not fail the request while the
/// current credentials still work: the request gets them within about a second (an SDK's container
/// provider gives up after a few), the failure is said once on stderr, and a later request gets
/// new credentials. SIGTERM ends the server at once even while a refresh hangs.
#[test]
fn a_failing_or_slow_refresh_answers_with_the_current_credentials() {
    let f = Fixture::new(BUCKET);
    // With a 15-minute session and a 899-second window, credentials are due for a refresh after a
    // second, and still work for nearly 15 minutes.
    let server = Server::start(&f, &["--duration", "15m", "--refresh-window", "899s"]);
    let address = server.address();
    let token = server.var("AWS_CONTAINER_AUTHORIZATION_TOKEN").to_string();
    let ask = || {
        let (status, _, body) = get(
            &address,
            "/credentials",
            &format!("Authorization: {token}\r\n"),
        );
        assert_eq!(status, 200, "{body}");
        access_key_of(&body)
    };
    let first = ask();
    let head_bucket = f
        .proxy
        .actions()
        .into_iter()
        .find(|action| action.starts_with(&format!("HEAD /{BUCKET}")))
        .expect("a HeadBucket call");
    std::thread::sleep(Duration::from_millis(1200));

    f.proxy.fail_next(&head_bucket, 1, 500, "InternalError");
    assert_eq!(
        ask(),
        first,
        "a failed refresh answers with the current credentials"
    );
    // Right after a failure the endpoint does not try again on every request.
    let calls = f.proxy.actions().len();
    assert_eq!(ask(), first);
    assert_eq!(f.proxy.actions().len(), calls, "{:?}", f.proxy.actions());
    std::thread::sleep(Duration::from_millis(5200));
    let second = ask();
    assert_ne!(second, first, "the next try refreshes");

    std::thread::sleep(Duration::from_millis(1200));
    f.proxy.delay("AssumeRole", 60.0);
    let started = std::time::Instant::now();
    assert_eq!(
        ask(),
        second,
        "a hanging refresh answers with the current credentials"
    );
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );

    let stopping = std::time::Instant::now();
    let (code, stderr) = server.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(3),
        "SIGTERM took {:?} while a refresh hung",
        stopping.elapsed()
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(
        stderr
            .matches("warning: the credentials were not refreshed")
            .count(),
        1,
        "{stderr}"
    );
    assert!(stderr.contains("HeadBucket"), "{stderr}");
}

#[test]
fn fifty_requests_are_answered_from_one_assume_role() {
    let f = Fixture::new(BUCKET);
    let server = Server::start(&f, &[]);
    let address = server.address();
    let token = server.var("AWS_CONTAINER_AUTHORIZATION_TOKEN").to_string();
    let mut bodies = Vec::new();
    for _ in 0..50 {
        let (status, _, body) = get(
            &address,
            "/credentials",
            &format!("Authorization: {token}\r\n"),
        );
        assert_eq!(status, 200);
        bodies.push(body);
    }
    // Speed is for scripts/bench-exec.sh; here: every answer is the same credentials.
    bodies.dedup();
    assert_eq!(bodies.len(), 1, "the credentials changed between requests");
    assert_eq!(f.assumed(), 1);
}

/// The CPU time (user + system, in clock ticks) a process has used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Idle connections beyond the server's file descriptors neither make it spin on a listener that
/// stays ready nor stop it: once they are gone, it answers again.
#[test]
fn idle_connections_beyond_the_file_limit_do_not_spin_the_server() {
    let f = Fixture::new(BUCKET);
    // The same command, under a limit of 48 open files.
    let serve = f.s3creds(&["serve", BUCKET, "--http"]);
    let mut command = Command::new("prlimit");
    command
        .arg("--nofile=48:48")
        .arg("--")
        .arg(serve.get_program())
        .args(serve.get_args());
    for (name, value) in serve.get_envs() {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let server = Server::spawn(command);
    let address = server.address();
    let token = server.var("AWS_CONTAINER_AUTHORIZATION_TOKEN").to_string();
    let idle: Vec<TcpStream> = (0..120)
        .map(|_| TcpStream::connect(&address).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let pid = server.child.id();
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(2));
    let used = cpu_ticks(pid) - before;
    // Spinning on accept would be about 200 ticks (100 a second); waiting is next to none.
    assert!(
        used < 40,
        "the server used {used} ticks in 2 s with idle connections"
    );
    drop(idle);
    let (status, _, _) = get(
        &address,
        "/credentials",
        &format!("Authorization: {token}\r\n"),
    );
    assert_eq!(status, 200);
    let (code, stderr) = server.stop();
    assert_eq!(code, Some(0), "{stderr}");
}
