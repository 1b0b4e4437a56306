//! Test harness: a real moto server on loopback (one per test, so tests never share AWS state), an
//! optional counting proxy in front of it, the s3creds binary, and AWS SDK clients to inspect state.
//!
//! A missing moto server or Python proxy is a hard failure with instructions, never a silent skip.

#![allow(dead_code)] // each test binary uses a different part of the harness

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ACCOUNT: &str = "123456789012";

pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn venv_tool(name: &str, env_override: &str) -> PathBuf {
    let path = std::env::var_os(env_override)
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv/bin").join(name));
    assert!(
        path.exists(),
        "{} not found at {}: run `scripts/setup-test-env.sh` (or set {env_override})",
        name,
        path.display()
    );
    path
}

/// A moto server of its own for one test.
pub struct Moto {
    child: Child,
    pub url: String,
    /// The tail of moto's stderr (its request log and any traceback), shown when the test fails.
    log: Arc<Mutex<VecDeque<String>>>,
}

/// How many of moto's last log lines a failing test shows.
const MOTO_LOG_LINES: usize = 200;

impl Moto {
    /// Start moto on a port it binds itself (`-p 0`) and reads back from its "Running on" line.
    /// Choosing a free port first and handing it over would leave a window in which another test's
    /// server could take the port, and this test would then talk to that server.
    pub fn start() -> Moto {
        let binary = venv_tool("moto_server", "S3CREDS_TEST_MOTO_SERVER");
        let mut child = Command::new(&binary)
            .args(["-H", "127.0.0.1", "-p", "0"])
            .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start moto_server");
        let stderr = child.stderr.take().expect("moto stderr");
        let log = Arc::new(Mutex::new(VecDeque::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let keep = log.clone();
        // moto logs every request to stderr: keep reading it for the server's whole life, or a full
        // pipe would stall moto.
        std::thread::spawn(move || {
            let mut port_tx = Some(port_tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(port) = line
                    .split("Running on http://127.0.0.1:")
                    .nth(1)
                    .and_then(|rest| rest.trim().parse::<u16>().ok())
                {
                    if let Some(tx) = port_tx.take() {
                        let _ = tx.send(port);
                    }
                }
                let mut tail = keep.lock().unwrap();
                if tail.len() == MOTO_LOG_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        let port = port_rx.recv_timeout(Duration::from_secs(60));
        let mut moto = Moto {
            child,
            url: String::new(),
            log,
        };
        let Ok(port) = port else {
            panic!(
                "moto_server did not report its port within 60 s; its output:\n{}",
                moto.log_tail()
            );
        };
        moto.url = format!("http://127.0.0.1:{port}");
        assert!(
            moto.wait_ready(Duration::from_secs(30)),
            "moto_server on {} did not answer; its output:\n{}",
            moto.url,
            moto.log_tail()
        );
        moto
    }

    fn wait_ready(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if ureq::get(&format!("{}/moto-api/", self.url)).call().is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    fn log_tail(&self) -> String {
        let tail = self.log.lock().unwrap();
        tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Turn on moto's permission enforcement. Create the identities to use before calling this: the
    /// dummy `testing` keys stop working.
    pub fn enforce_permissions(&self) {
        ureq::post(&format!("{}/moto-api/reset-auth", self.url))
            .set("Content-Type", "text/plain")
            .send_string("0")
            .expect("moto reset-auth");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A failing test shows what the server said: an HTTP 500 is otherwise a bare status.
        if std::thread::panicking() {
            eprintln!(
                "--- moto_server {} (last {MOTO_LOG_LINES} lines) ---\n{}",
                self.url,
                self.log_tail()
            );
        }
    }
}

/// The counting proxy (scripts/counting_proxy.py) in front of a moto server: records every AWS call.
pub struct Proxy {
    child: Child,
    pub url: String,
}

impl Proxy {
    pub fn start(moto: &Moto) -> Proxy {
        let python = venv_tool("python", "S3CREDS_TEST_PYTHON");
        let mut child = Command::new(python)
            .arg(repo_root().join("scripts/counting_proxy.py"))
            .args(["--listen-port", "0", "--upstream", &moto.url])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the counting proxy");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("proxy stdout"))
            .read_line(&mut line)
            .expect("read the proxy's READY line");
        let port = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("unexpected proxy output {line:?}"));
        Proxy {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Every AWS call seen so far: `{"action": ..., "params": {...}}`, in order.
    pub fn calls(&self) -> Vec<serde_json::Value> {
        let body: serde_json::Value = ureq::get(&format!("{}/__proxy/calls", self.url))
            .call()
            .expect("proxy calls")
            .into_json()
            .expect("proxy calls JSON");
        body.as_array().expect("a list of calls").clone()
    }

    /// The operation names of every AWS call, in order.
    pub fn actions(&self) -> Vec<String> {
        self.calls()
            .iter()
            .map(|c| c["action"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// Answer the next `times` calls of `action` with an error instead of forwarding them.
    pub fn fail_next(&self, action: &str, times: u32, status: u16, code: &str) {
        ureq::post(&format!("{}/__proxy/fail", self.url))
            .send_json(serde_json::json!({"action": action, "times": times, "status": status, "code": code}))
            .expect("proxy fault injection");
    }

    /// Hold every call of `action` for `seconds` before forwarding it (0 removes the delay).
    pub fn delay(&self, action: &str, seconds: f64) {
        ureq::post(&format!("{}/__proxy/delay", self.url))
            .send_json(serde_json::json!({"action": action, "seconds": seconds}))
            .expect("proxy delay injection");
    }

    pub fn reset(&self) {
        ureq::post(&format!("{}/__proxy/reset", self.url))
            .call()
            .expect("proxy reset");
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Static keys for an identity.
#[derive(Clone, Debug)]
pub struct Keys {
    pub id: String,
    pub secret: String,
    pub token: Option<String>,
}

impl Keys {
    pub fn dummy() -> Keys {
        Keys {
            id: "testing".into(),
            secret: "testing".into(),
            token: None,
        }
    }

    /// Keys from s3creds' JSON output.
    pub fn from_output(json: &serde_json::Value) -> Keys {
        Keys {
            id: json["AccessKeyId"].as_str().expect("AccessKeyId").into(),
            secret: json["SecretAccessKey"]
                .as_str()
                .expect("SecretAccessKey")
                .into(),
            token: json["SessionToken"].as_str().map(str::to_string),
        }
    }
}

/// The s3creds binary with a clean AWS environment pointing at `endpoint`, authenticated by `keys`.
/// Credentials travel in the environment, never in arguments.
pub fn s3creds(endpoint: &str, keys: &Keys) -> assert_cmd::Command {
    assert_cmd::Command::from(s3creds_std(endpoint, keys))
}

/// [`s3creds`] as a std `Command`, for tests that start it and act on it while it runs.
pub fn s3creds_std(endpoint: &str, keys: &Keys) -> Command {
    let mut command = bare_s3creds_std();
    command
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", &keys.id)
        .env("AWS_SECRET_ACCESS_KEY", &keys.secret);
    if let Some(token) = &keys.token {
        command.env("AWS_SESSION_TOKEN", token);
    }
    command
}

/// The s3creds binary with no AWS configuration at all.
pub fn bare_s3creds() -> assert_cmd::Command {
    assert_cmd::Command::from(bare_s3creds_std())
}

fn bare_s3creds_std() -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("s3creds"));
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
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
        // Fail fast: a retried failure only slows the test down.
        .env("AWS_MAX_ATTEMPTS", "1");
    command
}

/// SDK clients talking to moto as `keys`, to set up and inspect AWS state.
pub struct Aws {
    pub iam: aws_sdk_iam::Client,
    pub sts: aws_sdk_sts::Client,
    pub s3: aws_sdk_s3::Client,
    runtime: tokio::runtime::Runtime,
}

impl Aws {
    pub fn new(endpoint: &str, keys: &Keys) -> Aws {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let credentials = aws_sdk_sts::config::Credentials::new(
            &keys.id,
            &keys.secret,
            keys.token.clone(),
            None,
            "test",
        );
        let config = runtime.block_on(
            aws_config::defaults(aws_config::BehaviorVersion::latest())
                // The SDK's default HTTPS client is not compiled in (see src/aws/https.rs); loopback is HTTP.
                .http_client(aws_smithy_http_client::Builder::new().build_http())
                .region(aws_config::Region::new("us-east-1"))
                .endpoint_url(endpoint)
                .credentials_provider(credentials)
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .load(),
        );
        let s3_config = aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build();
        Aws {
            iam: aws_sdk_iam::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            runtime,
        }
    }

    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    pub fn create_bucket(&self, bucket: &str) {
        self.block_on(self.s3.create_bucket().bucket(bucket).send())
            .expect("create bucket");
    }

    pub fn put_object(&self, bucket: &str, key: &str, body: &str) -> Result<(), String> {
        self.block_on(
            self.s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .body(body.as_bytes().to_vec().into())
                .send(),
        )
        .map(|_| ())
        .map_err(|e| {
            format!(
                "{}",
                aws_smithy_types::error::display::DisplayErrorContext(e)
            )
        })
    }

    pub fn get_object(&self, bucket: &str, key: &str) -> Result<String, String> {
        self.block_on(async {
            let output = self
                .s3
                .get_object()
                .bucket(bucket)
                .key(key)
                .send()
                .await
                .map_err(|e| {
                    format!(
                        "{}",
                        aws_smithy_types::error::display::DisplayErrorContext(e)
                    )
                })?;
            let bytes = output.body.collect().await.map_err(|e| e.to_string())?;
            Ok(String::from_utf8_lossy(&bytes.into_bytes()).into_owned())
        })
    }

    /// Create an IAM user with an inline policy and return its keys.
    pub fn user_with_policy(&self, name: &str, policy: &serde_json::Value) -> Keys {
        self.block_on(async {
            self.iam
                .create_user()
                .user_name(name)
                .send()
                .await
                .expect("create user");
            self.iam
                .put_user_policy()
                .user_name(name)
                .policy_name("test")
                .policy_document(policy.to_string())
                .send()
                .await
                .expect("put user policy");
            let key = self
                .iam
                .create_access_key()
                .user_name(name)
                .send()
                .await
                .expect("create access key");
            let key = key.access_key().expect("key");
            Keys {
                id: key.access_key_id().into(),
                secret: key.secret_access_key().into(),
                token: None,
            }
        })
    }

    pub fn user_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .block_on(self.iam.list_users().send())
            .expect("list users")
            .users()
            .iter()
            .map(|u| u.user_name().to_string())
            .collect();
        names.sort();
        names
    }

    pub fn inline_policy(&self, user: &str, policy: &str) -> serde_json::Value {
        let output = self
            .block_on(
                self.iam
                    .get_user_policy()
                    .user_name(user)
                    .policy_name(policy)
                    .send(),
            )
            .expect("get user policy");
        let text = urlencoding_decode(output.policy_document());
        serde_json::from_str(&text).expect("policy JSON")
    }

    pub fn inline_policy_names(&self, user: &str) -> Vec<String> {
        self.block_on(self.iam.list_user_policies().user_name(user).send())
            .expect("list user policies")
            .policy_names()
            .to_vec()
    }

    pub fn access_key_ids(&self, user: &str) -> Vec<String> {
        self.block_on(self.iam.list_access_keys().user_name(user).send())
            .expect("list access keys")
            .access_key_metadata()
            .iter()
            .filter_map(|k| k.access_key_id().map(str::to_string))
            .collect()
    }

    pub fn bucket_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .block_on(self.s3.list_buckets().send())
            .expect("list buckets")
            .buckets()
            .iter()
            .filter_map(|b| b.name().map(str::to_string))
            .collect();
        names.sort();
        names
    }

    pub fn role_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .block_on(self.iam.list_roles().send())
            .expect("list roles")
            .roles()
            .iter()
            .map(|r| r.role_name().to_string())
            .collect();
        names.sort();
        names
    }

    /// A user's tags, sorted by key.
    pub fn user_tags(&self, user: &str) -> Vec<(String, String)> {
        let output = self
            .block_on(self.iam.list_user_tags().user_name(user).send())
            .expect("list user tags");
        sorted_tags(output.tags())
    }

    /// A role's tags, sorted by key.
    pub fn role_tags(&self, role: &str) -> Vec<(String, String)> {
        let output = self
            .block_on(self.iam.list_role_tags().role_name(role).send())
            .expect("list role tags");
        sorted_tags(output.tags())
    }

    /// Everything `create` could change, to prove a refused request changed nothing.
    pub fn state(&self) -> String {
        let mut state = Vec::new();
        for user in self.user_names() {
            let mut policies = self.inline_policy_names(&user);
            policies.sort();
            let keys = self.access_key_ids(&user).len();
            state.push(format!("user {user} policies {policies:?} keys {keys}"));
        }
        for role in self.role_names() {
            state.push(format!("role {role}"));
        }
        for bucket in self.bucket_names() {
            let policy = self
                .block_on(self.s3.get_bucket_policy().bucket(&bucket).send())
                .ok()
                .and_then(|p| p.policy().map(str::to_string));
            state.push(format!("bucket {bucket} policy {policy:?}"));
        }
        state.join("\n")
    }
}

/// IAM returns policy documents URL-encoded.
fn urlencoding_decode(text: &str) -> String {
    urlencoding::decode(text)
        .expect("UTF-8 policy")
        .into_owned()
}

/// Output of a finished s3creds run.
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(mut command: assert_cmd::Command) -> Outcome {
    Outcome::from(command.output().expect("run s3creds"))
}

impl From<std::process::Output> for Outcome {
    /// A signal (no exit code) becomes -1, which no assertion on an exit code accepts.
    fn from(output: std::process::Output) -> Outcome {
        Outcome {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Outcome {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}\nstderr: {}",
                self.stdout, self.stderr
            )
        })
    }

    #[track_caller]
    pub fn assert_success(&self) -> &Self {
        assert_eq!(
            self.code, 0,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn assert_failure(&self, code: i32, message: &str) -> &Self {
        assert_eq!(
            self.code, code,
            "stdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        assert!(
            self.stderr.contains(message),
            "stderr lacks {message:?}: {}",
            self.stderr
        );
        assert!(
            self.stdout.is_empty(),
            "a failure printed to stdout: {}",
            self.stdout
        );
        self
    }

    /// No secret value may appear on stderr.
    #[track_caller]
    pub fn assert_no_secret_on_stderr(&self, secrets: &[&str]) -> &Self {
        for secret in secrets {
            assert!(!secret.is_empty());
            assert!(
                !self.stderr.contains(secret),
                "a secret leaked to stderr: {}",
                self.stderr
            );
        }
        self
    }
}

/// The kernel keyring tests need a session keyring of their own (scripts/test.sh runs the tests under
/// `keyctl session -`); without one, results would depend on the machine's login setup.
pub fn assert_private_session_keyring() {
    let output = Command::new("keyctl")
        .args(["show", "@s"])
        .output()
        .expect("keyctl (package keyutils) is needed: run scripts/setup-test-env.sh");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && !text.contains("_uid_ses"),
        "run the tests inside `keyctl session -` (scripts/test.sh does): {text}"
    );
}

/// `s3creds serve` as an SDK would start it: credentials of the source identity in the environment, a
/// private cache directory, and the kernel keyring.
pub fn serve_command(endpoint: &str, cache_dir: &std::path::Path) -> Command {
    let mut command = Command::new(assert_cmd::cargo::cargo_bin("s3creds"));
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") || name.starts_with("S3CREDS_") {
            command.env_remove(name);
        }
    }
    command
        .arg("serve")
        .env("AWS_CONFIG_FILE", "/nonexistent/s3creds-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/s3creds-test/credentials",
        )
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_MAX_ATTEMPTS", "1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("S3CREDS_CACHE_DIR", cache_dir)
        .env("S3CREDS_KEYRING", "keyutils")
        .stdin(Stdio::null());
    command
}

/// Run a prepared command and collect its outcome.
pub fn run_std(command: &mut Command) -> Outcome {
    Outcome::from(command.output().expect("run the command"))
}

/// Check a credential_process document against the contract and return it.
#[track_caller]
pub fn process_credentials(outcome: &Outcome) -> serde_json::Value {
    outcome.assert_success();
    assert_eq!(
        outcome.stdout.lines().count(),
        1,
        "one JSON document: {}",
        outcome.stdout
    );
    let value = outcome.json();
    assert_eq!(value["Version"], serde_json::json!(1));
    assert!(value["Version"].is_u64(), "Version must be the integer 1");
    for key in [
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
    ] {
        assert!(
            value[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key} missing: {value}"
        );
    }
    let expiration = value["Expiration"].as_str().unwrap();
    assert!(
        expiration.ends_with('Z') && expiration.contains('T'),
        "{expiration}"
    );
    outcome.assert_no_secret_on_stderr(&[
        value["SecretAccessKey"].as_str().unwrap(),
        value["SessionToken"].as_str().unwrap(),
    ]);
    value
}

fn sorted_tags(tags: &[aws_sdk_iam::types::Tag]) -> Vec<(String, String)> {
    let mut tags: Vec<(String, String)> = tags
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    tags.sort();
    tags
}

/// The Python tool `s3-credentials` 0.17 (installed in .venv by scripts/setup-test-env.sh) pointed at
/// `endpoint` as `keys`, for side-by-side comparisons.
pub fn upstream(endpoint: &str, keys: &Keys, args: &[&str]) -> Outcome {
    let binary = venv_tool("s3-credentials", "S3CREDS_TEST_UPSTREAM");
    let mut command = Command::new(binary);
    for (name, _) in std::env::vars() {
        if name.starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .args(args)
        .args(["--endpoint-url", endpoint])
        .env("AWS_CONFIG_FILE", "/nonexistent/s3creds-test/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/s3creds-test/credentials",
        )
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", &keys.id)
        .env("AWS_SECRET_ACCESS_KEY", &keys.secret)
        .stdin(Stdio::null());
    run_std(&mut command)
}
